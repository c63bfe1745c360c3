"""Responsible for the quarter in one report, from the same one read of the evidence as the
monthly review: the last three monthly maintenance reviews and the figures they recorded (never
recomputed), each runbook's statuses and missed runs month by month (never failed, failed every
month), the backlog's flow over the quarter, disaster-drill RTO/RPO and restore-time trends, the
trend series, and the changes to the plan the quarter suggests (`PlanProposal`)."""

from __future__ import annotations

import calendar
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from statistics import median

from upkeep import coverage
from upkeep.config import Config
from upkeep.findings import RunEvent
from upkeep.records import Decision, Status
from upkeep.registry import Registry
from upkeep.review.backlog import QUARTERLY_RUNBOOK, BacklogItem, fold_backlog
from upkeep.review.evidence_pass import EvidenceRead, ledger_time
from upkeep.review.maintenance_log import LOG_ENTRY, REVIEW_RUNBOOK
from upkeep.review.trends import Series, collect_series
from upkeep.sla.report import NOT_CONFIGURED, attainment_text

MONTHS = 3
# What each monthly review recorded about its month (procedures/maintenance_review.record).
MONTHLY_FIGURES = (
    "review_runs",
    "review_missed_runs",
    "review_backlog_active",
    "review_backlog_overdue",
    "review_findings_cleared",
    "review_time_to_clear_hours_median",
)
DRILL_RTO = "drill_rto_seconds"  # recorded by the disaster drill, read by name
DRILL_RPO = "drill_rpo_seconds"
RESTORE_METRIC = "backup_restore_seconds"  # recorded by the weekly backup verification
SLA_NOT_CONFIGURED = NOT_CONFIGURED
_SECOND = timedelta(seconds=1)
MANUAL_FIXES = 2  # log entries by people about one runbook's runs: make it a runbook step
_FAILED = (Status.FAIL, Status.ERROR)


@dataclass(frozen=True)
class MonthlyReviewRun:
    """One monthly maintenance review the quarter draws on, with the figures it recorded."""

    run_id: str
    at: datetime
    status: Status
    summary: str
    figures: dict[str, float]


@dataclass(frozen=True)
class RunbookQuarter:
    """One runbook's runs by status and its missed scheduled runs, month by month."""

    runbook: str
    statuses: tuple[Counter[Status], ...]  # one per month, oldest first
    missed: tuple[int, ...]
    unverified: tuple[int, ...] = ()  # per month: runs whose evidence does not verify

    @property
    def ran_every_month(self) -> bool:
        return all(sum(month.values()) for month in self.statuses)

    @property
    def never_failed(self) -> bool:
        """Ran every month and never warned, failed or ended in error: are its checks
        meaningful?"""
        bad = (Status.WARN, *_FAILED)
        return self.ran_every_month and not any(m[s] for m in self.statuses for s in bad)

    @property
    def failed_every_month(self) -> bool:
        """Failed (or ended in error) in every month: is the runbook or the system wrong?"""
        return all(any(month[s] for s in _FAILED) for month in self.statuses)

    @property
    def missed_every_month(self) -> bool:
        return all(self.missed)


@dataclass(frozen=True)
class BacklogFlow:
    """How the backlog moved over the quarter."""

    opened: tuple[BacklogItem, ...]
    closed: tuple[BacklogItem, ...]  # active at the start (or opened since), done by the end
    reopened: tuple[BacklogItem, ...]  # came back after done, in the quarter
    overdue: tuple[BacklogItem, ...]  # at the end of the quarter
    active: int  # at the end


@dataclass(frozen=True)
class DrillResult:
    """A disaster drill's recovery times: the worst value of each metric in one run."""

    run_id: str
    runbook: str
    at: datetime
    rto_seconds: float | None
    rpo_seconds: float | None


@dataclass(frozen=True)
class RestoreTrend:
    """Restore times of one backup series, the median of each month (None: no value)."""

    series: Series
    medians: tuple[float | None, ...]

    @property
    def growth(self) -> float | None:
        """The last month's median over the first's, minus one; None without both."""
        first, last = self.medians[0], self.medians[-1]
        if first is None or last is None or first <= 0:
            return None
        return last / first - 1


