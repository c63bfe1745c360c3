"""Responsible for `upkeep run`: the named runbooks, or every runbook that is due, planned,
run with the progress on stderr, and the exit code of the worst outcome. A named runbook that is
invalid stops the command before anything runs; with `--due` the valid runbooks run and each
invalid one is named on stderr and makes the exit code at least 2; `-p` sets a parameter of the
named runbooks, or with `--due` of each due runbook that declares it. `--due --at TIME` only
plans: it lists what would be due then and runs nothing, since a run's time is when it ran.
`--host` names the fleet host the runs are recorded under; `--exit-skipped` gives a scheduler
its own exit code for a run that could not start.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from upkeep.cli.console import (
    STATE_COLUMNS,
    RunProgress,
    format_time,
    print_err,
    print_json,
    print_table,
    run_summary,
    state_json,
    state_row,
)
from upkeep.cli.options import GlobalOptions, parse_at
from upkeep.errors import RunbookError
from upkeep.records import Status, Trigger

if TYPE_CHECKING:
    from upkeep.config import Config
    from upkeep.evidence import EvidenceStore
    from upkeep.plan import PlannedRun
    from upkeep.registry import InvalidRunbook
    from upkeep.run.kernels import KernelTemplate
    from upkeep.run.workflow import RunOutcome


@click.command("run")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option(
    "-p",
    "--param",
    "assignments",
    multiple=True,
    metavar="KEY=VALUE",
    help="Set a parameter of the named runbooks, or with --due of each due runbook that "
    "declares it (repeatable).",
)
@click.option(
    "--due", is_flag=True, help="Run every runbook that is due (missed runs catch up once)."
)
@click.option(
    "--at",
    metavar="ISO-TIME",
    help="With --due: only plan. List what would be due at this time and run nothing "
    "(a run's time is when it ran).",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    help="Runbooks run at once [default: the number of CPUs, or defaults.jobs].",
)
@click.option(
    "--trigger",
    type=click.Choice([trigger.value for trigger in Trigger]),
    help="Recorded as what started the run "
    "[default: ci when $CI is set, schedule with --due, else manual].",
)
@click.option(
    "--no-demo-service",
    is_flag=True,
    help="Do not start the demo system's HTTP service for the run.",
)
@click.option(
    "--host",
    "host_id",
    metavar="ID",
    envvar="UPKEEP_HOST_ID",
    help="This host's id in a fleet, written into each run's run.json [default: the config's "
    "host_id; $UPKEEP_HOST_ID]. It must match host_id when the config sets one.",
)
@click.option(
    "--exit-skipped",
    type=click.IntRange(min=0, max=125),
    default=0,
    show_default=True,
    help="The exit code when every run was skipped (could not start): a scheduler such as "
    "Airflow maps it to its own skipped state. Default: as ok.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the outcomes as JSON.")
@click.pass_obj
def run_command(
    options: GlobalOptions,
    names: tuple[str, ...],
    assignments: tuple[str, ...],
    due: bool,
    at: str | None,
    jobs: int | None,
    trigger: str | None,
    no_demo_service: bool,
    host_id: str | None,
    exit_skipped: int,
    as_json: bool,
) -> int:
    """Run the named runbooks now, or with --due every runbook that is due.

    \b
    Examples:
      upkeep run health-check -p top_groups=10
      upkeep run --due
      upkeep run --due -p dry_run=yes          # the due cleaning only reports
      upkeep run --due --at 2026-12-01T03:00   # what would be due then (runs nothing)
      upkeep run --host db-1 --exit-skipped 99 backup   # as a fleet's Airflow task runs it
    """
    if names and due:
        raise click.UsageError("give runbook names or --due, not both")
    if at and not due:
        raise click.UsageError("--at only applies with --due")
    if at is not None:
        config = with_host_id(options.load_config(), host_id)
        return show_due_plan(config, parse_at(at, config), assignments, as_json=as_json)
    from upkeep.run.kernels import KernelTemplate

    # The kernel template's imports (a second of CPU) overlap loading the config and planning
    # on the other core; it runs no code of ours, and is killed if nothing comes to run.
    template = KernelTemplate()
    template.start()
    try:
        config = with_host_id(options.load_config(), host_id)
        return run_runbooks(
            config,
            names,
            assignments,
            due_at=parse_at(at, config) if due else None,
            jobs=jobs,
            trigger=Trigger(trigger) if trigger else _default_trigger(due),
            start_demo_service=not no_demo_service,
            as_json=as_json,
            template=template,
            exit_skipped=exit_skipped,
        )
    finally:
        template.close()


def with_host_id(config: Config, host_id: str | None) -> Config:
    """The config with `--host` as its host id; ConfigError (exit 2, nothing ran) when it is no
    host id or names another host than the config's own `host_id:`, since the runs would land
    in that host's evidence under the wrong name."""
    from dataclasses import replace

    from upkeep.config.host_id import host_id_problem
    from upkeep.errors import ConfigError

    if host_id is None:
        return config
    if (problem := host_id_problem(host_id)) is not None:
        raise ConfigError(f"--host (or $UPKEEP_HOST_ID): {problem}")
    if config.host_id is not None and config.host_id != host_id:
        raise ConfigError(
            f"--host (or $UPKEEP_HOST_ID): {host_id!r} is not this config's host: "
            f"{config.path} says host_id: {config.host_id}; expected that id, or no --host"
        )
    return replace(config, host_id=host_id)


