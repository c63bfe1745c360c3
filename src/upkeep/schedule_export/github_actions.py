"""Responsible for the GitHub Actions export: the `on: schedule:` block a person pastes into
the nightly workflow, one `cron:` line per distinct time, each naming its runbooks.

GitHub reads these crons in UTC only, and runs a workflow at most every 5 minutes. A runbook is
exported when a UTC cron fires at exactly the instants upkeep's own schedule does: always in
UTC, in a zone with a fixed offset when the shift keeps within what cron can say; never in a
zone with daylight saving time, whose offset moves twice a year. The workflow runs `upkeep run
--due`, which runs whatever is due at that time (and catches a late or missed one up).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from cronsim import CronSim

from upkeep.schedule_export.dst import transitions
from upkeep.schedule_export.fields import CronFields, portable_expression

if TYPE_CHECKING:
    from upkeep.schedule_export import ExportContext, Job, Refusal

NAME = "github-actions"
FILE_NAME = "github-actions-schedule.yml"
MIN_INTERVAL = timedelta(minutes=5)
# How many fire times of the UTC cron are compared with upkeep's own before it is exported.
COMPARED_FIRES = 1000


def refusal(job: Job, zone: ZoneInfo, now: datetime) -> str | None:
    expression, reason = utc_expression(job.fields, zone, now)
    if reason is not None:
        return reason
    assert expression is not None
    ours = _fires(job.fields.expression, zone, now)
    theirs = _fires(expression, ZoneInfo("UTC"), now)
    for mine, github in zip(ours, theirs, strict=True):
        if mine != github:
            return (
                f"no UTC cron fires at exactly its times in {zone.key}: {expression!r} (UTC) "
                f"would fire at {github:%Y-%m-%d %H:%M} UTC where upkeep's schedule says "
                f"{mine:%Y-%m-%d %H:%M} UTC"
            )
    for earlier, later in zip(ours, ours[1:], strict=False):
        if later - earlier < MIN_INTERVAL:
            return (
                f"it fires {int((later - earlier).total_seconds() // 60)} minute(s) apart; "
                "GitHub runs a scheduled workflow at most every 5 minutes"
            )
    return None


def utc_expression(
    fields: CronFields, zone: ZoneInfo, now: datetime
) -> tuple[str | None, str | None]:
    """The UTC cron of `fields` read in `zone`, or None and why there is none."""
    changes = transitions(zone, now)
    if changes:
        first = changes[0]
        return None, (
            f"{zone.key} changes its UTC offset (daylight saving time: next on "
            f"{first.at:%Y-%m-%d}) and GitHub's cron is UTC only, so its runs would move by "
            f"{abs(first.after - first.before)} twice a year; export it to systemd, cron or "
            "Kubernetes instead, or use timezone: UTC"
        )
    offset = now.astimezone(zone).utcoffset()
    assert offset is not None
    shift = int(offset.total_seconds() // 60)
    if shift == 0:
        return portable_expression(fields), None
    shifted = {
        divmod(hour * 60 + minute - shift, 24 * 60)
        for hour in fields.hours
        for minute in fields.minutes
    }
    day_moves = {days for days, _ in shifted}
    hours = {at // 60 for _, at in shifted}
    minutes = {at % 60 for _, at in shifted}
    if len(day_moves) != 1 or len(shifted) != len(hours) * len(minutes):
        return None, (
            f"moved from {zone.key} to UTC its times fall on different days or do not form one "
            "hours-by-minutes grid, which one cron line cannot say"
        )
    day_move = day_moves.pop()
    weekdays = (
        "*" if fields.every_weekday else _list((day + day_move) % 7 for day in fields.weekdays)
    )
    if day_move and not (fields.every_day_of_month and fields.every_month):
        return None, (
            f"moved from {zone.key} to UTC its times fall on the day before or after, and cron "
            "cannot say 'the day before the 1st' (or of a given month)"
        )
    days = "*" if fields.every_day_of_month else _list(fields.days)
    months = "*" if fields.every_month else _list(fields.months)
    return f"{_list(minutes)} {_list(hours)} {days} {months} {weekdays}", None


def files(
    jobs: Sequence[Job], refused: Sequence[Refusal], context: ExportContext
) -> dict[str, str]:
    by_cron: dict[str, list[str]] = {}
    now = datetime.now(UTC)
    for job in jobs:
        expression, _ = utc_expression(job.fields, context.zone, now)
        assert expression is not None
        by_cron.setdefault(expression, []).append(job.name)
    lines = [
        f"# upkeep's schedule for {context.config_path} ({context.zone.key}), in UTC as GitHub",
        "# reads it; written by `upkeep schedule export github-actions`. Paste it as the `on:`",
        "# of the nightly workflow, which runs `upkeep run --due` (what is due then, and any",
        "# run GitHub started late or skipped). GitHub may start a scheduled run late under load.",
        "on:",
        "  workflow_dispatch: {}",
        "  schedule:",
    ]
    for expression, names in by_cron.items():
        lines.append(f'    - cron: "{expression}"  # {", ".join(names)}')
    for refusal_ in refused:
        lines.append(f"# NOT SCHEDULED: {refusal_.runbook}: {refusal_.reason}")
    return {FILE_NAME: "\n".join(lines) + "\n"}


def _fires(expression: str, zone: ZoneInfo, now: datetime) -> list[datetime]:
    """Up to COMPARED_FIRES fire times; fewer for a cadence so rare that they run past the
    year 9999 (Feb 29 on a Sunday)."""
    start = now.astimezone(zone).replace(second=0, microsecond=0)
    fires = []
    try:
        for moment in islice(CronSim(expression, start), COMPARED_FIRES):
            fires.append(moment.astimezone(UTC))
    except (OverflowError, ValueError):  # cronsim stepping past datetime.max
        pass
    return fires


def _list(values: object) -> str:
    return ",".join(str(v) for v in sorted(values))  # type: ignore[call-overload]