@dataclass(frozen=True)
class PlanProposal:
    """A change to the plan the quarter suggests, recorded as a finding keyed `plan:...` (it
    becomes a backlog item for the plan's owner)."""

    key: str
    message: str


@dataclass(frozen=True)
class QuarterReview:
    start: datetime
    end: datetime
    months: tuple[tuple[datetime, datetime], ...]  # [start, end) each, the last one closed
    monthly_reviews: tuple[MonthlyReviewRun, ...]  # oldest first, at most three
    runbooks: tuple[RunbookQuarter, ...]
    flow: BacklogFlow
    drills: tuple[DrillResult, ...]
    restore: tuple[RestoreTrend, ...]
    trends: dict[str, list[Series]]
    proposals: tuple[PlanProposal, ...]
    runs: int
    sla: str = SLA_NOT_CONFIGURED
    problems: tuple[str, ...] | None = None  # what verifying the evidence found (EvidenceRead)

    @property
    def unverified(self) -> int:
        return sum(sum(item.unverified) for item in self.runbooks)

    @property
    def never_failed(self) -> list[RunbookQuarter]:
        return [item for item in self.runbooks if item.never_failed]

    @property
    def failed_every_month(self) -> list[RunbookQuarter]:
        return [item for item in self.runbooks if item.failed_every_month]


def month_bounds(at: datetime) -> tuple[tuple[datetime, datetime], ...]:
    """The three calendar months before `at` (aware, in the configured zone), oldest first: on
    the first day of a quarter, the quarter just ended."""
    edges = [_months_back(at, back) for back in range(MONTHS, -1, -1)]
    return tuple(zip(edges, edges[1:], strict=False))


def _months_back(moment: datetime, back: int) -> datetime:
    index = moment.year * 12 + moment.month - 1 - back
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def _month_of(months: Sequence[tuple[datetime, datetime]], at: datetime) -> int | None:
    for index, (start, end) in enumerate(months):
        if start <= at < end or (index == len(months) - 1 and at == end):
            return index
    return None


def review_quarter(
    evidence: EvidenceRead, registry: Registry, config: Config, at: datetime
) -> QuarterReview:
    """The review of the three months before `at` (aware)."""
    at = at.astimezone(config.tz)
    months = month_bounds(at)
    start = months[0][0]
    events = [e for e in evidence.events if e.at <= at]
    runs = [e for e in events if isinstance(e, RunEvent) and e.runbook != QUARTERLY_RUNBOOK]
    quarter = [r for r in runs if start <= r.at <= at]
    runbooks = _runbooks(registry, evidence, quarter, config, months)
    metrics = (*config.maintenance_review.trend_metrics, *MONTHLY_FIGURES)
    # One walk over the quarter's metrics for the plots and the restore times both.
    series = collect_series(quarter, (*metrics, RESTORE_METRIC), start, at + _SECOND)
    restore = _restore_trends(series[RESTORE_METRIC], months)
    return QuarterReview(
        start=start,
        end=at,
        months=months,
        monthly_reviews=tuple(
            _monthly_reviews(quarter, start, config.maintenance_review.window_days, config.tz)
        ),
        runbooks=tuple(runbooks),
        flow=_flow(evidence, events, config, start, at),
        drills=tuple(_drills(quarter)),
        restore=tuple(restore),
        trends={metric: series[metric] for metric in metrics},
        proposals=tuple(_proposals(runbooks, quarter, events, months, restore, config, start, at)),
        runs=len(quarter),
        sla=attainment_text(
            [d.decision for d in evidence.decisions], config.support, start, at + _SECOND
        ),
        problems=evidence.problems,
    )