def _default_trigger(due: bool) -> Trigger:
    if os.environ.get("CI"):
        return Trigger.CI
    return Trigger.SCHEDULE if due else Trigger.MANUAL


def run_runbooks(
    config: Config,
    names: tuple[str, ...],
    assignments: tuple[str, ...],
    *,
    due_at: datetime | None,
    jobs: int | None,
    trigger: Trigger,
    start_demo_service: bool,
    as_json: bool,
    template: KernelTemplate | None = None,
    exit_skipped: int = 0,
) -> int:
    """Plan the named runbooks, or with `due_at` those due then, and run them; the exit code
    of the worst outcome (`exit_skipped` when every run was skipped). Bad input raises before
    anything runs; with `due_at`, the invalid runbooks are named last and the exit code is at
    least theirs (2)."""
    from upkeep import plan, registry
    from upkeep.evidence import EvidenceStore
    from upkeep.records import exit_code

    runbooks = registry.discover(config.runbooks_dir, config.root)
    store = EvidenceStore(config.evidence_dir)
    refused: list[InvalidRunbook] = []
    if due_at is not None:
        planned = plan.plan_due(runbooks, store, config, due_at, trigger, assignments)
        refused = list(runbooks.invalid.values())
    else:
        planned = plan.plan_named(runbooks, names, assignments, trigger, config)
    if planned:
        outcomes = _run_with_progress(config, store, planned, jobs, start_demo_service, template)
    else:
        print_err("nothing is due")
        outcomes = []
    if as_json:
        print_json([_outcome_json(outcome) for outcome in outcomes])
    for item in refused:
        print_err(f"upkeep: error: {item.message} (not run)")
    code = exit_code(outcome.status for outcome in outcomes)
    if outcomes and all(outcome.status is Status.SKIPPED for outcome in outcomes):
        code = exit_skipped
    return max(code, RunbookError.exit_code) if refused else code


