"""Responsible for what an alert says: one message per run, whatever the number of failing
checks (each named once, the first ten listed), with the runbook, the status and what it was
before, the first action from the runbook's triage table, who is on call, and a link to the run
page. Everything in it comes from the run record, which holds no secret and no unmasked personal
data (masked when the run was sealed), so neither does the message."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from upkeep.alerts.triage import TriageRow, first_action
from upkeep.evidence.layout import run_relpath
from upkeep.records import RunRecord, Status
from upkeep.records.vocabulary import iso

__all__ = ["KINDS", "Message", "compose"]

KINDS = {
    "worse": "got worse",
    "recovered": "recovered",
    "reminder": "is still failing",
    "page": "is failing and pages",
}
LISTED = 10


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    payload: dict[str, Any]


def compose(
    kind: str,
    record: RunRecord,
    previous: Status | None,
    triage: list[TriageRow],
    on_call: str | None,
    site_url: str | None,
) -> Message:
    runbook = record.runbook.name
    status = record.status
    bad = [c for c in record.checks if c.status.rank >= Status.WARN.rank]
    bad.sort(key=lambda c: -c.status.rank)
    was = f" (was {previous.word})" if previous is not None else ""
    title = f"[{status.word}] {runbook} {KINDS[kind]}{was}"
    lines = [f"{record.runbook.title or runbook}: {status.word}{was}, run {record.run_id}."]
    if record.error is not None:
        lines.append(f"Error: {record.error.ename}: {record.error.evalue}")
    for check in bad[:LISTED]:
        message = f": {check.message}" if check.message else ""
        message += f" ({check.waiver.note})" if check.waiver else ""
        lines.append(f"- {check.word} {check.name}{message}")
    if len(bad) > LISTED:
        lines.append(f"- and {len(bad) - LISTED} more")
    action = _action(record, bad, triage) if kind != "recovered" else None
    if action is not None:
        lines.append(f"First action: {action.first_action}")
        if action.escalate_to:
            lines.append(f"Escalate to: {action.escalate_to}")
    if on_call is not None:
        lines.append(f"On call: {on_call}")
    link = f"{site_url}{run_relpath(record.run_id, iso(record.started_at))}/" if site_url else None
    if link:
        lines.append(f"Run page: {link}")
    payload = {
        "kind": kind,
        "runbook": runbook,
        "run_id": record.run_id,
        "status": status.value,
        "previous": previous.value if previous else None,
        "checks": [{"name": c.name, "status": c.status.value} for c in bad],
        "first_action": action.first_action if action else None,
        "on_call": on_call,
        "link": link,
    }
    return Message(title, "\n".join(lines), payload)


def _action(record: RunRecord, bad: list, triage: list[TriageRow]) -> TriageRow | None:
    names = ["error"] if record.status is Status.ERROR else []
    names += [check.name for check in bad]
    for name in names:
        row = first_action(triage, name)
        if row is not None:
            return row
    return None
