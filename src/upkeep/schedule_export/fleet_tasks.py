"""Responsible for what a fleet's scheduler runs: one task per host × runbook that applies to
it, each with the `upkeep run` command line that runs it on that host, gathered into one
schedule per cadence and time zone; a task a scheduler cannot run at exactly upkeep's own times
(a cadence only cronsim reads, an hour daylight saving skips or repeats) refused with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from upkeep.config.fleet import Fleet, LoadedHost, check_host_runbooks
from upkeep.schedule_export import Job, Refusal, job_for
from upkeep.schedule_export.context import ExportContext
from upkeep.schedule_export.fields import portable_expression, star_step_refusal
from upkeep.schedule_export.localtime import dst_refusal

__all__ = [
    "SKIPPED_EXIT_CODE",
    "FleetSchedule",
    "FleetTask",
    "HostJob",
    "fleet_schedules",
    "host_jobs",
]

# `upkeep run --exit-skipped` in every task: Airflow's own default for "skipped" (99).
SKIPPED_EXIT_CODE = 99


@dataclass(frozen=True)
class FleetTask:
    """One runbook on one host: `argv` is the `upkeep run` command line run on that host."""

    host: str
    runbook: str
    title: str
    argv: tuple[str, ...]
    queue: str | None = None
    ssh_conn_id: str | None = None

    @property
    def task_id(self) -> str:
        # Host ids hold no "--" and runbook names start with a letter: the split is unique.
        return f"{self.host}--{self.runbook}"


@dataclass(frozen=True)
class FleetSchedule:
    """The tasks that share one cadence in one time zone: one DAG."""

    name: str
    cadence: str
    expression: str
    zone: str
    tasks: tuple[FleetTask, ...]


@dataclass(frozen=True)
class HostJob:
    """One runbook's schedule on one host of the fleet."""

    host: LoadedHost
    job: Job


def host_jobs(
    fleet: Fleet, hosts: Sequence[LoadedHost], now: datetime
) -> tuple[list[HostJob], list[Refusal]]:
    """Every host × runbook that applies, and the refused ones (named `host/runbook`): a
    runbook that cannot be loaded, a cadence only cronsim reads, an hour daylight saving skips
    or repeats in the host's zone. ConfigError when a host names a runbook it does not have."""
    jobs: list[HostJob] = []
    refused: list[Refusal] = []
    for index, loaded in enumerate(hosts):
        zone = loaded.config.tz
        for job in _selected_jobs(fleet, index, loaded, refused):
            reason = dst_refusal(job, zone, now.astimezone(zone)) or star_step_refusal(
                job.fields, "Airflow's croniter (and Kubernetes' cron)", star_one=False
            )
            if reason is None:
                jobs.append(HostJob(loaded, job))
            else:
                refused.append(Refusal(f"{loaded.host.id}/{job.name}", reason))
    return jobs, refused


def fleet_schedules(
    fleet: Fleet, hosts: Sequence[LoadedHost], now: datetime
) -> tuple[list[FleetSchedule], list[Refusal]]:
    """Every host × runbook task, grouped by cadence and zone, and the refused ones."""
    jobs, refused = host_jobs(fleet, hosts, now)
    grouped: dict[tuple[str, str], list[tuple[Job, FleetTask]]] = {}
    for item in jobs:
        host, config, job = item.host.host, item.host.config, item.job
        argv = _run_argv(ExportContext(config), host.command, host.id, job.name)
        task = FleetTask(host.id, job.name, job.title, argv, host.queue, host.ssh_conn_id)
        # croniter steps a weekday to 6 at most, as Kubernetes' cron does: Sunday as 0
        expression = portable_expression(job.fields)
        grouped.setdefault((expression, config.tz.key), []).append((job, task))
    return _schedules(grouped), refused


def _selected_jobs(
    fleet: Fleet, index: int, loaded: LoadedHost, refused: list[Refusal]
) -> list[Job]:
    from upkeep import registry

    host, config = loaded.host, loaded.config
    runbooks = registry.discover(config.runbooks_dir, config.root)
    check_host_runbooks(fleet, index, loaded, [*runbooks, *runbooks.invalid])
    names = host.runbooks if host.runbooks is not None else (*runbooks, *runbooks.invalid)
    jobs: list[Job] = []
    for name in names:
        if name in runbooks.invalid:
            message = runbooks.invalid[name].message
            refused.append(Refusal(f"{host.id}/{name}", f"it cannot be loaded: {message}"))
            continue
        runbook = runbooks[name]
        job = job_for(runbook.name, runbook.title, runbook.cadence)
        if isinstance(job, Refusal):
            refused.append(Refusal(f"{host.id}/{name}", job.reason))
        else:
            jobs.append(job)
    return jobs


def _run_argv(
    context: ExportContext, command: str | None, host_id: str, name: str
) -> tuple[str, ...]:
    """`upkeep --config C run --trigger schedule --host ID --exit-skipped 99 NAME`."""
    run = context.run_args(name, command=command)
    *head, runbook = run
    return (*head, "--host", host_id, "--exit-skipped", str(SKIPPED_EXIT_CODE), runbook)


def _schedules(grouped: dict[tuple[str, str], list[tuple[Job, FleetTask]]]) -> list[FleetSchedule]:
    zones_of: dict[str, set[str]] = {}
    for expression, zone in grouped:
        zones_of.setdefault(expression, set()).add(zone)
    schedules = []
    for (expression, zone), jobs in grouped.items():
        cadences = sorted({job.cadence for job, _ in jobs})
        name = "upkeep_" + _slug(cadences[0] if len(cadences) == 1 else expression)
        if len(zones_of[expression]) > 1:
            name += "_" + _slug(zone)
        tasks = tuple(sorted((task for _, task in jobs), key=lambda t: (t.host, t.runbook)))
        schedules.append(FleetSchedule(name, ", ".join(cadences), expression, zone, tasks))
    _check_unique(schedules)
    return sorted(schedules, key=lambda schedule: schedule.name)


def _check_unique(schedules: list[FleetSchedule]) -> None:
    """Two cadences written differently can reduce to one slug ("0 3 * * *" and a runbook's
    "daily" never do; two cron spellings might): number them rather than lose a DAG."""
    seen: set[str] = set()
    for index, schedule in enumerate(schedules):
        name, number = schedule.name, 1
        while name in seen:  # a numbered name may be another cadence's own ("7 2 * * *")
            number += 1
            name = f"{schedule.name}_{number}"
        seen.add(name)
        if name != schedule.name:
            schedules[index] = replace(schedule, name=name)


def _slug(text: str) -> str:
    """A DAG id part: letters, digits and '_' only."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "cron"
