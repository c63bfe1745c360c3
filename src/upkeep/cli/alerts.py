"""Responsible for `upkeep alerts send|test|replay`: telling the alert targets what they should
hear now (a reminder, a delivery to retry, an escalation page; `upkeep run` and `upkeep watch`
do this too), sending a test message to check a target works, and replaying recorded evidence
through the escalation rules to measure the noise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import click

from upkeep.cli.console import format_time, print_err, print_json, print_out, print_table
from upkeep.cli.options import GlobalOptions
from upkeep.errors import UpkeepError

if TYPE_CHECKING:
    from upkeep.alerts.replay import Replay
    from upkeep.config import Config


@click.group("alerts")
def alerts_group() -> None:
    """Alerts to the targets of upkeep.yml's `alerts:` section."""


@alerts_group.command("send")
@click.pass_obj
def alerts_send_command(options: GlobalOptions) -> int:
    """Send what is due now: reminders for runbooks that stay failing, deliveries to retry, and
    escalation pages whose level's wait has passed without an acknowledgement.

    `upkeep run` and `upkeep watch` do this too; a cron line running this command every 15
    minutes keeps reminders and escalation on time between runs (no daemon). Exits 1 when a
    message could not be delivered.

    \b
    Example (crontab):
      */15 * * * *  cd /srv/upkeep && upkeep alerts send
    """
    from upkeep.alerts import alert
    from upkeep.alerts.message import KINDS
    from upkeep.alerts.suppression import announce_ending
    from upkeep.evidence import EvidenceStore

    config = options.load_config()
    if not config.alerts.targets:
        raise UpkeepError("alerts: no targets; expected alerts.targets in upkeep.yml")
    store = EvidenceStore(config.evidence_dir)
    from upkeep.sla.escalate import escalate

    now = datetime.now(config.tz)
    sent = alert(config, store, now, lambda text: print_err(f"upkeep: {text}"))
    for item in sent:
        if item.delivered:
            kind = KINDS[item.kind]
            print_out(f"told {item.target} that {item.runbook} {kind} (run {item.run_id})")
    ending = announce_ending(config, store, now, lambda text: print_err(f"upkeep: {text}"))
    for silence in ending:
        print_out(f"told the targets that the silence {silence.record_id} ends soon")
    sla = escalate(config, store, now, lambda text: print_err(f"upkeep: {text}"))
    for told in sla:
        if told.delivered:
            print_out(f"told {told.target} that {told.incident}'s {told.clock} SLA {told.state}")
    if not sent and not ending and not sla:
        print_out("nothing to send")
    failed = [i for i in sent if not i.delivered] + [t for t in sla if not t.delivered]
    return 1 if failed else 0


@alerts_group.command("test")
@click.argument("target_name", metavar="[TARGET]", required=False)
@click.pass_obj
def alerts_test_command(options: GlobalOptions, target_name: str | None) -> int:
    """Send a test message to TARGET (every target without one). Exits 1 when one fails."""
    from upkeep.alerts.deliver import DeliveryError, deliver
    from upkeep.alerts.message import Message

    config = options.load_config()
    targets = [t for t in config.alerts.targets if target_name in (None, t.name)]
    if not targets:
        known = ", ".join(t.name for t in config.alerts.targets) or "none"
        raise UpkeepError(f"alerts: no target {target_name!r}; expected one of: {known}")
    now = datetime.now(config.tz)
    failed = 0
    for target in targets:
        message = Message(
            "[TEST] upkeep alerts",
            f"A test message from upkeep to {target.name}, sent {now:%Y-%m-%d %H:%M %Z}.",
            {"kind": "test", "runbook": "test"},
        )
        try:
            deliver(target, message, now)
        except DeliveryError as exc:
            print_err(f"upkeep: alerts: {exc}")
            failed += 1
            continue
        print_out(f"{target.name}: delivered")
    return 1 if failed else 0