def _monthly_reviews(
    runs: Iterable[RunEvent], start: datetime, window_days: int, zone: tzinfo = UTC
) -> list[MonthlyReviewRun]:
    """The newest review of each of the newest three months reviewed, among the reviews that
    looked back mostly over the quarter: at least half of each one's window after `start` (the
    review on a quarter's first day reviewed the month before). The month a review reviewed is
    the one holding the middle of its window: three reviews run on one day are one month's
    review, not three. A dry run is not a review, nor one skipped or ended in error: it has no
    figures of its own."""
    earliest = start + timedelta(days=window_days / 2)
    reviews = [
        MonthlyReviewRun(
            run.run_id,
            run.at,
            run.record.status,
            run.record.summary,
            {m.name: m.value for m in run.record.metrics if m.name in MONTHLY_FIGURES},
        )
        for run in runs
        if run.runbook == REVIEW_RUNBOOK
        and not run.record.dry_run
        and run.record.status not in (Status.SKIPPED, Status.ERROR)
        and run.at >= earliest
    ]
    middle = timedelta(days=window_days / 2)
    by_month = {
        f"{(review.at - middle).astimezone(zone):%Y-%m}": review
        for review in sorted(reviews, key=lambda review: review.at)
    }
    return list(by_month.values())[-MONTHS:]


def _runbooks(
    registry: Registry,
    evidence: EvidenceRead,
    runs: list[RunEvent],
    config: Config,
    months: tuple[tuple[datetime, datetime], ...],
) -> list[RunbookQuarter]:
    statuses: dict[str, list[Counter[Status]]] = {}
    for run in runs:
        index = _month_of(months, run.at)
        if index is not None:
            per_month = statuses.setdefault(run.runbook, [Counter() for _ in months])
            per_month[index][run.record.status] += 1
    unverified: dict[str, list[int]] = {}
    for entry in evidence.unverified:
        started = ledger_time(entry)
        index = None if started is None else _month_of(months, started)
        if index is not None:
            unverified.setdefault(entry.runbook, [0] * len(months))[index] += 1
    missed: dict[str, list[int]] = {}
    end = months[-1][1]
    for item in evidence.coverage(registry, config, end):
        counts = missed.setdefault(item.runbook.name, [0] * len(months))
        for slot in item.slots:
            index = _month_of(months, slot.scheduled)
            if index is not None and slot.outcome is coverage.Outcome.MISSED:
                counts[index] += 1
    names = sorted((set(statuses) | set(missed) | set(unverified)) - {QUARTERLY_RUNBOOK})
    return [
        RunbookQuarter(
            name,
            tuple(statuses.get(name, [Counter() for _ in months])),
            tuple(missed.get(name, [0] * len(months))),
            tuple(unverified.get(name, [0] * len(months))),
        )
        for name in names
    ]


def _flow(
    evidence: EvidenceRead,
    events: list[RunEvent | Decision],
    config: Config,
    start: datetime,
    at: datetime,
) -> BacklogFlow:
    """The backlog folded as it stood when the quarter began and at its end (`events` are the
    ones up to `at`), compared."""
    settings, owner = config.maintenance_review, config.quarterly_review.plan_owner
    before = fold_backlog((e for e in events if e.at < start), settings, owner)
    after = evidence.backlog(settings, owner, at)
    today = at.date()
    items = sorted(after.values(), key=lambda item: item.id)
    was_active = {ident for ident, item in before.items() if item.state.active}
    return BacklogFlow(
        opened=tuple(item for item in items if item.id not in before),
        closed=tuple(
            item
            for item in items
            if not item.state.active and (item.id in was_active or item.id not in before)
        ),
        reopened=tuple(
            item
            for item in items
            if item.reopened > (before[item.id].reopened if item.id in before else 0)
        ),
        overdue=tuple(item for item in items if item.overdue(today)),
        active=sum(1 for item in items if item.state.active),
    )


def _drills(runs: Iterable[RunEvent]) -> list[DrillResult]:
    drills = []
    for run in runs:
        values: dict[str, float] = {}
        for metric in run.record.metrics:
            if metric.name in (DRILL_RTO, DRILL_RPO):
                values[metric.name] = max(values.get(metric.name, metric.value), metric.value)
        if values:
            drills.append(
                DrillResult(
                    run.run_id, run.runbook, run.at, values.get(DRILL_RTO), values.get(DRILL_RPO)
                )
            )
    return drills


