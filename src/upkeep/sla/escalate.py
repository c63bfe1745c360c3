"""Responsible for the SLA clock's messages: each open incident whose response or resolution
clock passed the warning fraction or breached is told to every alert target once per
(clock, state), each message kept as a `notification` decision like the runbook alerts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from upkeep.alerts.deliver import DeliveryError, deliver
from upkeep.alerts.evaluate import NOTIFICATION, NOTIFICATION_FAILED
from upkeep.alerts.message import Message
from upkeep.config import Config
from upkeep.errors import ConfigError
from upkeep.evidence import EvidenceStore
from upkeep.records import Decision
from upkeep.sla.incidents import Clock, Incident, clocks, follow, incident_events

__all__ = ["SlaSent", "escalate"]

AUTHOR = "upkeep"
TOLD_STATES = ("warn", "breached")


@dataclass(frozen=True)
class SlaSent:
    target: str
    incident: str
    clock: str
    state: str
    delivered: bool


def escalate(
    config: Config, store: EvidenceStore, now: datetime, notify: Callable[[str], None]
) -> list[SlaSent]:
    """Tell the targets about SLA clocks newly at warn or breached; nothing when support or
    alerts are not configured."""
    support = config.support
    if not support.configured or not config.alerts.targets:
        return []
    decisions = [entry.decision for entry in store.decisions()]
    told = {
        (str(d.details.get("target")), d.subject, str(d.details.get("sla")))
        for d in decisions
        if d.type == NOTIFICATION and d.details.get("sla")
    }
    sent: list[SlaSent] = []
    for incident in follow(incident_events(decisions)).values():
        if not incident.open:
            continue
        try:
            incident_clocks = clocks(incident, support, now)
        except ConfigError as exc:  # its severity was taken out of support: since it opened
            notify(f"sla: {incident.id}: clocks not evaluated: {exc}")
            continue
        for clock in incident_clocks:
            if clock.state not in TOLD_STATES:
                continue
            key = f"{clock.target}:{clock.state}"
            for target in config.alerts.targets:
                if (target.name, incident.id, key) in told:
                    continue
                sent.append(_tell(config, store, target, incident, clock, key, now, notify))
    return sent


def _tell(config, store, target, incident: Incident, clock: Clock, key, now, notify) -> SlaSent:
    message = _message(config, incident, clock)
    details = {"target": target.name, "incident": incident.id, "sla": key}
    try:
        deliver(target, message, now)
    except DeliveryError as exc:
        notify(f"sla: not delivered: {exc}")
        store.record_decision(
            Decision(NOTIFICATION_FAILED, incident.id, AUTHOR, now, str(exc), details)
        )
        return SlaSent(target.name, incident.id, clock.target, clock.state, False)
    reason = f"told {target.name}: {message.title}"
    store.record_decision(Decision(NOTIFICATION, incident.id, AUTHOR, now, reason, details))
    return SlaSent(target.name, incident.id, clock.target, clock.state, True)


def _message(config: Config, incident: Incident, clock: Clock) -> Message:
    target = config.support.severity(incident.severity)
    due = f"{clock.due.astimezone(config.tz):%Y-%m-%d %H:%M %Z}" if clock.due else "never"
    if clock.state == "breached":
        title = f"[SLA breached] {incident.id} {incident.severity} {clock.target} was due {due}"
    else:
        title = f"[SLA {clock.used:.0%}] {incident.id} {incident.severity} {clock.target} due {due}"
    lines = [f"{incident.title} ({incident.severity}: {target.description})."]
    if clock.state == "breached" and (target.schedule or target.role):
        lines.append(
            f"Escalate to the {target.role or 'on-call'}"
            + (f" of schedule {target.schedule}" if target.schedule else "")
            + "."
        )
    lines.append(f"upkeep incident ack|update|resolve {incident.id}")
    payload = {
        "runbook": f"incident-{incident.id}",
        "incident": incident.id,
        "severity": incident.severity,
        "clock": clock.target,
        "state": clock.state,
        "due": clock.due.isoformat() if clock.due else None,
        "escalate_to": {"schedule": target.schedule, "role": target.role},
    }
    return Message(title, "\n".join(lines), payload)
