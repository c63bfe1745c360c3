"""Responsible for writing cron fields as systemd calendar events (`OnCalendar=`): one event
when the day fields are joined by AND, two (days of the month; weekdays) when cron joins them by
OR, since a timer fires on the union of its OnCalendar= lines."""

from __future__ import annotations

from collections.abc import Iterable

from upkeep.schedule_export.fields import CronFields

# systemd's weekday names, Monday first; cron counts from Sunday = 0.
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def on_calendar(fields: CronFields, zone: str) -> list[str]:
    """The OnCalendar= values that fire exactly when `fields` does, in `zone`."""
    months = "*" if fields.every_month else _values(fields.months, "{:02d}")
    hours = _values(fields.hours, "{:02d}", full=24)
    time = f"{hours}:{_values(fields.minutes, '{:02d}', full=60)}:00"
    days = "*" if fields.every_day_of_month else _values(fields.days, "{:02d}")
    weekdays = None if fields.every_weekday else _weekdays(fields.weekdays)
    if fields.day_and:  # a day must match both fields (one of them is `*...`)
        prefix = f"{weekdays} " if weekdays else ""
        return [f"{prefix}*-{months}-{days} {time} {zone}"]
    # Either field matching will do (cron's rule when neither starts with `*`): when one covers
    # every day, so does the cadence (`0 4 1-31 * 1` is every day, not Mondays).
    if fields.every_day_of_month or weekdays is None:
        return [f"*-{months}-* {time} {zone}"]
    return [f"*-{months}-{days} {time} {zone}", f"{weekdays} *-{months}-* {time} {zone}"]


def _values(values: Iterable[int], form: str, full: int | None = None) -> str:
    ordered = sorted(values)
    if full is not None and len(ordered) == full:
        return "*"
    return ",".join(
        form.format(low) if low == high else f"{form.format(low)}..{form.format(high)}"
        for low, high in _runs(ordered)
    )


def _weekdays(days: frozenset[int]) -> str:
    positions = sorted((day - 1) % 7 for day in days)  # Monday = 0 … Sunday = 6
    return ",".join(
        _WEEKDAYS[low] if low == high else f"{_WEEKDAYS[low]}..{_WEEKDAYS[high]}"
        for low, high in _runs(positions)
    )


def _runs(ordered: list[int]) -> list[tuple[int, int]]:
    """Consecutive values as (first, last) pairs: [1, 2, 3, 7] -> [(1, 3), (7, 7)]."""
    runs: list[tuple[int, int]] = []
    for value in ordered:
        if runs and value == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], value)
        else:
            runs.append((value, value))
    return runs
