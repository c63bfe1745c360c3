"""Responsible for paging: for every critical runbook whose newest runs fail, send the pages
`pages_due` says are due to their level's targets (the message names the person paged, the
level, and how to acknowledge), and record each as a `page` record in the evidence ledger
(`page-failed` when it could not be delivered, so the next invocation tries again). The
runs, pages and acknowledgements are read back from the ledger the caller already read."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from upkeep.alerts.deliver import DeliveryError, deliver
from upkeep.alerts.escalate import (
    ACKNOWLEDGE_ALERT,
    PAGE,
    PAGE_FAILED,
    Ack,
    PageDue,
    PageSent,
    RunSeen,
    fingerprint,
    pages_due,
)
from upkeep.alerts.message import Message, compose
from upkeep.alerts.triage import triage_rows
from upkeep.records import Decision, Status

if TYPE_CHECKING:
    from upkeep.alerts.evaluate import Sent
    from upkeep.config import Config
    from upkeep.evidence import DecisionEntry, EvidenceStore, LedgerEntry

__all__ = ["acks_in", "page", "pages_in", "runs_by_runbook"]

AUTHOR = "upkeep"


def page(
    config: Config,
    store: EvidenceStore,
    entries: list[LedgerEntry],
    decisions: list[DecisionEntry],
    now: datetime,
    notify: Callable[[str], None],
    held: set[str] | frozenset[str] = frozenset(),
) -> list[Sent]:
    """Send and record every page due now, but none about the runbooks `held` back (a silence,
    an open maintenance window); what was done."""
    from upkeep.alerts.evaluate import Sent

    runs = runs_by_runbook(entries)
    sent, acks = pages_in(decisions), acks_in(decisions)
    done: list[Sent] = []
    for runbook in sorted((config.escalation.critical & runs.keys()) - held):
        for due in pages_due(config.escalation, runbook, runs[runbook], sent, acks, now):
            who = _who(config, due, now)
            message = _message(config, store, entries, due, who)
            for target_name in due.target.targets:
                [target] = [t for t in config.alerts.targets if t.name == target_name]
                details = {
                    "target": target_name,
                    "runbook": runbook,
                    "opening": due.opening.run_id,
                    "round": due.round,
                    "level": due.level + 1,
                    "page": due.target.page,
                    "who": who,
                    "status": due.latest.status.value,
                    "fingerprint": fingerprint(runbook),
                }
                try:
                    deliver(target, message, now)
                except DeliveryError as exc:
                    notify(f"alerts: page not delivered: {exc}")
                    store.record_decision(
                        Decision(PAGE_FAILED, due.latest.run_id, AUTHOR, now, str(exc), details)
                    )
                    done.append(
                        Sent(target_name, runbook, due.latest.run_id, "page", False, str(exc))
                    )
                    continue
                reason = f"paged {who} (level {due.level + 1}) through {target_name}: {runbook}"
                store.record_decision(
                    Decision(PAGE, due.latest.run_id, AUTHOR, now, reason, details)
                )
                done.append(Sent(target_name, runbook, due.latest.run_id, "page", True))
    return done


def runs_by_runbook(entries: list[LedgerEntry]) -> dict[str, list[RunSeen]]:
    """Every runbook's runs in ledger order, skipped and dry runs left out."""
    runs: dict[str, list[RunSeen]] = {}
    for entry in entries:
        if entry.status is Status.SKIPPED or entry.dry_run:
            continue
        at = datetime.fromisoformat(entry.started_at)
        runs.setdefault(entry.runbook, []).append(RunSeen(entry.run_id, entry.status, at))
    return runs


def pages_in(decisions: list[DecisionEntry]) -> list[PageSent]:
    return [
        PageSent(
            str(d.decision.details.get("opening")),
            int(d.decision.details.get("round", 0)),
            int(d.decision.details.get("level", 1)) - 1,
            d.decision.at,
        )
        for d in decisions
        if d.decision.type == PAGE
    ]


def acks_in(decisions: list[DecisionEntry]) -> list[Ack]:
    return [
        Ack(d.decision.subject, d.decision.at, d.decision.author)
        for d in decisions
        if d.decision.type == ACKNOWLEDGE_ALERT
    ]


def _who(config: Config, due: PageDue, now: datetime) -> str:
    schedule = due.target.schedule
    if schedule is None:
        return due.target.page
    from upkeep.oncall import answer

    return answer(config.oncall.schedule(schedule), now).who or "NOBODY"


def _message(
    config: Config,
    store: EvidenceStore,
    entries: list[LedgerEntry],
    due: PageDue,
    who: str,
) -> Message:
    [entry] = [e for e in entries if e.run_id == due.latest.run_id]
    record = store.load(entry)
    notebook = Path(record.runbook.path)
    notebook = notebook if notebook.is_absolute() else config.root / notebook
    on_call = who if due.target.schedule is not None else None
    base = compose("page", record, None, triage_rows(notebook), on_call, config.alerts.site_url)
    title = (
        f"[PAGE {record.status.word}] {due.runbook}: {who} paged "
        f"(level {due.level + 1}{f', round {due.round + 1}' if due.round else ''})"
    )
    ack = f"upkeep ack {due.latest.run_id} --by NAME  (or: upkeep ack {fingerprint(due.runbook)})"
    body = (
        f"{base.body}\nPaged: {who} (level {due.level + 1}).\n"
        f"Failing since run {due.opening.run_id}.\nAcknowledge: {ack}"
    )
    payload = {
        **base.payload,
        "page": due.target.page,
        "level": due.level + 1,
        "round": due.round + 1,
        "opening": due.opening.run_id,
        "fingerprint": fingerprint(due.runbook),
    }
    return Message(title, body, payload)
