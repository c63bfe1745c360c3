"""Responsible for `upkeep alerts send|test`: telling the alert targets what they should hear now
(a reminder is due, a delivery to retry; `upkeep run` does this after every run), and sending a
test message to check a target works."""

from __future__ import annotations

from datetime import datetime

import click

from upkeep.cli.console import print_err, print_out
from upkeep.cli.options import GlobalOptions
from upkeep.errors import UpkeepError


@click.group("alerts")
def alerts_group() -> None:
    """Alerts to the targets of upkeep.yml's `alerts:` section."""


@alerts_group.command("send")
@click.pass_obj
def alerts_send_command(options: GlobalOptions) -> int:
    """Send what is due now: reminders for runbooks that stay failing, deliveries to retry.

    `upkeep run` does this after every run; a cron line running this command every 15 minutes
    keeps reminders on time between runs. Exits 1 when a message could not be delivered.

    \b
    Example (crontab):
      */15 * * * *  cd /srv/upkeep && upkeep alerts send
    """
    from upkeep.alerts import alert
    from upkeep.alerts.message import KINDS
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
    sla = escalate(config, store, now, lambda text: print_err(f"upkeep: {text}"))
    for told in sla:
        if told.delivered:
            print_out(f"told {told.target} that {told.incident}'s {told.clock} SLA {told.state}")
    if not sent and not sla:
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
