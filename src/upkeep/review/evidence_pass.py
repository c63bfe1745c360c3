"""Responsible for reading the evidence once for the maintenance review: every ledger line in
order, each run's run.json read once, kept as the runs (`RunEvent`), the ledger entries (for
coverage) and the decisions people put on record, verified as `upkeep verify` verifies it when
the review asks (`site.verification`: only run folders changed since the last check are hashed
again). Every question of the review is answered from what this pass returns, never by reading
the evidence again."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from upkeep import coverage
from upkeep.config import Config
from upkeep.config.maintenance_review import MaintenanceReview
from upkeep.evidence import DecisionEntry, EvidenceStore, LedgerEntry
from upkeep.evidence import ledger as ledger_lines
from upkeep.findings import RunEvent, run_event
from upkeep.records import Decision, Status, parse_time
from upkeep.registry import Registry
from upkeep.review.backlog import BacklogItem, fold_backlog
from upkeep.site.run_records import read_records
from upkeep.site.verification import cache_path, verify_with_cache

EVIDENCE_CHECK = "evidence:verify"  # the reviews' check that what they read verifies
SHOWN_PROBLEMS = 3  # problems named in that check's message; `upkeep verify` names them all


@dataclass(frozen=True)
class EvidenceRead:
    """All the evidence, in ledger order."""

    events: tuple[RunEvent | Decision, ...]  # runs and decisions as they happened
    entries: tuple[LedgerEntry, ...]  # every run's ledger line, for coverage
    decisions: tuple[DecisionEntry, ...]
    # What verifying the evidence found, as `upkeep verify` words it; None: not verified.
    problems: tuple[str, ...] | None = None
    # The runs left out of `events` because their ledger line or folder does not verify: their
    # run.json may say anything (an edited status), so only the ledger's line is kept.
    unverified: tuple[LedgerEntry, ...] = ()
    # Answers already worked out, by question: the site's dashboard and both reviews ask some of
    # the same ones of the same evidence (see `coverage` and `backlog`).
    _answers: dict[tuple[Any, ...], tuple[tuple[Any, ...], Any]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @property
    def runs(self) -> list[RunEvent]:
        return [event for event in self.events if isinstance(event, RunEvent)]

    def coverage(
        self, registry: Registry, config: Config, at: datetime
    ) -> list[coverage.RunbookCoverage]:
        """Every runbook's coverage at `at` (`coverage.account`) with no run going on, worked out
        once per instant. A repeated ledger line changes no slot, so the first line of each run
        (the site's `entries`) and every line give the same answer."""
        return self._answer(
            ("coverage", at),
            (registry, config),
            lambda: coverage.account(registry, self.entries, (), config, at),
        )

    def backlog(
        self, settings: MaintenanceReview, plan_owner: str, at: datetime
    ) -> dict[str, BacklogItem]:
        """Every backlog item after the events up to `at` (`fold_backlog`), worked out once per
        instant; the caller must not change the dict."""
        return self._answer(
            ("backlog", at),
            (settings, plan_owner),
            lambda: fold_backlog((e for e in self.events if e.at <= at), settings, plan_owner),
        )

    def _answer(self, question: tuple[Any, ...], inputs: tuple[Any, ...], work: Any) -> Any:
        """The answer kept for `question` when it was worked out from the very same `inputs`
        (compared by identity: a changed config is a new question), else `work()`, kept."""
        kept = self._answers.get(question)
        if kept is not None and all(a is b for a, b in zip(kept[0], inputs, strict=True)):
            return kept[1]
        answer = work()
        self._answers[question] = (inputs, answer)
        return answer


def read_evidence(store: EvidenceStore, state_dir: Path | None = None) -> EvidenceRead:
    """The evidence of `store`, read once; a run whose run.json cannot be read is left out of
    `events` (`upkeep verify` names it) but its ledger line still counts for coverage.
    With `state_dir`, the evidence is verified too, from the same ledger lines, and the run.json
    files are read through the site build's caches there (`site.verification`,
    `site.run_records`): every problem is kept in `problems`, and a run with one is left out of
    `events` and kept in `unverified` instead."""
    lines = tuple(ledger_lines.read_lines(store.ledger_path))
    problems: tuple[str, ...] | None = None
    doubted: set[str] = set()
    if state_dir is not None:
        report = verify_with_cache(store.root, cache_path(state_dir), lines)
        problems = tuple(problem.message for problem in report.problems)
        doubted = {problem.run_id for problem in report.problems if problem.run_id is not None}
    entries = [line.entry for line in lines if isinstance(line.entry, LedgerEntry)]
    read_record = store.read_record
    if state_dir is not None:
        # A run that verifies has the folder its ledger line names (verify checks `path`).
        verified = {e.path: e.run_json_sha256 for e in entries if e.run_id not in doubted}
        read_record = read_records(store.root, state_dir, verified.items()).get
    events: list[RunEvent | Decision] = []
    decisions: list[DecisionEntry] = []
    unverified: dict[str, LedgerEntry] = {}
    for line in lines:
        entry = line.entry
        if isinstance(entry, DecisionEntry):
            decisions.append(entry)
            events.append(entry.decision)
        elif isinstance(entry, LedgerEntry):
            if entry.run_id in doubted:
                unverified.setdefault(entry.run_id, entry)
                continue
            record = read_record(entry.path)
            if record is not None and record.run_id == entry.run_id:
                events.append(run_event(entry.status, record))
    return EvidenceRead(
        tuple(events), tuple(entries), tuple(decisions), problems, tuple(unverified.values())
    )


def ledger_time(entry: LedgerEntry) -> datetime | None:
    """When the ledger says `entry`'s run started; None when that cannot be read (`upkeep
    verify` names the line)."""
    try:
        return parse_time(entry.started_at)
    except ValueError:
        return None


def verification_check(problems: tuple[str, ...] | None) -> tuple[Status, str]:
    """The status and message of the reviews' `evidence:verify` check: failed, naming the
    first problems and how many there are in all, when the evidence does not verify."""
    if problems is None:
        return Status.WARN, "the evidence was not verified"
    if not problems:
        return Status.OK, "the evidence verifies: every ledger line and run folder matches"
    shown = "; ".join(problems[:SHOWN_PROBLEMS])
    more = len(problems) - SHOWN_PROBLEMS
    return Status.FAIL, (
        f"{len(problems)} problem(s) in the evidence (`upkeep verify` names them all): {shown}"
        + (f"; and {more} more" if more > 0 else "")
        + "; runs whose evidence does not verify are not counted by status"
    )
