"""Responsible for the refusal every target that evaluates the config's local time shares
(crontab with CRON_TZ, systemd timers, Kubernetes CronJobs): a schedule that fires in an hour a
daylight-saving change skips or repeats (see `upkeep.schedule_export.dst`)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from upkeep.schedule_export.dst import describe, first_ambiguous_fire

if TYPE_CHECKING:
    from upkeep.schedule_export import Job


def dst_refusal(job: Job, zone: ZoneInfo, now: datetime) -> str | None:
    found = first_ambiguous_fire(job.fields.expression, zone, now)
    if found is None:
        return None
    fire, change = found
    return (
        f"{describe(fire, change, zone)}; schedulers disagree on when (or whether, or how "
        "often) a job runs then, so the export would drift from upkeep's own schedule; move "
        "it out of the hour the clocks change (or use timezone: UTC)"
    )
