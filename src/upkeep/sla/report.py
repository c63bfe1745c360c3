"""Responsible for SLA attainment as the reviews state it: per configured severity, how many of
the incidents resolved in a period met both their response and resolution targets."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from upkeep.config.support import Support
from upkeep.records import Decision
from upkeep.sla.incidents import attainment, follow, incident_events

__all__ = ["NOT_CONFIGURED", "attainment_text"]

NOT_CONFIGURED = "not configured (no SLA targets and no incidents exist yet)"


def attainment_text(
    decisions: Iterable[Decision], support: Support, since: datetime, until: datetime
) -> str:
    """`P1 1 of 2 met (50%); P2 none resolved; ...`, or NOT_CONFIGURED without targets."""
    if not support.configured:
        return NOT_CONFIGURED
    try:
        incidents = follow(incident_events(decisions)).values()
    except ValueError as exc:
        return f"not computed: the incident events do not fit ({exc})"
    parts = []
    for item in attainment(incidents, support, since, until):
        if item.percent is None:
            parts.append(f"{item.severity} none resolved")
        else:
            parts.append(f"{item.severity} {item.met} of {item.resolved} met ({item.percent:.0f}%)")
    return "; ".join(parts)
