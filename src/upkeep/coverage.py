"""Responsible for accounting for every scheduled run: from each runbook's cadence, evaluated in
the configured time zone, the runs that should have happened since the runbook first appeared in
the evidence, and how each was accounted for (on time, late, skipped, missed, the runbook's first
run, or still within its start grace), with the runs going on now (running, or overrunning their
time limit); and from that each runbook's status, as `upkeep status`, `upkeep watch`, the
dashboard and the coverage calendar show it. The rules are in docs/reference/observability.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from upkeep import schedule
from upkeep.config import Config
from upkeep.config.status import Grace
from upkeep.evidence import LedgerEntry
from upkeep.evidence.in_progress import RunInProgress
from upkeep.records import Status, parse_time
from upkeep.registry import Registry, Runbook

# What "waived" means for coverage, said wherever coverage is counted.
WAIVERS_NOTE = (
    "a waiver (risk-register.yml, checks:) accepts a check's warn or fail, never a missed run: "
    "no scheduled run is counted as waived; a run that ran with a waived check counts as it ran"
)


class Outcome(StrEnum):
    """How one scheduled run was accounted for."""

    ON_TIME = "on_time"  # a run started within the start grace of the scheduled time
    LATE = "late"  # a run started after the start grace, before the next scheduled time
    SKIPPED = "skipped"  # no run, but a skipped run recorded (it could not start)
    MISSED = "missed"  # no run, and the start grace is over
    DUE = "due"  # no run yet, still within the start grace
    # The period the runbook first appeared in holds its first run, started after the start
    # grace: neither on time nor late (nothing was scheduled before it existed), nor alarmed.
    FIRST_RUN = "first_run"

    @property
    def word(self) -> str:
        return self.value.replace("_", " ")


class Health(StrEnum):
    """A runbook's status as `upkeep status` shows it."""

    ON_TIME = "on_time"
    LATE = "late"
    SKIPPED = "skipped"
    MISSED = "missed"
    OVERRUNNING = "overrunning"  # a run going on past its time limit and run grace
    NEVER_RUN = "never_run"  # no evidence of any run yet: nothing is counted
    FIRST_RUN = "first_run"  # its latest counted period is its first, holding its first run

    @property
    def word(self) -> str:
        return self.value.replace("_", " ")

    @property
    def alarming(self) -> bool:
        """Whether `upkeep status` and `upkeep watch` exit non-zero for it."""
        return self in (Health.MISSED, Health.OVERRUNNING)


@dataclass(frozen=True, slots=True)
class Slot:
    """One scheduled run and how it was accounted for."""

    scheduled: datetime  # in the configured time zone
    outcome: Outcome
    run_id: str | None = None  # the run that accounts for it (the first one), if one ran
    started_at: datetime | None = None  # when that run started (UTC)


@dataclass(frozen=True)
class Overrun:
    """A run going on now, and whether it is past its time limit and run grace."""

    run: RunInProgress
    limit: timedelta  # the runbook's timeout
    overrunning: bool


@dataclass(frozen=True)
class RunbookCoverage:
    """One runbook's scheduled runs since it first appeared, and its status at `at`."""

    runbook: Runbook
    grace: Grace
    since: datetime | None  # when its first evidence (any run, skipped too) started, UTC
    slots: tuple[Slot, ...]  # oldest first; the last may be DUE
    going_on: tuple[Overrun, ...]
    health: Health
    counted: Slot | None  # the slot its health is about: the latest past its start grace

    def count(self, outcome: Outcome) -> int:
        return sum(slot.outcome is outcome for slot in self.slots)


@dataclass(frozen=True)
class _Seen:
    """What the ledger says of one runbook: runs that ran, skipped runs, and the first start."""

    ran: list[tuple[datetime, str]]
    skipped: list[datetime]
    first: datetime


def account(
    registry: Registry,
    entries: Iterable[LedgerEntry],
    going_on: Iterable[RunInProgress],
    config: Config,
    at: datetime,
) -> list[RunbookCoverage]:
    """Every runbook's coverage at `at` (an aware time), in the registry's order. Evidence of
    runs that started after `at` is left out: `--at` an earlier time sees what was known then."""
    seen = _seen_by_runbook(entries, at.astimezone(UTC))
    live: dict[str, list[RunInProgress]] = {}
    for run in going_on:
        live.setdefault(run.runbook, []).append(run)
    return [
        _runbook_coverage(runbook, seen.get(runbook.name), live.get(runbook.name, []), config, at)
        for runbook in registry.values()
    ]


