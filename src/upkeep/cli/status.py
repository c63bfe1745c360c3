"""Responsible for `upkeep status` and `upkeep watch`: whether every runbook's scheduled runs
happened (on time, late, skipped, missed, overrunning, first run, never run), in the configured
time zone, as a table or JSON; `watch` is the dead man's switch for a second scheduler, silent on
stdout but for one line when all is well, one alert line on stderr per missed or overrunning
runbook. Both exit 1 when a run is missed or overrunning (`watch` also when there is no evidence
ledger at all), 2 for bad input or an invalid runbook, 3 when the evidence cannot be read. There
is no notification channel of its own: the alert is the line and the exit code; it also sends
what the alert targets are due (reminders, retries, escalation pages), as `upkeep alerts send`
does.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import click

from upkeep.cli.console import format_time, print_err, print_json, print_out, print_table
from upkeep.cli.group import EXIT_ENVIRONMENT_ERROR
from upkeep.cli.options import GlobalOptions, parse_at

if TYPE_CHECKING:
    from upkeep.config import Config
    from upkeep.coverage import Overrun, RunbookCoverage
    from upkeep.registry import Registry

STATUS_COLUMNS = ("NAME", "CADENCE", "STATUS", "SCHEDULED", "STARTED", "SINCE", "COUNTED")
EXIT_NO_EVIDENCE = 1  # `watch` with no ledger at all: as an alarm, it needs a person


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.option("--at", metavar="ISO-TIME", help="Account for runs as of this time instead of now.")
@click.pass_obj
def status_command(options: GlobalOptions, as_json: bool, at: str | None) -> int:
    """Show whether each runbook's scheduled runs happened: on time, late, missed, skipped,
    overrunning, first run or never run. Exit 1 when a run is missed or overrunning."""
    config = options.load_config()
    moment = parse_at(at, config)
    registry, coverage = _account(config, moment)
    if as_json:
        print_json(status_json(config, moment, coverage))
    else:
        _print_status(config, moment, coverage)
    return _exit_code(registry, coverage)


@click.command("watch")
@click.option("--json", "as_json", is_flag=True, help="Print the alerts as JSON for scripts.")
@click.option("--at", metavar="ISO-TIME", help="Check as of this time instead of now.")
@click.option(
    "--no-alerts",
    "quiet",
    is_flag=True,
    help="Do not send what the alert targets are due (a watcher on a read-only copy).",
)
@click.pass_obj
def watch_command(options: GlobalOptions, as_json: bool, at: str | None, quiet: bool) -> int:
    """Alert when a scheduled run was missed or a run is overrunning: for a second, independent
    scheduler (a systemd timer on another host), so a nightly that stopped is noticed.
    Exit 1 and one ALERT line on stderr per runbook when so."""
    config = options.load_config()
    moment = parse_at(at, config)
    registry, coverage = _account(config, moment)
    alerts = [alert for item in coverage for alert in alerts_of(item, config)]
    if not alerts and not _has_ledger(config):
        alerts.append(_no_evidence_alert(config))
    evaluated = True
    if at is None and not quiet:  # reminders, retries and escalation pages due now
        from upkeep.cli.run import send_alerts
        from upkeep.evidence import EvidenceStore

        evaluated = send_alerts(config, EvidenceStore(config.evidence_dir))
    for alert in alerts:
        print_err(f"upkeep: ALERT: {alert['message']}")
    if as_json:
        print_json({"timezone": config.timezone, "at": moment.isoformat(), "alerts": alerts})
    elif not alerts:
        print_out(
            f"upkeep watch: {len(coverage)} runbooks, no run missed or overrunning "
            f"as of {format_time(moment)}"
        )
    code = _exit_code(registry, coverage)
    if code == 0 and alerts:
        return EXIT_NO_EVIDENCE
    # A watcher that could not tell whether anyone must be paged has not done its job.
    return EXIT_ENVIRONMENT_ERROR if code == 0 and not evaluated else code


def _has_ledger(config: Config) -> bool:
    from upkeep.evidence import LEDGER

    return (config.evidence_dir / LEDGER).is_file()


def _no_evidence_alert(config: Config) -> dict[str, Any]:
    """A watcher that finds no evidence at all is watching nothing: the evidence is not where
    upkeep.yml says (a mount or a sync gone), or no run ever published here. Said, not silent."""
    return {
        "runbook": None,
        "kind": "no_evidence",
        "message": (
            f"no evidence ledger at {config.evidence_dir}: no run has published evidence there, "
            "or the evidence is not where upkeep.yml says (evidence_dir)"
        ),
    }


def _account(config: Config, moment: datetime) -> tuple[Registry, list[RunbookCoverage]]:
    """Every runbook's coverage at `moment`, from the ledger and the runs going on."""
    from upkeep import coverage, registry
    from upkeep.evidence import EvidenceStore
    from upkeep.evidence.in_progress import runs_in_progress

    runbooks = registry.discover(config.runbooks_dir, config.root)
    config.status.check_names([*runbooks, *runbooks.invalid], config.path)
    store = EvidenceStore(config.evidence_dir)
    going_on = runs_in_progress(config.evidence_dir)
    return runbooks, coverage.account(runbooks, store.entries(), going_on, config, moment)


