"""Responsible for support incidents as event logs: each `upkeep incident` command is one
`incident` decision in the evidence ledger (subject: the incident id), and an incident's state
and SLA clocks are computed from its events alone (`follow`, `clocks`), so the same ledger always
gives the same due times."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from upkeep.config.support import SeverityTarget, Support
from upkeep.records import Decision
from upkeep.sla.clock import counted_minutes, due_at

__all__ = [
    "EVENTS",
    "INCIDENT",
    "Clock",
    "Incident",
    "attainment",
    "clocks",
    "follow",
    "incident_events",
]

INCIDENT = "incident"
EVENTS = ("open", "update", "ack", "pause", "resume", "resolve")


@dataclass
class Incident:
    """One incident as its events left it."""

    id: str
    title: str
    severity: str
    opened_at: datetime
    opened_by: str
    run_id: str | None = None
    acked_at: datetime | None = None
    resolved_at: datetime | None = None
    pauses: list[tuple[datetime, datetime | None]] = field(default_factory=list)
    notes: list[tuple[datetime, str, str]] = field(default_factory=list)

    @property
    def open(self) -> bool:
        return self.resolved_at is None

    @property
    def paused(self) -> bool:
        return bool(self.pauses) and self.pauses[-1][1] is None


@dataclass(frozen=True)
class Clock:
    """One SLA target of an incident at a moment: `used` is the fraction of the target spent
    (counted time), `state` one of running, warn, breached, paused, met, missed."""

    target: str  # "response" or "resolution"
    minutes: int
    due: datetime | None
    used: float
    state: str
    stopped_at: datetime | None


def incident_events(decisions: Iterable[Decision]) -> list[Decision]:
    """The incident decisions among `decisions`, in ledger order."""
    return [d for d in decisions if d.type == INCIDENT]


def follow(events: Iterable[Decision]) -> dict[str, Incident]:
    """Every incident, by id, as its events in order leave it; ValueError on an event that does
    not fit (an incident opened twice, an event before its open)."""
    found: dict[str, Incident] = {}
    for event in events:
        details: dict[str, Any] = dict(event.details)
        kind = details.get("event")
        if kind == "open":
            if event.subject in found:
                raise ValueError(f"incident {event.subject} is opened twice")
            found[event.subject] = Incident(
                event.subject,
                str(details.get("title", "")),
                str(details["severity"]),
                event.at,
                event.author,
                details.get("run_id"),
            )
            continue
        incident = found.get(event.subject)
        if incident is None:
            raise ValueError(f"incident {event.subject}: {kind} before it was opened")
        if kind == "update" and details.get("severity"):
            incident.severity = str(details["severity"])
        elif kind == "ack" and incident.acked_at is None:
            incident.acked_at = event.at
        elif kind == "pause" and not incident.paused:
            incident.pauses.append((event.at, None))
        elif kind == "resume" and incident.paused:
            incident.pauses[-1] = (incident.pauses[-1][0], event.at)
        elif kind == "resolve":
            if incident.paused:
                incident.pauses[-1] = (incident.pauses[-1][0], event.at)
            incident.resolved_at = event.at
        incident.notes.append((event.at, str(kind), event.reason))
    return found


def clocks(incident: Incident, support: Support, now: datetime) -> tuple[Clock, Clock]:
    """The response clock (stops at the first ack or the resolve) and the resolution clock (stops at
    resolve) of `incident` at `now`, under the targets of its current severity."""
    target = support.severity(incident.severity)
    answered = incident.acked_at or incident.resolved_at  # resolving answers it too
    resolved = incident.resolved_at
    return (
        _clock("response", target.response_min, incident, answered, target, support, now),
        _clock("resolution", target.resolution_min, incident, resolved, target, support, now),
    )


def _clock(
    name: str,
    minutes: int,
    incident: Incident,
    stopped: datetime | None,
    target: SeverityTarget,
    support: Support,
    now: datetime,
) -> Clock:
    hours = support.hours if target.clock == "business" else None
    pauses = incident.pauses
    due = due_at(incident.opened_at, minutes, hours, pauses)
    until = stopped if stopped is not None and stopped <= now else now
    used = counted_minutes(incident.opened_at, until, hours, pauses) / minutes
    if stopped is not None and stopped <= now:
        state = "met" if due is None or stopped <= due else "missed"
    elif due is not None and now >= due:
        state = "breached"
    elif incident.paused:
        state = "paused"
    elif used >= support.warn_at:
        state = "warn"
    else:
        state = "running"
    return Clock(name, minutes, due, used, state, stopped)


@dataclass(frozen=True)
class Attainment:
    severity: str
    resolved: int
    met: int

    @property
    def percent(self) -> float | None:
        return 100.0 * self.met / self.resolved if self.resolved else None


def attainment(
    incidents: Iterable[Incident], support: Support, since: datetime, until: datetime
) -> list[Attainment]:
    """Per configured severity: of the incidents resolved in [since, until), how many met both
    their response and resolution targets."""
    counts = {t.name: [0, 0] for t in support.severities}
    for incident in incidents:
        if incident.resolved_at is None or not since <= incident.resolved_at < until:
            continue
        if incident.severity not in counts:
            continue
        response, resolution = clocks(incident, support, incident.resolved_at + timedelta(0))
        counts[incident.severity][0] += 1
        if response.state != "missed" and resolution.state != "missed":
            counts[incident.severity][1] += 1
    return [Attainment(name, resolved, met) for name, (resolved, met) in counts.items()]
