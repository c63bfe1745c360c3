"""Responsible for the on-call rotation, `oncall.yml` beside `upkeep.yml` (`oncall:` to move
it): schedules of layers (people taking turns, handing off every `handoff_every` from `start`,
optionally only on some days and hours) and overrides (swaps, holidays), read and checked for
form at load. Who is on call at a moment is `upkeep.oncall`'s to say."""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path

from upkeep.config.reader import Section, parse_document
from upkeep.errors import ConfigError
from upkeep.regular_file import read_regular

__all__ = [
    "Layer",
    "OnCall",
    "Override",
    "Restriction",
    "Schedule",
    "read_oncall",
    "read_oncall_setting",
]

DEFAULT_FILE = "oncall.yml"

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_PERIOD = re.compile(r"(?P<amount>[1-9]\d*)(?P<unit>[hdw])")
_PERIOD_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
LONGEST_HANDOFF = timedelta(weeks=8)


@dataclass(frozen=True)
class Restriction:
    """A layer answers only on `days` (0 is Monday), from `start` to `end` local time (an
    `end` at or before `start` runs past midnight into the next day)."""

    days: frozenset[int]
    start: time
    end: time


@dataclass(frozen=True)
class Layer:
    """People taking turns: `people[0]` from `start` (local wall-clock time), the next one every
    `handoff_every`, round and round; answering only within `restrict` when it is set."""

    name: str
    people: tuple[str, ...]
    start: datetime
    handoff_every: timedelta
    restrict: Restriction | None = None


@dataclass(frozen=True)
class Override:
    """`who` answers instead of the layers from `start` until `end` (local times), for `reason`
    (a swap, a holiday)."""

    who: str
    start: datetime
    end: datetime
    reason: str


@dataclass(frozen=True)
class Schedule:
    """One rotation (a role's: `ops-oncall`): layers, a later layer answering before an
    earlier one where it answers at all, and overrides before any layer, the later listed
    first. Local times are in `timezone`."""

    name: str
    timezone: str
    layers: tuple[Layer, ...]
    overrides: tuple[Override, ...] = ()

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


@dataclass(frozen=True)
class OnCall:
    """The schedules and the file they came from (None: no on-call file)."""

    path: Path | None = None
    schedules: tuple[Schedule, ...] = ()

    def schedule(self, name: str) -> Schedule:
        for schedule in self.schedules:
            if schedule.name == name:
                return schedule
        known = ", ".join(s.name for s in self.schedules) or "none"
        raise ConfigError(f"no on-call schedule {name!r}; expected one of: {known}")


def read_oncall_setting(top: Section, base: Path, default_timezone: str) -> OnCall:
    """The rotation `upkeep.yml`'s `oncall:` names (a file that must exist), else the one in
    `oncall.yml` beside it when there is one."""
    if "oncall" not in top.data:
        return read_oncall(base / DEFAULT_FILE, default_timezone)
    path = top.path("oncall", base)
    if not path.is_file():
        raise ConfigError(
            f"{top.file}: oncall: {path} is not a file; expected the on-call rotation's YAML file"
        )
    return read_oncall(path, default_timezone)


def read_oncall(path: Path | None, default_timezone: str) -> OnCall:
    """The rotation in `path`; no schedules when there is no such file. ConfigError naming the
    file and entry for anything malformed."""
    if path is None or not path.exists():
        return OnCall()
    try:
        raw = read_regular(path)  # a FIFO is refused, not waited on
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the on-call rotation: {exc.strerror}") from None
    top = Section(parse_document(raw, path), "", path)
    schedules = top.items("schedules", lambda s: _schedule(s, default_timezone))
    top.done()
    names = [s.name for s in schedules]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"{path}: schedules: {name!r} is named twice; expected unique names")
    return OnCall(path, schedules)


def _schedule(s: Section, default_timezone: str) -> Schedule:
    name = s.name("name")
    timezone = s.str("timezone", default_timezone)
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        s.fail("timezone", "an IANA time zone such as Europe/Berlin", timezone)
    layers = s.items("layers", _layer)
    overrides = s.items("overrides", _override)
    s.done()
    if not layers:
        s.fail("layers", "at least one layer of people taking turns", [])
    layer_names = [layer.name for layer in layers]
    if len(set(layer_names)) != len(layer_names):
        raise ConfigError(f"{s.file}: {s.where}.layers: a layer name is used twice")
    return Schedule(name, timezone, layers, overrides)


def _layer(s: Section) -> Layer:
    layer = Layer(
        name=s.name("name"),
        people=_people(s),
        start=_local_time(s, "start"),
        handoff_every=_period(s),
        restrict=_restriction(s.section("restrict")),
    )
    s.done()
    return layer


def _people(s: Section) -> tuple[str, ...]:
    people = s.strings("people")
    if not people:
        s.fail("people", "at least one person", [])
    if any(not person.strip() for person in people):
        s.fail("people", "names, none of them empty", list(people))
    return tuple(person.strip() for person in people)


def _period(s: Section) -> timedelta:
    value = s.get("handoff_every", str, "a period such as 12h, 1d or 1w", "1w")
    match = _PERIOD.fullmatch(value.strip())
    if match is None:
        s.fail("handoff_every", "a period such as 12h, 1d or 1w", value)
    assert match is not None
    if int(match["amount"]) > LONGEST_HANDOFF / _PERIOD_UNITS[match["unit"]]:
        s.fail("handoff_every", "a period of at most 8w", value)  # compared before it is made
    return int(match["amount"]) * _PERIOD_UNITS[match["unit"]]


def _restriction(s: Section | None) -> Restriction | None:
    if s is None:
        return None
    days = s.strings("days", DAYS)
    unknown = [day for day in days if day.lower() not in DAYS]
    if unknown or not days:
        s.fail("days", f"days among {', '.join(DAYS)}", list(days))
    start = _clock(s, "from")
    end = _clock(s, "to")
    s.done()
    if start == end:
        s.fail("to", "a time other than `from` (a whole day needs no `from`/`to`)", str(end))
    return Restriction(frozenset(DAYS.index(day.lower()) for day in days), start, end)


def _clock(s: Section, key: str) -> time:
    value = s.get(key, str, "a time of day such as '09:00' (quoted)", "00:00")
    try:
        clock = time.fromisoformat(value)
    except ValueError:
        s.fail(key, "a time of day such as '09:00' (quoted)", value)
    if clock.tzinfo is not None:
        s.fail(key, "a local time without an offset (the schedule's timezone applies)", value)
    return clock


def _override(s: Section) -> Override:
    override = Override(
        who=s.str("who").strip(),
        start=_local_time(s, "from"),
        end=_local_time(s, "until"),
        reason=s.str("reason"),
    )
    s.done()
    if override.end <= override.start:
        s.fail("until", f"a time after `from` ({override.start:%Y-%m-%d %H:%M})", override.end)
    return override


def _local_time(s: Section, key: str) -> datetime:
    """A local date and time (`2026-12-24 09:00`), without an offset: the schedule's timezone
    applies, so a handoff stays at 09:00 across daylight-saving changes."""
    if key not in s.data:
        raise ConfigError(f"{s.file}: {s.where}.{key}: required key is missing")
    value = s.data.pop(key)
    expected = "a local date and time such as '2026-12-24 09:00', without an offset"
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            s.fail(key, expected, value)
    else:
        s.fail(key, expected, value)
    if moment.tzinfo is not None:
        s.fail(key, expected, value)
    return moment
