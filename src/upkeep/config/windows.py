"""Responsible for the `maintenance_windows:` section of `upkeep.yml` and for the one question it
answers: which window, if any, is open at a moment for a runbook. A window is one-off (`from`,
`until`) or weekly (`days`, `start`, `duration`), in its own time zone (`timezone`, else the
top-level one); `runbooks` names the runbooks it is for (every runbook when left out). Inside a
window its runbooks' alerts are held back (expected), and runbooks marked `window: required` may
run; outside they are skipped.

Weekly windows are computed on the wall clock of their time zone: `start: "01:00"` is 01:00
local on both sides of a daylight-saving change, and `duration` is elapsed time from there.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from upkeep.config.reader import Section

__all__ = ["DAYS", "MaintenanceWindow", "open_window", "read_windows"]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DURATION = re.compile(r"(?P<amount>[1-9]\d*)(?P<unit>[mhd])")
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}
_NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@dataclass(frozen=True)
class MaintenanceWindow:
    """A span in which disruptive runbooks may run and their alerts are expected."""

    name: str
    timezone: str
    runbooks: tuple[str, ...] = ()  # empty: every runbook
    starts: datetime | None = None  # one-off
    ends: datetime | None = None
    days: tuple[int, ...] = ()  # weekly: weekday numbers, Monday 0
    start: time | None = None
    duration: timedelta | None = None

    def covers(self, runbook: str) -> bool:
        return not self.runbooks or runbook in self.runbooks

    def is_open(self, at: datetime) -> bool:
        """Whether `at` (any time zone) falls inside the window."""
        if self.starts is not None and self.ends is not None:
            return self.starts <= at < self.ends
        assert self.start is not None and self.duration is not None
        tz = zoneinfo.ZoneInfo(self.timezone)
        local = at.astimezone(tz)
        # a span may reach past midnight: look at the spans starting on the days before too
        for back in range(self.duration.days + 2):
            day = local.date() - timedelta(days=back)
            if day.weekday() not in self.days:
                continue
            # to UTC before adding: aware arithmetic in one zone would add wall-clock time
            opens = datetime.combine(day, self.start, tzinfo=tz).astimezone(UTC)
            if opens <= at < opens + self.duration:
                return True
        return False


def open_window(
    windows: tuple[MaintenanceWindow, ...], runbook: str, at: datetime
) -> MaintenanceWindow | None:
    """The first window for `runbook` that is open at `at`, or None."""
    return next((w for w in windows if w.covers(runbook) and w.is_open(at)), None)


def read_windows(top: Section, timezone: str) -> tuple[MaintenanceWindow, ...]:
    windows = top.items("maintenance_windows", lambda s: _window(s, timezone))
    names = [w.name for w in windows]
    for name in names:
        if names.count(name) > 1:
            top.fail("maintenance_windows", "each window named once", name)
    return windows


def _window(s: Section, default_tz: str) -> MaintenanceWindow:
    name = s.str("name")
    if not _NAME.fullmatch(name):
        s.fail("name", "a lowercase-hyphenated name such as sunday-night", name)
    zone = s.str("timezone", default_tz)
    try:
        tz = zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        s.fail("timezone", "an IANA time zone such as UTC or Europe/Berlin", zone)
        raise AssertionError from None
    runbooks = s.strings("runbooks", ())
    one_off = s.str("from", None)
    if one_off is not None:
        starts = _moment(s, "from", one_off, tz)
        until = s.str("until")
        ends = _moment(s, "until", until, tz)
        if ends <= starts:
            s.fail("until", f"a moment after from ({one_off})", until)
        s.done()
        return MaintenanceWindow(name, zone, runbooks, starts=starts, ends=ends)
    days = s.strings("days")
    for day in days:
        if day not in DAYS:
            s.fail("days", f"weekdays among {', '.join(DAYS)}", day)
    start_text = s.str("start")
    try:
        start = time.fromisoformat(start_text)
    except ValueError:
        s.fail("start", "a local time such as '01:30'", start_text)
        raise AssertionError from None
    length = s.str("duration")
    match = _DURATION.fullmatch(length.strip())
    if match is None:
        s.fail("duration", "a duration such as 90m, 3h or 1d", length)
        raise AssertionError
    s.done()
    return MaintenanceWindow(
        name,
        zone,
        runbooks,
        days=tuple(DAYS.index(day) for day in days),
        start=start,
        duration=int(match["amount"]) * _UNITS[match["unit"]],
    )


def _moment(s: Section, key: str, value: str, tz: zoneinfo.ZoneInfo) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        s.fail(key, "a date-time such as '2026-12-20 22:00'", value)
        raise AssertionError from None
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)
