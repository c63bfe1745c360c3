"""Responsible for the crontab export: one file, `CRON_TZ=` set to the config's time zone, one
line per runbook running `upkeep --config … run --trigger schedule NAME` at its cadence.

CRON_TZ is read by cronie (Fedora, RHEL, Arch and others); a cron that ignores it runs the lines
in the machine's own zone. cronie also applies its daylight-saving handling in the machine's own
zone, so a job near the machine's clock change can be missed when the two zones differ (cronie
issue #124): keep the machine in UTC or in the config's zone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from cronsim import CronSim

from upkeep.schedule_export.localtime import dst_refusal

if TYPE_CHECKING:
    from upkeep.schedule_export import ExportContext, Job, Refusal

NAME = "cron"
FILE_NAME = "upkeep.crontab"


def refusal(job: Job, zone: ZoneInfo, now: datetime) -> str | None:
    return dst_refusal(job, zone, now)


def files(
    jobs: Sequence[Job], refused: Sequence[Refusal], context: ExportContext
) -> dict[str, str]:
    lines = [
        f"# upkeep's schedule for {context.config_path}",
        "# written by `upkeep schedule export cron`; install with `crontab upkeep.crontab` (this",
        "# replaces the user's crontab) or paste the lines below into it.",
        "# Needs a cron that reads CRON_TZ (cronie does); keep the machine's own zone "
        + ("UTC." if context.zone.key == "UTC" else f"UTC or {context.zone.key}."),
        f"CRON_TZ={context.zone.key}",
        "",
    ]
    for job in jobs:
        lines.append(f"# {job.name}: {job.title} (cadence: {job.cadence})")
        lines.append(f"{_portable(job.fields.expression)} {_escape(context.shell_line(job.name))}")
    for refusal_ in refused:
        lines.append(f"# NOT SCHEDULED: {refusal_.runbook}: {refusal_.reason}")
    return {FILE_NAME: "\n".join(lines) + "\n"}


# The largest value of each field, for a step from a start (`1/5`): cronie and Debian's cron
# read a step only after a range or `*`, and refuse the whole crontab otherwise.
_FIELD_MAX = (59, 23, 31, 12, 7)
_STEP_FROM = re.compile(r"(\d+)/(\d+)")
_NAMED_STEP = re.compile(r"[A-Za-z]+/\d")


def _portable(expression: str) -> str:
    """`expression` with each `N/S` written `N-MAX/S`: the same times (cronsim reads `N/S` as
    from N to the field's end), in a form every cron reads. A field's leading `*`, which makes
    the two day fields both have to match, is kept as it is."""
    fields = expression.split()
    if any(_NAMED_STEP.search(field) for field in fields):
        # `MON/2`, `JAN/3`: cronie reads no step after a name; the field as its values (it does
        # not start with `*`, so which day fields must both match is kept).
        sim = CronSim(expression, datetime(2000, 1, 1))
        sets = (sim.minutes, sim.hours, sim.days, sim.months, sim.weekdays)
        fields = [
            ",".join(str(v) for v in sorted(values)) if _NAMED_STEP.search(field) else field
            for field, values in zip(fields, sets, strict=True)
        ]
    return " ".join(
        ",".join(
            _STEP_FROM.sub(lambda m, top=top: f"{m[1]}-{top}/{m[2]}", token)
            if _STEP_FROM.fullmatch(token)
            else token
            for token in field.split(",")
        )
        for field, top in zip(fields, _FIELD_MAX, strict=True)
    )


def _escape(command: str) -> str:
    """A crontab command line: `%` would end the command and start its standard input."""
    return command.replace("%", "\\%")