def _exit_code(registry: Registry, coverage: list[RunbookCoverage]) -> int:
    """2 when a runbook is invalid (named on stderr, as `list` does), else the coverage's."""
    from upkeep.coverage import exit_code
    from upkeep.errors import RunbookError

    for item in registry.invalid.values():
        print_err(f"upkeep: error: {item.message}")
    return RunbookError.exit_code if registry.invalid else exit_code(coverage)


def _print_status(config: Config, moment: datetime, coverage: list[RunbookCoverage]) -> None:
    print_out(f"Time zone {config.timezone}; as of {format_time(moment)}")
    if not coverage:
        print_out(f"no runbooks under {config.runbooks_dir}")
        return
    from upkeep.coverage import Outcome

    rows = [STATUS_COLUMNS]
    for item in coverage:
        counted = item.counted
        # A first run answers no scheduled time: the one of its period is from before the
        # runbook existed, and shown beside it, it read as a run months late.
        scheduled = counted is not None and counted.outcome is not Outcome.FIRST_RUN
        rows.append(
            (
                item.runbook.name,
                item.runbook.cadence,
                item.health.word.upper(),
                format_time(counted.scheduled) if counted and scheduled else "-",
                format_time(counted.started_at.astimezone(config.tz))
                if counted and counted.started_at
                else "-",
                format_time(item.since.astimezone(config.tz)) if item.since else "-",
                _counts(item),
            )
        )
    print_table(rows)
    for item in coverage:
        for overrun in item.going_on:
            print_out(f"{item.runbook.name}: {_going_on_text(overrun, config)}")
    from upkeep.coverage import WAIVERS_NOTE

    print_out(f"Waived: {WAIVERS_NOTE}.")


def _counts(item: RunbookCoverage) -> str:
    """`412 on time, 3 late, 1 missed, 0 skipped` over every counted scheduled run, and
    `, first run` when the first period held a first run started after its start grace."""
    from upkeep.coverage import Outcome

    shown = (Outcome.ON_TIME, Outcome.LATE, Outcome.MISSED, Outcome.SKIPPED)
    counts = ", ".join(f"{item.count(outcome)} {outcome.word}" for outcome in shown)
    return counts + (", first run" if item.count(Outcome.FIRST_RUN) else "")


def _going_on_text(overrun: Overrun, config: Config) -> str:
    started = format_time(overrun.run.started_at.astimezone(config.tz))
    state = "OVERRUNNING" if overrun.overrunning else "running"
    return (
        f"{state}: run {overrun.run.run_id} (process {overrun.run.pid}) started {started}, "
        f"time limit {span(overrun.limit)}"
    )


