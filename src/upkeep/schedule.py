"""Responsible for cadences: when a runbook was last scheduled and when it is next.

A cadence is `daily`, `weekly`, `monthly`, `yearly`, or a five-field cron expression, evaluated in
the configured time zone. Its most recent scheduled time opens the current period; which runs of
that period count (and so whether the runbook is due) is `upkeep.plan`'s to say. However many
periods were missed, catching up is one run.
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


def localize(moment: datetime, tz: tzinfo) -> datetime:
    """Interpret a naive datetime in `tz`; convert an aware one to `tz`."""
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment.astimezone(tz)