def _seen_by_runbook(entries: Iterable[LedgerEntry], until: datetime) -> dict[str, _Seen]:
    """Runs that ran (a dry run does not count, as for the plan) and skipped runs, per runbook,
    that started by `until`, each sorted by when it started: ledger order is publish order."""
    seen: dict[str, _Seen] = {}
    for entry in entries:
        started = parse_time(entry.started_at).astimezone(UTC)
        if started > until:
            continue
        item = seen.get(entry.runbook)
        if item is None:
            item = seen[entry.runbook] = _Seen([], [], started)
        elif started < item.first:
            seen[entry.runbook] = item = _Seen(item.ran, item.skipped, started)
        if entry.status is Status.SKIPPED:
            item.skipped.append(started)
        elif not entry.dry_run:
            item.ran.append((started, entry.run_id))
    for item in seen.values():
        item.ran.sort()
        item.skipped.sort()
    return seen


def _runbook_coverage(
    runbook: Runbook,
    seen: _Seen | None,
    live: list[RunInProgress],
    config: Config,
    at: datetime,
) -> RunbookCoverage:
    """One runbook's coverage at `at`: its slots from the one holding its first evidence."""
    grace = config.status.grace(runbook.name)
    limit = timedelta(seconds=runbook.timeout_s or config.timeout_s)
    now = at.astimezone(UTC)
    going_on = tuple(
        Overrun(run, limit, now > run.started_at + limit + grace.run)
        for run in live
        if run.started_at <= now
    )
    ran = list(seen.ran) if seen else []
    ran += [(o.run.started_at, o.run.run_id) for o in going_on]  # a run going on has started
    ran.sort()
    firsts = [seen.first] if seen else []
    firsts += [o.run.started_at for o in going_on]
    since = min(firsts, default=None)
    slots = tuple(_slots(runbook, ran, seen.skipped if seen else [], since, grace, config, at))
    counted = next((s for s in reversed(slots) if s.outcome is not Outcome.DUE), None)
    return RunbookCoverage(
        runbook, grace, since, slots, going_on, _health(counted, going_on), counted
    )


def _health(counted: Slot | None, going_on: tuple[Overrun, ...]) -> Health:
    if any(o.overrunning for o in going_on):
        return Health.OVERRUNNING
    if counted is None:
        return Health.NEVER_RUN if not going_on else Health.ON_TIME
    return Health(counted.outcome.value)


def _slots(
    runbook: Runbook,
    ran: list[tuple[datetime, str]],
    skipped: list[datetime],
    since: datetime | None,
    grace: Grace,
    config: Config,
    at: datetime,
) -> Iterator[Slot]:
    """Each scheduled time from the one whose period holds `since` up to `at`, accounted for.
    A run in the first period that started after the start grace is its first run, not late:
    the runbook appeared then."""
    if since is None:
        return
    tz = config.tz
    local_at = at.astimezone(tz)
    first = schedule.previous_time(runbook.cadence, since.astimezone(tz))
    times = schedule.times_from(runbook.cadence, first, local_at)
    scheduled = next(times, None)
    now = at.astimezone(UTC)
    stop = now if scheduled is None else scheduled.astimezone(UTC)
    ran_i = skipped_i = 0
    while scheduled is not None:
        following = next(times, None)
        end = following if following is not None else schedule.next_time(runbook.cadence, local_at)
        start, stop = stop, end.astimezone(UTC)  # a period ends where the next one starts
        while ran_i < len(ran) and ran[ran_i][0] < start:
            ran_i += 1
        while skipped_i < len(skipped) and skipped[skipped_i] < start:
            skipped_i += 1
        if ran_i < len(ran) and ran[ran_i][0] < stop:
            began, run_id = ran[ran_i]
            if began <= start + grace.start:
                outcome = Outcome.ON_TIME
            else:
                outcome = Outcome.FIRST_RUN if scheduled == first else Outcome.LATE
            yield Slot(scheduled, outcome, run_id, began)
        elif skipped_i < len(skipped) and skipped[skipped_i] < stop:
            yield Slot(scheduled, Outcome.SKIPPED)
        elif now < start + grace.start:
            yield Slot(scheduled, Outcome.DUE)
        else:
            yield Slot(scheduled, Outcome.MISSED)
        scheduled = following


def exit_code(coverage: Iterable[RunbookCoverage]) -> int:
    """`upkeep status` and `upkeep watch`: 0 when nothing is missed or overrunning, else
    EXIT_ALARM."""
    return EXIT_ALARM if any(item.health.alarming for item in coverage) else 0


EXIT_ALARM = 1  # some runbook missed a run or is overrunning: as a failed check, it needs a person