def _restore_trends(
    restore_series: list[Series], months: tuple[tuple[datetime, datetime], ...]
) -> list[RestoreTrend]:
    trends = []
    for series in restore_series:
        by_month: list[list[float]] = [[] for _ in months]
        for when, value in series.points:
            index = _month_of(months, when)
            if index is not None:
                by_month[index].append(value)
        medians = tuple(median(values) if values else None for values in by_month)
        trends.append(RestoreTrend(series, medians))
    return trends


def _proposals(
    runbooks: list[RunbookQuarter],
    runs: list[RunEvent],
    events: list[RunEvent | Decision],
    months: tuple[tuple[datetime, datetime], ...],
    restore: list[RestoreTrend],
    config: Config,
    start: datetime,
    at: datetime,
) -> list[PlanProposal]:
    """The changes to the plan (thresholds, cadences, procedures) the quarter suggests."""
    proposals = []
    for item in runbooks:
        if item.failed_every_month:
            proposals.append(
                PlanProposal(
                    f"plan:runbook:{item.runbook}",
                    f"{item.runbook} failed in every month of the quarter: decide whether the "
                    "runbook (its checks, limits, steps) or the system is wrong, and change "
                    "the one that is",
                )
            )
        if item.missed_every_month:
            proposals.append(
                PlanProposal(
                    f"plan:cadence:{item.runbook}",
                    f"{item.runbook} missed {sum(item.missed)} scheduled run(s), some in every "
                    "month: change its cadence to one the scheduler keeps, or fix the scheduler",
                )
            )
    failing = {item.runbook for item in runbooks if item.failed_every_month}
    for runbook, check in _warned_every_month(runs, months):
        if runbook not in failing:
            proposals.append(
                PlanProposal(
                    f"plan:threshold:{runbook}:{check}",
                    f"check {check} of {runbook} warned in every month of the quarter: its "
                    "limit in upkeep.yml is too tight, or the trend behind it needs a plan",
                )
            )
    for runbook, count in _manual_fixes(events, start, at).items():
        proposals.append(
            PlanProposal(
                f"plan:procedure:{runbook}",
                f"{count} things were done by hand on runs of {runbook} (maintenance log): "
                "make them a step of the runbook, or a runbook of their own",
            )
        )
    growth_limit = config.quarterly_review.restore_growth_percent / 100
    for trend in restore:
        growth = trend.growth
        if growth is not None and growth >= growth_limit:
            labels = ",".join(f"{k}={v}" for k, v in trend.series.labels)
            proposals.append(
                PlanProposal(
                    f"plan:restore-time:{trend.series.runbook}:{labels}",
                    f"restore time of {trend.series.name} grew {growth:.0%} over the quarter "
                    f"(monthly median {trend.medians[0]:g} s to {trend.medians[-1]:g} s): "
                    "review the RTO target and the backup mode (full backups more often)",
                )
            )
    return proposals


def _warned_every_month(
    runs: list[RunEvent], months: tuple[tuple[datetime, datetime], ...]
) -> list[tuple[str, str]]:
    """Checks that warned, and never failed, in at least one run of every month."""
    seen: dict[tuple[str, str], list[set[Status]]] = {}
    for run in runs:
        index = _month_of(months, run.at)
        if index is None:
            continue
        for check in run.record.checks:
            months_seen = seen.setdefault((run.runbook, check.name), [set() for _ in months])
            months_seen[index].add(check.status)
    return sorted(
        where
        for where, statuses in seen.items()
        if all(Status.WARN in month for month in statuses)
        and not any(Status.FAIL in month for month in statuses)
    )


def _manual_fixes(
    events: list[RunEvent | Decision], start: datetime, at: datetime
) -> dict[str, int]:
    """Per runbook, the maintenance-log entries people wrote about its runs in the quarter,
    where there are at least MANUAL_FIXES."""
    runbook_of = {e.run_id: e.runbook for e in events if isinstance(e, RunEvent)}
    counts: Counter[str] = Counter()
    for event in events:
        if isinstance(event, Decision) and event.type == LOG_ENTRY and start <= event.at <= at:
            runbook = runbook_of.get(event.subject)
            if runbook is not None:
                counts[runbook] += 1
    return {runbook: n for runbook, n in sorted(counts.items()) if n >= MANUAL_FIXES}
