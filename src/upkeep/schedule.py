"""Responsible for cadences: when a runbook was last scheduled, when it is next, and every
scheduled time in between (what `upkeep.coverage` accounts for).

A cadence is `daily`, `weekly`, `monthly`, `quarterly` (the first day of January, April, July
and October), `yearly`, or a five-field cron expression, evaluated in
the configured time zone. Its most recent scheduled time opens the current period; which runs of
that period count (and so whether the runbook is due) is `upkeep.plan`'s to say. However many
periods were missed, catching up is one run.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from itertools import takewhile

from cronsim import CronSim, CronSimError

NAMED_CADENCES = {
    "daily": "0 0 * * *",
    "weekly": "0 0 * * 1",
    "monthly": "0 0 1 * *",
    "quarterly": "0 0 1 1,4,7,10 *",
    "yearly": "0 0 1 1 *",
}


def cron_for(cadence: str) -> str:
    """The cron expression for a cadence; ValueError naming what was expected."""
    expression = NAMED_CADENCES.get(cadence, cadence)
    if len(expression.split()) != 5:
        raise ValueError(
            f"expected daily, weekly, monthly, quarterly, yearly or a 5-field cron expression, "
            f"got {cadence!r}"
        )
    try:
        CronSim(expression, datetime(2000, 1, 1))
    except CronSimError as exc:
        raise ValueError(f"invalid cron expression {cadence!r}: {exc}") from None
    return expression


def previous_time(cadence: str, at: datetime) -> datetime:
    """The most recent scheduled time at or before `at` (an aware datetime).

    When clocks go back, a wall time repeats: going forward cronsim yields both (01:30 EDT, then
    01:30 EST), going backward it finds the first only, or misses both from inside the second
    hour. So the time found backward is stepped forward while the next one is still at or before
    `at`, compared as moments (aware times of one zone compare by wall clock, ignoring the fold):
    what is due here is what `times_from` and `upkeep status` count."""
    expression = cron_for(cadence)
    start = at.replace(microsecond=0) + timedelta(seconds=1)
    moment = next(CronSim(expression, start, reverse=True))
    limit = at.astimezone(UTC)
    while (following := next(CronSim(expression, moment))).astimezone(UTC) <= limit:
        moment = following
    return moment


def next_time(cadence: str, at: datetime) -> datetime:
    """The first scheduled time strictly after `at` (as a moment: in the repeated hour when
    clocks go back, the first fold of a wall time may be past already)."""
    limit = at.astimezone(UTC)
    for moment in CronSim(cron_for(cadence), at.replace(microsecond=0)):
        if moment.astimezone(UTC) > limit:
            return moment
    raise AssertionError("cronsim ends")  # pragma: no cover - its iteration never ends


# How far before now a moment asked about (`--at`) must be for runs started after it to be taken
# as not having happened yet. Closer to now (or later), every run counts, even one stamped a
# little ahead by a clock that was stepped back: taking it away would run it again.
PAST_SLACK = timedelta(minutes=5)


def seen_until(at: datetime) -> datetime | None:
    """The moment after which runs had not happened yet, when `at` is in the past; else None."""
    return at if at < datetime.now(UTC) - PAST_SLACK else None


def localize(moment: datetime, tz: tzinfo) -> datetime:
    """Interpret a naive datetime in `tz`; convert an aware one to `tz`."""
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment.astimezone(tz)


def times_from(cadence: str, first: datetime, until: datetime) -> Iterator[datetime]:
    """`first` (a scheduled time, aware) and every scheduled time after it up to `until`, in
    `first`'s time zone. A named cadence falls at local midnight and is stepped on the calendar
    (cronsim takes ~50 µs a step: years of daily runs add up); a day whose midnight does not
    exist (a zone that changes clocks at 00:00) is left to cronsim, as is a cron expression."""
    expression = cron_for(cadence)
    step = _CALENDAR_STEPS.get(cadence)
    minutes = _hourly_minutes(expression)
    moment, instant = first, first.astimezone(UTC)
    limit = until.astimezone(UTC)  # as moments: in one zone, aware times compare by wall clock
    while instant <= limit:
        yield moment
        following = None
        if step is not None:
            midnight = datetime.combine(step(moment.date()), time(), moment.tzinfo)
            following = midnight if _exists(midnight) else None
        elif minutes is not None:
            following, instant = _same_offset_step(moment, instant, minutes)
            if following is not None:
                moment = following
                continue
        moment = following or next(CronSim(expression, moment))
        instant = moment.astimezone(UTC)


def _hourly_minutes(expression: str) -> tuple[int, ...] | None:
    """The minutes past each hour a cron expression fires at, when it fires every hour of every
    day (`*/5 * * * *`, `15,45 * * * *`); else None."""
    minute, *rest = expression.split()
    if rest != ["*", "*", "*", "*"]:
        return None
    hour = CronSim(expression, datetime(1999, 12, 31, 23, 59, 59))
    return tuple(moment.minute for moment in takewhile(lambda m: m.hour == 0, hour))


def _same_offset_step(
    moment: datetime, instant: datetime, minutes: tuple[int, ...]
) -> tuple[datetime | None, datetime]:
    """The next time after `moment` (which is `instant` in UTC) that fires at `minutes` past
    every hour, and its instant, found by adding the minutes to the instant: right whenever the
    zone's offset is the same after (no change of clocks in between, since changes are months
    apart); else None, for cronsim to find. (cronsim takes ~20 µs a step, this ~2: a cadence
    of minutes adds up over years.)"""
    at = bisect_right(minutes, moment.minute)
    later = minutes[at] if at < len(minutes) else minutes[0] + 60
    step = instant + timedelta(minutes=later - moment.minute)
    found = step.astimezone(moment.tzinfo)
    return (found if found.utcoffset() == moment.utcoffset() else None), step


def _exists(moment: datetime) -> bool:
    """Whether an aware local time is on the wall clock (not skipped by a change to summer
    time)."""
    back = moment.astimezone(UTC).astimezone(moment.tzinfo)
    return back.replace(tzinfo=None) == moment.replace(tzinfo=None)


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _next_quarter(day: date) -> date:
    month = (day.month - 1) // 3 * 3 + 4  # the first month of the next quarter, maybe 13
    return date(day.year + month // 13, (month - 1) % 12 + 1, 1)


_CALENDAR_STEPS: dict[str, Callable[[date], date]] = {
    "daily": lambda day: day + timedelta(days=1),
    "weekly": lambda day: day + timedelta(days=7),
    "monthly": _next_month,
    "quarterly": _next_quarter,
    "yearly": lambda day: date(day.year + 1, 1, 1),
}
