"""Responsible for `upkeep schedule export`: each runbook's cadence, in the config's time zone,
written as files a scheduler installs as they are (a crontab, systemd units, Kubernetes
CronJobs, a GitHub Actions `schedule:` block), and each runbook such a scheduler cannot run at
exactly the times upkeep's own schedule says refused with the reason.

One family, one module per target: each has `NAME`, `refusal(job, zone, now)` (why this runbook
cannot be exported to it, or None) and `files(jobs, context)` (file name -> text).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import ModuleType
from zoneinfo import ZoneInfo

from upkeep import schedule
from upkeep.schedule_export.context import ExportContext
from upkeep.schedule_export.fields import CronFields, parse_fields


@dataclass(frozen=True)
class Job:
    """One runbook to schedule: its name, title, cadence as written and as cron fields."""

    name: str
    title: str
    cadence: str
    fields: CronFields


@dataclass(frozen=True)
class Refusal:
    runbook: str
    reason: str


@dataclass(frozen=True)
class Export:
    """What an export wrote (file name -> text) and what it refused."""

    target: str
    files: dict[str, str] = field(default_factory=dict)
    refused: tuple[Refusal, ...] = ()


def targets() -> dict[str, ModuleType]:
    from upkeep.schedule_export import crontab, github_actions, kubernetes, systemd

    return {module.NAME: module for module in (crontab, systemd, kubernetes, github_actions)}


def export(
    target: str, jobs: Sequence[Job | Refusal], context: ExportContext, now: datetime
) -> Export:
    """The files of `target` for every job it can run exactly, and a refusal for each other."""
    module = targets()[target]
    refusal: Callable[[Job, ZoneInfo, datetime], str | None] = module.refusal
    accepted: list[Job] = []
    refused: list[Refusal] = []
    for job in jobs:
        if isinstance(job, Refusal):
            refused.append(job)
            continue
        reason = refusal(job, context.zone, now)
        if reason is None:
            accepted.append(job)
        else:
            refused.append(Refusal(job.name, reason))
    files = module.files(accepted, refused, context) if accepted else {}
    return Export(target, files, tuple(refused))


def job_for(name: str, title: str, cadence: str) -> Job | Refusal:
    """The job of one runbook; a refusal when its cadence uses what only cronsim reads."""
    try:
        expression = schedule.cron_for(cadence)
        return Job(name, title, cadence, parse_fields(expression))
    except ValueError as exc:
        return Refusal(name, str(exc))


__all__ = ["Export", "ExportContext", "Job", "Refusal", "export", "job_for", "targets"]
