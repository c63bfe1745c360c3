"""Responsible for whether a target is told about a runbook, and why: its newest run got worse
(a status the target is alerted on, after a better one or a less bad one), it recovered (after
the target was told it failed), or it stays failing and the last message is `remind_every`
old. A pure function of the runbook's last two runs and what the target was last told."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from upkeep.records import Status

__all__ = ["Told", "decide"]


@dataclass(frozen=True)
class Told:
    """The last message a target got about a runbook: about which run, its kind, and when."""

    run_id: str
    kind: str
    at: datetime


def decide(
    on: frozenset[Status],
    run_id: str,
    status: Status,
    previous: Status | None,
    told: Told | None,
    remind_every: timedelta | None,
    now: datetime,
) -> str | None:
    """`worse`, `recovered`, `reminder`, or None (nothing to say)."""
    alerting = status in on
    was_alerting = previous in on
    if told is not None and told.run_id == run_id:  # this run was already the subject
        return _reminder(alerting, told, remind_every, now)
    if alerting and (not was_alerting or previous is None or status.rank > previous.rank):
        return "worse"
    if alerting:
        return _reminder(alerting, told, remind_every, now)
    if told is not None and told.kind != "recovered":
        return "recovered"
    return None


def _reminder(
    alerting: bool, told: Told | None, remind_every: timedelta | None, now: datetime
) -> str | None:
    if not alerting or remind_every is None:
        return None
    if told is None or told.kind == "recovered" or now - told.at >= remind_every:
        return "reminder"
    return None