def show_due_plan(
    config: Config, moment: datetime, assignments: tuple[str, ...], *, as_json: bool
) -> int:
    """List what `run --due` would run at `moment`, as `upkeep list` shows runbooks, and run
    nothing: exit code 0, or 2 when some runbook is invalid (each named on stderr)."""
    from upkeep import plan, registry
    from upkeep.evidence import EvidenceStore

    runbooks = registry.discover(config.runbooks_dir, config.root)
    store = EvidenceStore(config.evidence_dir)
    planned = plan.plan_due(runbooks, store, config, moment, Trigger.MANUAL, assignments)
    names = {planned_run.runbook.name for planned_run in planned}
    entries = store.entries()
    due = [s for s in plan.states(runbooks, entries, config, moment) if s.runbook.name in names]
    if as_json:
        print_json([state_json(state) for state in due])
    elif due:
        print_table([STATE_COLUMNS, *map(state_row, due)])
    print_err(
        f"upkeep: planned for {format_time(moment)} only: {len(due) or 'nothing'} would be due, "
        "nothing was run (a run's time is when it ran: run --due without --at to run them)"
    )
    for item in runbooks.invalid.values():
        print_err(f"upkeep: error: {item.message} (not planned)")
    return RunbookError.exit_code if runbooks.invalid else 0


def _run_with_progress(
    config: Config,
    store: EvidenceStore,
    planned: list[PlannedRun],
    jobs: int | None,
    start_demo_service: bool,
    template: KernelTemplate | None,
) -> list[RunOutcome]:
    from upkeep.demo import prepared
    from upkeep.run.runner import run_plan

    demo_system = prepared(config, start_service=start_demo_service, notify=print_err)
    with demo_system, RunProgress(len(planned)) as progress:
        outcomes = run_plan(
            planned,
            config,
            store,
            jobs=jobs,
            progress=progress,
            notify=lambda text: print_err(f"upkeep: evidence: {text}"),
            template=template,
        )
    send_alerts(config, store)
    return outcomes


def send_alerts(config: Config, store: EvidenceStore) -> bool:
    """Tell the alert targets what changed; whether the alerts (and SLA clocks) could be
    evaluated. A failure to is said; it never changes the runs' exit code (`watch`'s, it
    does)."""
    from upkeep.alerts import alert
    from upkeep.alerts.message import KINDS
    from upkeep.alerts.suppression import announce_ending
    from upkeep.errors import UpkeepError

    try:
        sent = alert(
            config, store, datetime.now(config.tz), lambda text: print_err(f"upkeep: {text}")
        )
        for ending in announce_ending(
            config, store, datetime.now(config.tz), lambda text: print_err(f"upkeep: {text}")
        ):
            print_err(f"upkeep: alert: told the targets the silence {ending.record_id} ends soon")
    except (OSError, UpkeepError) as exc:
        print_err(f"upkeep: alerts: not evaluated: {_why(exc)}")
        return False
    for item in sent:
        if item.delivered:
            print_err(f"upkeep: alert: told {item.target} that {item.runbook} {KINDS[item.kind]}")
    return _send_sla_alerts(config, store)


def _why(exc: Exception) -> str:
    from upkeep.cli.group import system_error_text

    return system_error_text(exc) if isinstance(exc, OSError) and exc.errno else str(exc)


def _send_sla_alerts(config: Config, store: EvidenceStore) -> bool:
    """Tell the alert targets about incidents' SLA clocks at warn or breached (issue 15)."""
    from upkeep.errors import UpkeepError
    from upkeep.sla.escalate import escalate

    try:
        sent = escalate(config, store, datetime.now(config.tz), lambda t: print_err(f"upkeep: {t}"))
    except (OSError, UpkeepError, ValueError) as exc:
        print_err(f"upkeep: sla: not evaluated: {_why(exc)}")
        return False
    for item in sent:
        if item.delivered:
            print_err(f"upkeep: sla: told {item.target} {item.incident} {item.clock} {item.state}")
    return True


def _outcome_json(outcome: RunOutcome) -> dict[str, Any]:
    return {
        "run_id": outcome.record.run_id,
        "runbook": outcome.record.runbook.name,
        "status": outcome.status.value,
        "dry_run": outcome.record.dry_run,
        "summary": run_summary(outcome.record),
        "duration_s": round(outcome.record.duration_s, 3),
        "path": str(outcome.path),
    }
