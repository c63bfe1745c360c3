"""Responsible for reading what the site shows: runbooks (and the ones that cannot run, with their
problem), every run in the evidence, whether each run verifies, each runbook's schedule state, and
the plan's task list.

Everything is read once per build into frozen objects; the page builders only format them. A run
whose run.json was tampered with is still listed (from its ledger line): the build never hides it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

import yaml

from upkeep import evidence, plan
from upkeep.config import Config
from upkeep.coverage import RunbookCoverage, account
from upkeep.errors import ConfigError
from upkeep.evidence import ledger
from upkeep.evidence.anchor import Anchor, newest_anchor
from upkeep.findings import FindingState, RunEvent, follow, run_event
from upkeep.gc_pause import gc_paused
from upkeep.records import Decision, RunRecord, Status, parse_time
from upkeep.records.results import shared_text
from upkeep.registry import Registry
from upkeep.review.evidence_pass import EvidenceRead
from upkeep.review.month import MonthReview, review_month
from upkeep.review.quarter import QuarterReview, review_quarter
from upkeep.runbook_metadata import NAME
from upkeep.site.run_records import read_records
from upkeep.site.verification import cache_path, verify_with_cache

_HEX64 = re.compile(r"[0-9a-f]{64}")
_NO_PATHS: frozenset[str] = frozenset()  # a run that verifies (almost all): one empty set
FREQUENCIES = ("daily", "weekly", "monthly", "quarterly", "yearly")


@dataclass(frozen=True, slots=True)
class RunView:
    """One run as the site shows it: its ledger facts, its run record, and what verify said."""

    run_id: str
    runbook: str
    status: Status  # the ledger's word: a run.json edited to say "ok" changes nothing
    started_at: datetime  # UTC
    relpath: str  # runs/YYYY/MM/<run_id>, relative to the evidence root and to the site
    record: RunRecord | None  # run.json, None when it cannot be read
    problems: tuple[str, ...]  # verify's messages about this run; empty when it verifies
    problem_paths: frozenset[str] = frozenset()  # evidence paths those messages are about

    @property
    def verified(self) -> bool:
        return not self.problems

    def month(self, zone: tzinfo) -> str:
        """`YYYY/MM`, the month page this run is listed on: the month it started in `zone`
        (upkeep.yml's), as every time on the site is shown (its folder's month is UTC's)."""
        return f"{self.started_at.astimezone(zone):%Y/%m}"

    @property
    def title(self) -> str:
        title = self.record.runbook.title if self.record is not None else ""
        return title or self.runbook

    @property
    def sha12(self) -> str | None:
        """The first 12 hex digits of the runbook version it ran, when recorded."""
        sha = self.record.runbook.sha256 if self.record is not None else ""
        # Both become a page path (runbooks/<name>/<sha12>.md): only well-formed ones do.
        if not (_HEX64.fullmatch(sha) and NAME.fullmatch(self.runbook)):
            return None
        return sha[:12]


@dataclass(frozen=True)
class PlanTask:
    """One row of the plan's checklist (docs/plan-tasks.yml)."""

    frequency: str
    category: str
    description: str
    references: tuple[str, ...]


@dataclass(frozen=True)
class SiteModel:
    """Everything the generated pages show, read once per build."""

    config: Config
    registry: Registry
    runs: tuple[RunView, ...]  # oldest first
    states: dict[str, plan.RunbookState]
    stray_problems: tuple[str, ...]  # verify problems tied to no run (a folder added by hand)
    built_at: datetime
    by_runbook: dict[str, tuple[RunView, ...]] = field(default_factory=dict)  # newest first
    by_month: dict[str, tuple[RunView, ...]] = field(default_factory=dict)  # oldest first
    findings: tuple[FindingState, ...] = ()  # open ones first (upkeep.findings)
    decisions: tuple[evidence.DecisionEntry, ...] = ()  # in ledger order
    anchor: Anchor | None = None  # the evidence branch's newest commit (`upkeep evidence commit`)
    coverage: dict[str, RunbookCoverage] = field(default_factory=dict)  # by runbook
    review: MonthReview | None = None  # the maintenance review of the last month (upkeep.review)
    quarter: QuarterReview | None = None  # the quarterly review of the last three months

    @property
    def unverified(self) -> tuple[RunView, ...]:
        return tuple(run for run in self.runs if not run.verified)


def load_model(config: Config, registry: Registry, at: datetime | None = None) -> SiteModel:
    """Read the evidence under `config.evidence_dir`, verify it (`site.verification`), and index
    it for the pages.
    An invalid runbook stops nothing: `registry.invalid` is shown with each one's problem."""
    # Years of runs are hundreds of thousands of objects made in one go, none of them in a
    # cycle (a sixth of this on 5 years of history went to the collector's scans).
    with gc_paused():
        return _load_model(config, registry, at)


def _load_model(config: Config, registry: Registry, at: datetime | None) -> SiteModel:
    at = at or datetime.now(config.tz)
    store = evidence.EvidenceStore(config.evidence_dir)
    # The ledger is read once: verify, the runs, the decisions and the findings share its lines.
    lines = tuple(ledger.read_lines(store.ledger_path))
    # As `store.entries(strict=False)` and `store.decisions(strict=False)` read them.
    entries = [line.entry for line in lines if isinstance(line.entry, evidence.LedgerEntry)]
    decisions = tuple(
        line.entry for line in lines if isinstance(line.entry, evidence.DecisionEntry)
    )
    # The same report as `upkeep verify`'s; only run folders changed since the last build are
    # hashed again.
    report = verify_with_cache(config.evidence_dir, cache_path(config.state_dir), lines)
    # From here on only the entries are needed, in ledger order: each line's bytes and parsed
    # JSON (verify's) are let go before the run records are read (years of lines: 14 MiB).
    in_order = tuple(line.entry for line in lines if line.entry is not None)
    del lines
    # Only the run.json files changed since the last build are opened.
    records = read_records(config.evidence_dir, config.state_dir, _run_jsons(entries))
    runs, strays = run_views(store, entries, report, records)
    anchor = newest_anchor(config.evidence_dir, config.evidence_git)
    rewritten = anchor_rewritten(anchor, in_order)
    if rewritten is not None:
        strays = (*strays, rewritten)
    # Read once, shared by the findings and the maintenance and quarterly reviews.
    events = tuple(_events(in_order, {view.run_id: view for view in runs}))
    read = EvidenceRead(events, tuple(_unique(entries)), decisions)
    return SiteModel(
        config=config,
        registry=registry,
        runs=runs,
        states={s.runbook.name: s for s in plan.states(registry, entries, config, at)},
        stray_problems=strays,
        built_at=at,
        by_runbook=_group(runs, lambda run: run.runbook, newest_first=True),
        by_month=_group(runs, lambda run: run.month(config.tz), newest_first=False),
        findings=tuple(follow(events)),
        decisions=decisions,
        anchor=anchor,
        coverage={item.runbook.name: item for item in _coverage(read, registry, config, at)},
        review=review_month(read, registry, config, at),
        quarter=review_quarter(read, registry, config, at),
    )


def anchor_rewritten(anchor: Anchor | None, in_order: Iterable[Any]) -> str | None:
    """What is wrong when the ledger line the newest anchor holds is no longer in the ledger as
    it was anchored (a rewritten, re-chained ledger verifies on its own), else None. Only the
    anchored line's hash is compared here; `upkeep verify --anchor` checks every file."""
    if anchor is None:
        return None
    line = next((entry for entry in in_order if entry.seq == anchor.seq), None)
    where = f"git commit {anchor.commit[:12]}"
    if line is None:
        return (
            f"the ledger no longer holds line {anchor.seq}, which {where} anchored: lines were "
            "removed after they were anchored (upkeep verify --anchor names them)"
        )
    if line.hash != anchor.head:
        return (
            f"ledger line {anchor.seq} is not the line {where} anchored: the ledger was "
            "rewritten after it was anchored (upkeep verify --anchor names what changed)"
        )
    return None


def run_views(
    store: evidence.EvidenceStore,
    entries: list[evidence.LedgerEntry],
    report: evidence.VerifyReport,
    records: dict[str, RunRecord | None] | None = None,
) -> tuple[tuple[RunView, ...], tuple[str, ...]]:
    """Every run of the ledger with verify's problems about it, oldest first; and the problems
    tied to no run the ledger holds (a folder added by hand, a line removed): shown, not dropped.
    Each run's record comes from `records` (by run folder, `site.run_records`) when given, else
    from its run.json."""
    problems: dict[str, list[evidence.Mismatch]] = defaultdict(list)
    strays = []
    for problem in report.problems:
        if problem.run_id is None:
            strays.append(problem.message)
        else:
            problems[problem.run_id].append(problem)
    views = []
    for entry in _unique(entries):
        view = _run_view(store, entry, problems.get(entry.run_id, []), records)
        if view is not None:
            problems.pop(entry.run_id, None)
            views.append(view)
    runs = tuple(sorted(views, key=lambda run: (run.started_at, run.run_id)))
    strays += [p.message for items in problems.values() for p in items]
    return runs, tuple(strays)


def _coverage(
    read: EvidenceRead, registry: Registry, config: Config, at: datetime
) -> list[RunbookCoverage]:
    """Every runbook's scheduled runs accounted for (`upkeep status`), runs going on included.
    With none going on (almost always) it is the reviews' answer, worked out once."""
    from upkeep.evidence.in_progress import runs_in_progress

    going_on = runs_in_progress(config.evidence_dir)
    if not going_on:
        return read.coverage(registry, config, at)
    return account(registry, read.entries, going_on, config, at)


def _events(
    in_order: tuple[evidence.LedgerEntry | evidence.DecisionEntry, ...], views: dict[str, RunView]
) -> Iterator[RunEvent | Decision]:
    """The runs (as read for the site) and the decisions, in ledger order, for the findings."""
    seen: set[str] = set()
    for entry in in_order:
        if isinstance(entry, evidence.DecisionEntry):
            yield entry.decision
        elif isinstance(entry, evidence.LedgerEntry) and entry.run_id not in seen:
            seen.add(entry.run_id)
            view = views.get(entry.run_id)
            if view is not None and view.record is not None:
                yield run_event(view.status, view.record)


def _unique(entries: list[evidence.LedgerEntry]) -> list[evidence.LedgerEntry]:
    """The first ledger line of each run id (verify reports any repeat)."""
    seen: dict[str, evidence.LedgerEntry] = {}
    for entry in entries:
        seen.setdefault(entry.run_id, entry)
    return list(seen.values())


def _run_jsons(entries: list[evidence.LedgerEntry]) -> Iterator[tuple[str, str]]:
    """The run folder and the ledger's run.json sha256 of each run the site shows."""
    for entry in _unique(entries):
        relpath = _relpath(entry)
        if relpath is not None:
            yield relpath, entry.run_json_sha256


def _relpath(entry: evidence.LedgerEntry) -> str | None:
    """The run folder of a ledger line; None when the line cannot name one (verify says why).

    It comes from the run id and start time, never from the line's `path`: a line edited to
    say `../..` must not make the build write outside the site."""
    try:
        return evidence.run_relpath(entry.run_id, entry.started_at)
    except ValueError:
        return None


def _run_view(
    store: evidence.EvidenceStore,
    entry: evidence.LedgerEntry,
    problems: list[evidence.Mismatch],
    records: dict[str, RunRecord | None] | None,
) -> RunView | None:
    """The run of a ledger line; None when the line cannot name a run folder."""
    relpath = _relpath(entry)
    if relpath is None:
        return None
    record = store.read_record(relpath) if records is None else records.get(relpath)
    run_id, started = entry.run_id, parse_time(entry.started_at).astimezone(UTC)
    # The ledger's facts, held once where the record says the same (years of runs).
    if record is not None:
        run_id = record.run_id if record.run_id == run_id else run_id
        same = record.started_at == started and record.started_at.tzinfo is UTC
        started = record.started_at if same else started
    return RunView(
        run_id=run_id,
        runbook=shared_text(entry.runbook),
        status=entry.status,
        started_at=started,
        relpath=relpath,
        record=record,
        problems=tuple(p.message for p in problems),
        problem_paths=frozenset(p.path for p in problems) if problems else _NO_PATHS,
    )


def _group(
    runs: tuple[RunView, ...], key: Any, newest_first: bool
) -> dict[str, tuple[RunView, ...]]:
    groups: dict[str, list[RunView]] = defaultdict(list)
    for run in runs:
        groups[key(run)].append(run)
    return {
        name: tuple(reversed(items)) if newest_first else tuple(items)
        for name, items in sorted(groups.items())
    }


def load_plan_tasks(path: Path) -> tuple[PlanTask, ...]:
    """The plan's tasks from `path` (docs/plan-tasks.yml); ConfigError naming what is wrong."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: not found (the plan's checklist reads its tasks from it)"
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    tasks = data.get("tasks") if isinstance(data, dict) else None
    if not isinstance(tasks, list):
        raise ConfigError(f"{path}: expected a mapping with a 'tasks' list")
    return tuple(_task(path, index, item) for index, item in enumerate(tasks))


def _task(path: Path, index: int, item: Any) -> PlanTask:
    where = f"{path}: tasks[{index}]"
    if not isinstance(item, dict):
        raise ConfigError(f"{where}: expected a mapping, got {item!r}")
    frequency = item.get("frequency")
    if frequency not in FREQUENCIES:
        raise ConfigError(
            f"{where}.frequency: expected one of {', '.join(FREQUENCIES)}, got {frequency!r}"
        )
    for key in ("category", "description"):
        if not isinstance(item.get(key), str) or not item[key].strip():
            raise ConfigError(f"{where}.{key}: expected a non-empty string, got {item.get(key)!r}")
    references = item.get("references", [])
    if not isinstance(references, list) or not all(isinstance(r, str) for r in references):
        raise ConfigError(f"{where}.references: expected a list of page names")
    return PlanTask(frequency, item["category"], item["description"], tuple(references))
