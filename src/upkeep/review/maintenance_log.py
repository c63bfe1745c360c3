"""Responsible for the maintenance log: an append-only journal kept in the evidence ledger, with
one entry per maintenance review (the review's run) and one per `log-entry` decision (what a
person did by hand, with the run it concerns), read back in the order they happened."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from upkeep.findings import RunEvent
from upkeep.records import Decision

LOG_ENTRY = "log-entry"  # the decision type of an entry a person adds
REVIEW_RUNBOOK = "maintenance-review"


@dataclass(frozen=True)
class LogEntry:
    at: datetime
    by: str  # a person, or "maintenance-review" for a review's own entry
    text: str
    run_id: str  # the run it concerns (for a review: the review's run)


def log_entries(events: Iterable[RunEvent | Decision]) -> list[LogEntry]:
    """Every maintenance-log entry in `events`, oldest first."""
    entries: list[LogEntry] = []
    for event in events:
        if isinstance(event, Decision):
            if event.type == LOG_ENTRY:
                entries.append(LogEntry(event.at, event.author, event.reason, event.subject))
        elif event.runbook == REVIEW_RUNBOOK:
            text = event.record.summary or f"maintenance review, {event.record.status.value}"
            entries.append(LogEntry(event.at, REVIEW_RUNBOOK, text, event.run_id))
    return sorted(entries, key=lambda entry: entry.at)
