"""Responsible for the month in one report: from one read of the evidence, every runbook's runs
and statuses in the window, each scheduled run accounted for (`upkeep.coverage`), checks that
stayed failed or warned, time to clear per finding (`upkeep.findings`), the improvement backlog,
the maintenance log, suggestions for the docs and the trend series."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from upkeep import coverage
from upkeep.config import Config
from upkeep.errors import UpkeepError
from upkeep.findings import FindingState, RunEvent, follow
from upkeep.records import Status
from upkeep.registry import Registry
from upkeep.review.backlog import BacklogItem, ordered
from upkeep.review.docs_history import page_changed
from upkeep.review.docs_suggestions import DocsSuggestion, suggest
from upkeep.review.evidence_pass import EvidenceRead, ledger_time
from upkeep.review.maintenance_log import LogEntry, log_entries
from upkeep.review.streaks import CheckStreak, check_streaks
from upkeep.review.trends import Series, collect_series
from upkeep.sla.report import NOT_CONFIGURED, attainment_text

SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class RunbookMonth:
    """One runbook in the window: its runs by status, and its scheduled runs by outcome."""

    runbook: str
    statuses: Counter[Status]
    outcomes: Counter[coverage.Outcome]
    missed: tuple[datetime, ...]  # scheduled times nobody ran
    unverified: int = 0  # runs whose evidence does not verify: counted under no status


@dataclass(frozen=True)
class MonthReview:
    start: datetime
    end: datetime
    runbooks: tuple[RunbookMonth, ...]
    streaks: tuple[CheckStreak, ...]  # checks not passing at some time in the window
    cleared: tuple[FindingState, ...]  # findings closed in the window (time to clear)
    still_open: tuple[FindingState, ...]
    backlog: tuple[BacklogItem, ...]
    log: tuple[LogEntry, ...]  # entries in the window
    suggestions: tuple[DocsSuggestion, ...]
    trends: dict[str, list[Series]]
    sla: str = NOT_CONFIGURED  # SLA attainment per severity of incidents resolved in the window
    problems: tuple[str, ...] | None = None  # what verifying the evidence found (EvidenceRead)

    @property
    def runs(self) -> int:
        return sum(sum(item.statuses.values()) for item in self.runbooks)

    @property
    def missed(self) -> int:
        return sum(len(item.missed) for item in self.runbooks)

    @property
    def unverified(self) -> int:
        return sum(item.unverified for item in self.runbooks)

    def overdue(self) -> list[BacklogItem]:
        return [item for item in self.backlog if item.overdue(self.end.date())]


def review_month(
    evidence: EvidenceRead, registry: Registry, config: Config, at: datetime
) -> MonthReview:
    """The review of the `config.maintenance_review.window_days` before `at` (aware)."""
    settings = config.maintenance_review
    start = at - timedelta(days=settings.window_days)
    events = [e for e in evidence.events if e.at <= at]
    runs = [e for e in events if isinstance(e, RunEvent)]
    in_window = [r for r in runs if start <= r.at <= at]
    # A stretch counts when the check was not passing at some time in the window.
    streaks = [s for s in check_streaks(runs) if s.cleared_at is None or s.cleared_at >= start]
    states = follow(events)
    references = {name: runbook.references for name, runbook in registry.items()}
    in_window_streaks = [s for s in streaks if s.last >= start]
    return MonthReview(
        start=start,
        end=at,
        runbooks=tuple(_runbooks(registry, evidence, in_window, config, start, at)),
        streaks=tuple(streaks),
        cleared=tuple(s for s in states if s.closed is not None and start <= s.closed.at <= at),
        still_open=tuple(s for s in states if s.open),
        backlog=tuple(
            ordered(
                evidence.backlog(settings, config.quarterly_review.plan_owner, at).values(),
                at.date(),
            )
        ),
        log=tuple(e for e in log_entries(events) if start <= e.at <= at),
        suggestions=tuple(
            suggest(in_window_streaks, references, settings.recurring_runs, _page_changed(config))
        ),
        trends=collect_series(in_window, settings.trend_metrics, start, at + timedelta(seconds=1)),
        sla=attainment_text(
            [d.decision for d in evidence.decisions], config.support, start, at + SECOND
        ),
        problems=evidence.problems,
    )


def _runbooks(
    registry: Registry,
    evidence: EvidenceRead,
    runs: list[RunEvent],
    config: Config,
    start: datetime,
    at: datetime,
) -> list[RunbookMonth]:
    statuses: dict[str, Counter[Status]] = {}
    for run in runs:
        statuses.setdefault(run.runbook, Counter())[run.record.status] += 1
    unverified = Counter(
        entry.runbook
        for entry in evidence.unverified
        if (started := ledger_time(entry)) is not None and start <= started <= at
    )
    months = []
    for item in evidence.coverage(registry, config, at):
        slots = [s for s in item.slots if s.scheduled >= start]
        months.append(
            RunbookMonth(
                item.runbook.name,
                statuses.get(item.runbook.name, Counter()),
                Counter(s.outcome for s in slots),
                tuple(s.scheduled for s in slots if s.outcome is coverage.Outcome.MISSED),
                unverified[item.runbook.name],
            )
        )
    return months


def _page_changed(config: Config) -> Callable[[str], datetime | None]:
    """When a reference page of this config's site last changed (git), by page name."""
    from upkeep.site.build import docs_folders

    try:
        folders = docs_folders(config)
    except UpkeepError:
        return lambda page: None
    return lambda page: page_changed(folders, page)