@alerts_group.command("replay")
@click.option("--from", "since", required=True, metavar="ISO-TIME", help="Start of the span.")
@click.option("--to", "until", required=True, metavar="ISO-TIME", help="End of the span.")
@click.option(
    "--every",
    default="15m",
    show_default=True,
    metavar="PERIOD",
    help="How often the cron line that drives escalation runs (5m, 15m, 1h).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_obj
def alerts_replay_command(
    options: GlobalOptions, since: str, until: str, every: str, as_json: bool
) -> int:
    """Replay the recorded evidence from --from to --to through the escalation rules: pages
    per on-call shift, how many were for problems that later needed action, and every
    fail-level problem of a critical runbook no page announced. Nothing is sent.
    Exits 1 when a problem would have been missed.

    \b
    Example:
      upkeep alerts replay --from 2026-11-01 --to 2026-12-01
    """
    from upkeep.alerts.replay import replay
    from upkeep.cli.options import parse_at
    from upkeep.evidence import EvidenceStore

    config = options.load_config()
    start, end = parse_at(since, config, "--from"), parse_at(until, config, "--to")
    if end <= start:
        raise click.BadParameter(f"expected a time after --from, got {until!r}", param_hint="--to")
    if end > datetime.now(UTC):
        # Replaying the future would page people for runs that have not happened.
        raise click.BadParameter(f"expected a time up to now, got {until!r}", param_hint="--to")
    period = _period(every)
    if not config.escalation.critical:
        raise UpkeepError("escalation: no critical runbooks; expected escalation.critical")
    store = EvidenceStore(config.evidence_dir)
    if not store.ledger_path.exists():
        raise UpkeepError(f"no evidence ledger at {config.evidence_dir}: nothing to replay")
    result = replay(config, store, start, end, period)
    if as_json:
        print_json(_replay_json(result))
    else:
        _print_replay(config, result)
    return 1 if result.missed else 0


def _period(text: str) -> timedelta:
    units = {"m": timedelta(minutes=1), "h": timedelta(hours=1)}
    amount, unit = text[:-1], text[-1:]
    if not amount.isdigit() or int(amount) == 0 or unit not in units:
        raise click.BadParameter(
            f"expected a period such as 15m or 1h, got {text!r}", param_hint="--every"
        )
    return int(amount) * units[unit]


def _replay_json(result: Replay) -> dict[str, Any]:
    return {
        "from": result.start.isoformat(),
        "to": result.end.isoformat(),
        "every_s": result.every.total_seconds(),
        "pages": [
            {
                "runbook": page.runbook,
                "opening": page.opening,
                "level": page.level,
                "round": page.round,
                "who": page.who,
                "at": page.at.isoformat(),
                "needed_action": page.needed_action,
                "still_failing": page.still_failing,
            }
            for page in result.pages
        ],
        "needed_action": result.needed_action,
        "shifts": [
            {
                "schedule": item.shift.schedule,
                "who": item.shift.answer.who,
                "start": item.shift.start.isoformat(),
                "end": item.shift.end.isoformat(),
                "pages": item.pages,
            }
            for item in result.shifts
        ],
        "most_in_a_shift": result.most_in_a_shift,
        "missed": [{"run_id": run.run_id, "status": run.status.value} for run in result.missed],
        "held": [
            {"runbook": runbook, "opening": opening, "why": why}
            for (runbook, opening), why in result.held.items()
        ],
    }


def _print_replay(config: Config, result: Replay) -> None:
    tz = config.tz
    print_out(
        f"Replay {format_time(result.start.astimezone(tz))} to "
        f"{format_time(result.end.astimezone(tz))}, evaluated after each run and every "
        f"{int(result.every.total_seconds() // 60)} min"
    )
    rows = [("SHIFT START", "SHIFT END", "ON CALL", "PAGES")]
    rows += [
        (
            format_time(item.shift.start.astimezone(tz)),
            format_time(item.shift.end.astimezone(tz)),
            item.shift.answer.who or "NOBODY",
            str(item.pages),
        )
        for item in result.shifts
        if item.pages
    ]
    if len(rows) > 1:
        print_table(rows)
    print_out(
        f"{len(result.pages)} pages, {result.needed_action} for problems that later needed "
        f"action; at most {result.most_in_a_shift} in one on-call shift "
        f"({len(result.shifts)} shifts)"
    )
    for page in result.pages:
        action = (
            "needed action"
            if page.needed_action
            else "still failing (no run since)"
            if page.still_failing
            else "cleared by itself"
        )
        print_out(
            f"  {format_time(page.at.astimezone(tz))}  {page.runbook}: {page.who} "
            f"(level {page.level}, round {page.round}) - {action}"
        )
    for (runbook, opening), why in result.held.items():
        print_out(f"  held back: {runbook} ({opening}): {why}")
    for run in result.missed:
        print_err(f"upkeep: MISSED: {run.run_id} ({run.status.value}) was never paged")
    if not result.missed:
        print_out("no fail-level problem of a critical runbook was missed")
