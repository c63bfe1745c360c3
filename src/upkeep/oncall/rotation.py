"""Responsible for who is on call: at a moment (`answer`), and as shifts over a span
(`shifts`), from a schedule's layers and overrides.

Local times become moments by the schedule's time zone: a handoff at 09:00 stays at 09:00 local
time across daylight-saving changes. A local time that a change skips (02:30 on the night the
clocks jump from 02:00 to 03:00) is taken at the offset before the change, which lands it just
after the jump; one that a change repeats is taken the first time. Every answer comes from the
same moments the shifts are cut at, so `answer(at)` and the shift holding `at` always agree.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from upkeep.config.oncall import LONGEST_HANDOFF, Layer, Override, Restriction, Schedule

__all__ = ["CURRENT_REACH", "Answer", "Shift", "answer", "current_shift", "shifts"]

# How far either side of a moment `current_shift` looks for the ends of its shift.
CURRENT_REACH = 2 * LONGEST_HANDOFF


@dataclass(frozen=True)
class Answer:
    """Who answers: a person from `layer`, or from `override` (a swap, a holiday), or nobody
    (`who` None: no layer answers then, which is a gap in the rotation)."""

    who: str | None
    layer: str | None = None
    override: Override | None = None

    @property
    def source(self) -> str:
        if self.override is not None:
            return f"override: {self.override.reason}"
        if self.layer is not None:
            return f"layer {self.layer}"
        return "no layer answers"


@dataclass(frozen=True)
class Shift:
    """`answer` holds from `start` until `end` (moments in UTC) in `schedule`."""

    schedule: str
    answer: Answer
    start: datetime
    end: datetime


def answer(schedule: Schedule, at: datetime) -> Answer:
    """Who is on call in `schedule` at the moment `at` (aware)."""
    tz = schedule.tz
    for override in reversed(schedule.overrides):
        if _moment(override.start, tz) <= at < _moment(override.end, tz):
            return Answer(override.who, override=override)
    for layer in reversed(schedule.layers):
        handoffs = _handoffs_before(layer, tz, at)
        if handoffs < 0:  # before the layer starts: it does not answer yet (no made-up shifts)
            continue
        if layer.restrict is None or _restricted_in(layer.restrict, tz, at):
            return Answer(layer.people[handoffs % len(layer.people)], layer=layer.name)
    return Answer(None)


def shifts(schedule: Schedule, start: datetime, end: datetime) -> list[Shift]:
    """The shifts from `start` until `end` (aware moments), cut where the answer changes; the
    first starts at `start` and the last ends at `end`, whatever they really span."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    cuts = sorted({start, end, *(m for m in _changes(schedule, start, end) if start < m < end)})
    found: list[Shift] = []
    for begin, finish in zip(cuts, cuts[1:], strict=False):
        now = answer(schedule, begin)
        if found and found[-1].answer == now:
            found[-1] = Shift(schedule.name, now, found[-1].start, finish)
        else:
            found.append(Shift(schedule.name, now, begin, finish))
    return found


def current_shift(schedule: Schedule, at: datetime) -> Shift:
    """The shift holding `at`. One that reaches further than `CURRENT_REACH` either side (a
    one-person layer) is cut there."""
    at = at.astimezone(UTC)  # reach in elapsed time: wall-clock days would shift at a DST change
    reach = timedelta(days=2)
    while True:
        reach = min(reach, CURRENT_REACH)
        [held] = [s for s in shifts(schedule, at - reach, at + reach) if s.start <= at < s.end]
        if reach == CURRENT_REACH or (held.start > at - reach and held.end < at + reach):
            return held
        reach *= 4


def _changes(schedule: Schedule, start: datetime, end: datetime) -> Iterator[datetime]:
    """Every moment in [start, end] where an answer may change (and some where it does not)."""
    tz = schedule.tz
    for override in schedule.overrides:
        yield _moment(override.start, tz)
        yield _moment(override.end, tz)
    for layer in schedule.layers:
        index = _handoffs_before(layer, tz, start)
        while (handoff := _handoff(layer, tz, index + 1)) <= end:
            yield handoff
            index += 1
        if layer.restrict is not None:
            for begin, finish in _windows(layer.restrict, tz, start, end):
                yield begin
                yield finish


def _handoff(layer: Layer, tz: zoneinfo.ZoneInfo, index: int) -> datetime:
    """The moment of handoff number `index` (0 at the layer's start; negative before it)."""
    return _moment(layer.start + index * layer.handoff_every, tz)


def _handoffs_before(layer: Layer, tz: zoneinfo.ZoneInfo, at: datetime) -> int:
    """The number of the last handoff at or before `at`."""
    local = at.astimezone(tz).replace(tzinfo=None)
    index = (local - layer.start) // layer.handoff_every
    while _handoff(layer, tz, index + 1) <= at:
        index += 1
    while _handoff(layer, tz, index) > at:
        index -= 1
    return index


def _restricted_in(restriction: Restriction, tz: zoneinfo.ZoneInfo, at: datetime) -> bool:
    day = at.astimezone(tz).date()
    return any(
        begin <= at < finish
        for begin, finish in _windows_of_days(restriction, tz, day - timedelta(days=1), day)
    )


def _windows(
    restriction: Restriction, tz: zoneinfo.ZoneInfo, start: datetime, end: datetime
) -> Iterator[tuple[datetime, datetime]]:
    first = start.astimezone(tz).date() - timedelta(days=1)
    last = end.astimezone(tz).date() + timedelta(days=1)
    return _windows_of_days(restriction, tz, first, last)


def _windows_of_days(
    restriction: Restriction, tz: zoneinfo.ZoneInfo, first: date, last: date
) -> Iterator[tuple[datetime, datetime]]:
    """The restriction's windows that open on the days from `first` to `last`, as moments."""
    day = first
    while day <= last:
        if day.weekday() in restriction.days:
            closes_on = day if restriction.end > restriction.start else day + timedelta(days=1)
            yield (
                _moment(datetime.combine(day, restriction.start), tz),
                _moment(datetime.combine(closes_on, restriction.end), tz),
            )
        day += timedelta(days=1)


def _moment(local: datetime, tz: zoneinfo.ZoneInfo) -> datetime:
    return local.replace(tzinfo=tz).astimezone(UTC)
