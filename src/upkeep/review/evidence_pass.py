"""Responsible for reading the evidence once for the maintenance review: every ledger line in
order, each run's run.json read once, kept as the runs (`RunEvent`), the ledger entries (for
coverage) and the decisions people put on record. Every question of the review is answered from
what this pass returns, never by reading the evidence again."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from upkeep import coverage
from upkeep.config import Config
from upkeep.config.maintenance_review import MaintenanceReview
from upkeep.evidence import DecisionEntry, EvidenceStore, LedgerEntry
from upkeep.evidence import ledger as ledger_lines
from upkeep.findings import RunEvent, run_event
from upkeep.records import Decision
from upkeep.registry import Registry
from upkeep.review.backlog import BacklogItem, fold_backlog


@dataclass(frozen=True)
class EvidenceRead:
    """All the evidence, in ledger order."""

    events: tuple[RunEvent | Decision, ...]  # runs and decisions as they happened
    entries: tuple[LedgerEntry, ...]  # every run's ledger line, for coverage
    decisions: tuple[DecisionEntry, ...]
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


def read_evidence(store: EvidenceStore) -> EvidenceRead:
    """The evidence of `store`, read once; a run whose run.json cannot be read is left out of
    `events` (`upkeep verify` names it) but its ledger line still counts for coverage."""
    events: list[RunEvent | Decision] = []
    entries: list[LedgerEntry] = []
    decisions: list[DecisionEntry] = []
    for line in ledger_lines.read_lines(store.ledger_path):
        entry = line.entry
        if isinstance(entry, DecisionEntry):
            decisions.append(entry)
            events.append(entry.decision)
        elif isinstance(entry, LedgerEntry):
            entries.append(entry)
            record = store.read_record(entry.path)
            if record is not None and record.run_id == entry.run_id:
                events.append(run_event(entry.status, record))
    return EvidenceRead(tuple(events), tuple(entries), tuple(decisions))
