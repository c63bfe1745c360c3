"""Responsible for the systemd export: per runbook an `upkeep-NAME.service` (oneshot, runs the
runbook) and an `upkeep-NAME.timer` (`OnCalendar=` in the config's time zone, `Persistent=true`
so a run missed while the machine was off starts at boot, `RandomizedDelaySec=` from the
config)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from upkeep.schedule_export.calendar import on_calendar
from upkeep.schedule_export.localtime import dst_refusal

if TYPE_CHECKING:
    from upkeep.schedule_export import ExportContext, Job, Refusal

NAME = "systemd"


def refusal(job: Job, zone: ZoneInfo, now: datetime) -> str | None:
    return dst_refusal(job, zone, now)


def unit_name(runbook: str) -> str:
    return f"upkeep-{runbook}"


def files(
    jobs: Sequence[Job], refused: Sequence[Refusal], context: ExportContext
) -> dict[str, str]:
    written: dict[str, str] = {}
    for job in jobs:
        unit = unit_name(job.name)
        written[f"{unit}.service"] = _service(job, context)
        written[f"{unit}.timer"] = _timer(job, context)
    return written


def _service(job: Job, context: ExportContext) -> str:
    command = " ".join(_quote(arg) for arg in context.run_args(job.name))
    return (
        "[Unit]\n"
        f"Description=upkeep runbook {job.name}: {_text(job.title)}\n"
        "\n"
        "[Service]\n"
        "Type=oneshot\n"
        + (f"User={context.settings.user}\n" if context.settings.user else "")
        + f"WorkingDirectory={_text(str(context.config_path.parent))}\n"
        + f"ExecStart={command}\n"
    )


def _timer(job: Job, context: ExportContext) -> str:
    calendars = "".join(
        f"OnCalendar={spec}\n" for spec in on_calendar(job.fields, context.zone.key)
    )
    return (
        "[Unit]\n"
        f"Description=Schedule of upkeep runbook {job.name} (cadence: {job.cadence})\n"
        "\n"
        "[Timer]\n"
        f"{calendars}"
        "Persistent=true\n"
        f"RandomizedDelaySec={context.settings.randomized_delay_s}\n"
        "\n"
        "[Install]\n"
        "WantedBy=timers.target\n"
    )


def _quote(arg: str) -> str:
    """One argument of a unit file's command line: `%` escaped (systemd's specifiers), quoted
    when it holds a space, a quote or a backslash."""
    arg = arg.replace("%", "%%")
    if any(c in arg for c in " \t\"'\\"):
        return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return arg


def _text(text: str) -> str:
    return text.replace("%", "%%").replace("\n", " ")
