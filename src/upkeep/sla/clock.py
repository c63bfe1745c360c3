"""Responsible for SLA due times as a pure function: the instant at which `minutes` of counted
time have passed since `start`, counting only business hours off public holidays (or all the
time) and never while the incident is paused.

The time line is cut at every instant where counting could change (local midnight, the start
and end of business hours in either UTC offset around a DST change, the DST change itself, a
pause or resume); between two cuts counting is constant, so whole stretches are consumed at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

from upkeep.config.support import BusinessHours

__all__ = ["counted_minutes", "counts", "due_at"]

MINUTE = timedelta(minutes=1)
# A due time further than this from its start is treated as never (a calendar with no hours).
HORIZON = timedelta(days=800)


def counts(
    at: datetime, hours: BusinessHours | None, pauses: Sequence[tuple[datetime, datetime | None]]
) -> bool:
    """Whether the clock runs at instant `at` (business hours None: always, except paused)."""
    for paused, resumed in pauses:
        if paused <= at and (resumed is None or at < resumed):
            return False
    if hours is None:
        return True
    local = at.astimezone(hours.tz)
    if local.weekday() not in hours.days or _is_holiday(
        hours.country, hours.subdivision, local.date()
    ):
        return False
    wall = local.time().replace(tzinfo=None, fold=0)
    return hours.start <= wall and (hours.end is None or wall < hours.end)


def due_at(
    start: datetime,
    minutes: int,
    hours: BusinessHours | None,
    pauses: Sequence[tuple[datetime, datetime | None]] = (),
) -> datetime | None:
    """When `minutes` of counted time have passed since `start`; None when that never happens
    (paused without resume before the time is used up, or no business hours within reach)."""
    left = timedelta(minutes=minutes)
    if left <= timedelta(0):
        return start
    for begin, end in _stretches(start, hours, pauses):
        if end is None:  # paused for good
            return None
        if counts(begin, hours, pauses):
            if end - begin >= left:
                return begin + left
            left -= end - begin
    return None


def counted_minutes(
    start: datetime,
    until: datetime,
    hours: BusinessHours | None,
    pauses: Sequence[tuple[datetime, datetime | None]] = (),
) -> float:
    """How many minutes of counted time lie between `start` and `until`."""
    total = timedelta(0)
    if until <= start:
        return 0.0
    for begin, end in _stretches(start, hours, pauses):
        stop = until if end is None else min(end, until)
        if stop > begin and counts(begin, hours, pauses):
            total += stop - begin
        if end is None or end >= until:
            break
    return total / MINUTE


def _stretches(
    start: datetime, hours: BusinessHours | None, pauses: Sequence[tuple[datetime, datetime | None]]
) -> Iterable[tuple[datetime, datetime | None]]:
    """Consecutive stretches [begin, end) from `start` within which counting is constant; the
    last ends None when a pause never resumes."""
    pause_cuts = sorted({t for p in pauses for t in p if t is not None and t > start})
    open_pause = any(r is None for _, r in pauses)
    last_pause = max((p for p, r in pauses if r is None), default=None)
    begin = start
    day = start.astimezone(hours.tz).date() if hours else None
    while begin - start < HORIZON:
        if open_pause and last_pause is not None and begin >= last_pause:
            yield begin, None
            return
        if hours is None:
            nxt = next((t for t in pause_cuts if t > begin), None)
            if nxt is None:
                yield begin, (None if open_pause else begin + HORIZON)
                return
            yield begin, nxt
            begin = nxt
            continue
        assert day is not None
        cuts = sorted(
            {t for t in _day_cuts(hours, day) if t > begin} | {t for t in pause_cuts if t > begin}
        )
        day_end = _day_cuts(hours, day)[-1]
        for cut in cuts:
            if cut > day_end:
                break
            if open_pause and last_pause is not None and begin >= last_pause:
                yield begin, None
                return
            yield begin, cut
            begin = cut
        day += timedelta(days=1)


@lru_cache(maxsize=4096)
def _day_cuts(hours: BusinessHours, day: date) -> tuple[datetime, ...]:
    """The instants (UTC) of local date `day` at which counting may change, ending with the
    next local midnight."""
    tz = hours.tz
    midnight = _instant(datetime.combine(day, time(0), tz))
    next_midnight = _instant(datetime.combine(day + timedelta(days=1), time(0), tz))
    cuts = {midnight, next_midnight}
    for wall in (hours.start, hours.end):
        if wall is None:
            continue
        for fold in (0, 1):
            t = _instant(datetime.combine(day, wall, tz).replace(fold=fold))
            if midnight <= t <= next_midnight:
                cuts.add(t)
    cuts.update(_offset_changes(hours, midnight, next_midnight))
    return tuple(sorted(cuts))


def _offset_changes(hours: BusinessHours, begin: datetime, end: datetime) -> list[datetime]:
    """The instants in [begin, end] where the zone's UTC offset changes (found by bisection to
    the minute; zones change at most once a day)."""
    tz = hours.tz
    before = begin.astimezone(tz).utcoffset()
    if end.astimezone(tz).utcoffset() == before:
        return []
    low, high = begin, end
    while high - low > MINUTE:
        middle = low + ((high - low) / MINUTE // 2) * MINUTE
        if middle.astimezone(tz).utcoffset() == before:
            low = middle
        else:
            high = middle
    return [high]


def _instant(local: datetime) -> datetime:
    return local.astimezone(UTC)


@lru_cache(maxsize=64)
def _holiday_calendar(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    import holidays

    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year))


def _is_holiday(country: str | None, subdivision: str | None, day: date) -> bool:
    return country is not None and day in _holiday_calendar(country, subdivision, day.year)