def alerts_of(item: RunbookCoverage, config: Config) -> list[dict[str, Any]]:
    """What `watch` alerts on for one runbook: each missed run it has not made up for since
    its last run, and each run overrunning its limit and run grace."""
    from upkeep.coverage import Health, Outcome

    name, tz = item.runbook.name, config.tz
    alerts = []
    if item.health is Health.MISSED:
        missed = []
        for slot in reversed(item.slots):
            if slot.outcome is Outcome.MISSED:
                missed.append(slot.scheduled)
            elif slot.outcome is not Outcome.DUE:
                break
        last = _last_started(item)
        said_last = format_time(last.astimezone(tz)) if last else "never"
        alerts.append(
            {
                "runbook": name,
                "kind": "missed",
                "missed": [moment.isoformat() for moment in reversed(missed)],
                "last_started_at": last.astimezone(tz).isoformat() if last else None,
                "message": (
                    f"{name} ({item.runbook.cadence}) missed {len(missed)} scheduled run"
                    f"{'s' if len(missed) != 1 else ''}, the latest at "
                    f"{format_time(missed[0])} (start grace {span(item.grace.start)}); "
                    f"its last run started {said_last}"
                ),
            }
        )
    for overrun in item.going_on:
        if overrun.overrunning:
            alerts.append(
                {
                    "runbook": name,
                    "kind": "overrunning",
                    "run_id": overrun.run.run_id,
                    "started_at": overrun.run.started_at.astimezone(tz).isoformat(),
                    "message": f"{name} is {_going_on_text(overrun, config)}, "
                    f"run grace {span(item.grace.run)}",
                }
            )
    return alerts


def _last_started(item: RunbookCoverage) -> datetime | None:
    return next((s.started_at for s in reversed(item.slots) if s.started_at), None)


def status_json(
    config: Config, moment: datetime, coverage: list[RunbookCoverage]
) -> dict[str, Any]:
    """`upkeep status --json`: times ISO 8601 in the configured time zone."""
    from upkeep.coverage import WAIVERS_NOTE

    return {
        "timezone": config.timezone,
        "at": moment.isoformat(),
        "waived": WAIVERS_NOTE,
        "runbooks": [runbook_json(item, config) for item in coverage],
    }


def runbook_json(item: RunbookCoverage, config: Config) -> dict[str, Any]:
    from upkeep.coverage import Outcome

    tz = config.tz

    def local(moment: datetime | None) -> str | None:
        return moment.astimezone(tz).isoformat() if moment else None

    counted = item.counted
    return {
        "name": item.runbook.name,
        "cadence": item.runbook.cadence,
        "status": item.health.value,
        "alarm": item.health.alarming,
        "start_grace_minutes": item.grace.start / timedelta(minutes=1),
        "run_grace_minutes": item.grace.run / timedelta(minutes=1),
        "since": local(item.since),
        "scheduled": local(counted.scheduled) if counted else None,
        "run_id": counted.run_id if counted else None,
        "started_at": local(counted.started_at) if counted else None,
        "counts": {outcome.value: item.count(outcome) for outcome in Outcome},
        "missed": [local(s.scheduled) for s in item.slots if s.outcome is Outcome.MISSED],
        "late": [local(s.scheduled) for s in item.slots if s.outcome is Outcome.LATE],
        "going_on": [
            {
                "run_id": o.run.run_id,
                "pid": o.run.pid,
                "started_at": local(o.run.started_at),
                "limit_s": o.limit.total_seconds(),
                "overrunning": o.overrunning,
            }
            for o in item.going_on
        ],
    }


def span(length: timedelta) -> str:
    """`6h`, `15m`, `1h30m`, `45s`: a grace or a limit, short."""
    seconds = int(length.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else ""]
    parts.append(f"{seconds}s" if seconds or not any(parts) else "")
    return "".join(parts)
