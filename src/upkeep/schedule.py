"""Responsible for cadences: when a runbook was last scheduled, is next, and whether it is due.

A cadence is `daily`, `weekly`, `monthly`, `yearly`, or a five-field cron expression, evaluated in
the configured time zone. A runbook is due when its last completed run is older than its most
recent scheduled time; however many periods were missed, that is one run.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from cronsim import CronSim, CronSimError

NAMED_CADENCES = {
    "daily": "0 0 * * *",
    "weekly": "0 0 * * 1",
    "monthly": "0 0 1 * *",
    "yearly": "0 0 1 1 *",
}


def cron_for(cadence: str) -> str:
    """The cron expression for a cadence; ValueError naming what was expected."""
    expression = NAMED_CADENCES.get(cadence, cadence)
    if len(expression.split()) != 5:
        raise ValueError(
            f"expected daily, weekly, monthly, yearly or a 5-field cron expression, got {cadence!r}"
        )
    try:
        CronSim(expression, datetime(2000, 1, 1))
    except CronSimError as exc:
        raise ValueError(f"invalid cron expression {cadence!r}: {exc}") from None
    return expression


def previous_time(cadence: str, at: datetime) -> datetime:
    """The most recent scheduled time at or before `at` (an aware datetime)."""
    start = at.replace(microsecond=0) + timedelta(seconds=1)
    return next(CronSim(cron_for(cadence), start, reverse=True))


def next_time(cadence: str, at: datetime) -> datetime:
    """The first scheduled time strictly after `at`."""
    return next(CronSim(cron_for(cadence), at.replace(microsecond=0)))


def is_due(cadence: str, last_run: datetime | None, at: datetime) -> bool:
    """True when the last completed run (None: never) is older than the latest scheduled time."""
    return last_run is None or last_run < previous_time(cadence, at)


def next_due(cadence: str, last_run: datetime | None, at: datetime) -> datetime:
    """When the runbook is (or was) next due: the latest slot if it is overdue, else the next."""
    if is_due(cadence, last_run, at):
        return previous_time(cadence, at)
    return next_time(cadence, at)


def localize(moment: datetime, tz: tzinfo) -> datetime:
    """Interpret a naive datetime in `tz`; convert an aware one to `tz`."""
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment.astimezone(tz)
