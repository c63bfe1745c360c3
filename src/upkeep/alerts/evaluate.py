"""Responsible for alerting after runs: for every runbook's newest run and every target, decide
whether to tell (`decide`), compose one message per run (`compose`), deliver it, and record what
was sent, or why it was not, as a `notification` record in the evidence ledger. What was sent is
read back from those records, so a message that could not be delivered is tried again by the
next invocation, and one that was is never sent twice. One evaluation at a time (a lock in the
state folder), so two runs ending together do not both send."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from upkeep.alerts.decide import Told, decide
from upkeep.alerts.deliver import DeliveryError, deliver
from upkeep.alerts.message import compose
from upkeep.alerts.page import page
from upkeep.alerts.suppression import suppressed
from upkeep.alerts.triage import triage_rows
from upkeep.config import Config
from upkeep.evidence import DecisionEntry, EvidenceStore, LedgerEntry
from upkeep.records import Decision, Status

__all__ = ["NOTIFICATION", "NOTIFICATION_FAILED", "Sent", "alert"]

NOTIFICATION = "notification"
NOTIFICATION_FAILED = "notification-failed"
AUTHOR = "upkeep"
LOCK_WAIT_S = 60


@dataclass(frozen=True)
class Sent:
    target: str
    runbook: str
    run_id: str
    kind: str
    delivered: bool
    why: str = ""


def alert(
    config: Config,
    store: EvidenceStore,
    now: datetime,
    notify: Callable[[str], None] = lambda text: None,
) -> list[Sent]:
    """Tell every target what it should hear about the runbooks' newest runs; what was done."""
    settings = config.alerts
    if not settings.targets or not store.ledger_path.exists():
        return []
    from filelock import FileLock, Timeout  # here: the site and `list` import this module

    lock_path = config.state_dir / "locks" / "alerts.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(lock_path), timeout=LOCK_WAIT_S):
            return _alert(config, store, now, notify)
    except Timeout:
        notify(f"alerts: {lock_path} is held by another upkeep; its evaluation sends them")
        return []


def _alert(
    config: Config, store: EvidenceStore, now: datetime, notify: Callable[[str], None]
) -> list[Sent]:
    entries = store.entries()
    decisions = store.decisions()
    newest = _newest_two(entries)
    told = _told(decisions)
    done = []
    held: set[str] = set()  # runbooks a silence or an open maintenance window holds back
    for runbook, (latest, previous) in newest.items():
        why = suppressed(config, store, latest, now)
        if why:
            held.add(runbook)
        record = None
        for target in config.alerts.targets:
            kind = decide(
                target.on,
                latest.run_id,
                latest.status,
                previous.status if previous else None,
                told.get((target.name, runbook)),
                config.alerts.remind_every,
                now,
            )
            if kind is None:
                continue
            if why:
                notify(f"alerts: {runbook}: not sent to {target.name}, {why}")
                continue
            record = record or store.load(latest)
            on_call = None
            if target.schedule is not None:
                from upkeep.oncall import answer

                on_call = answer(config.oncall.schedule(target.schedule), now).who or "NOBODY"
            message = compose(
                kind,
                record,
                previous.status if previous else None,
                triage_rows(_notebook(config, record.runbook.path)),
                on_call,
                config.alerts.site_url,
            )
            details = {
                "target": target.name,
                "runbook": runbook,
                "kind": kind,
                "status": latest.status.value,
                "on_call": on_call,
            }
            try:
                deliver(target, message, now)
            except DeliveryError as exc:
                notify(f"alerts: not delivered: {exc}")
                store.record_decision(
                    Decision(NOTIFICATION_FAILED, latest.run_id, AUTHOR, now, str(exc), details)
                )
                done.append(Sent(target.name, runbook, latest.run_id, kind, False, str(exc)))
                continue
            # The title after its "[WARN] ": "health-check got worse", the runbook named once.
            reason = f"told {target.name} that {message.title.split('] ', 1)[1]}"
            store.record_decision(
                Decision(NOTIFICATION, latest.run_id, AUTHOR, now, reason, details)
            )
            done.append(Sent(target.name, runbook, latest.run_id, kind, True))
    if config.escalation.critical:
        done += page(config, store, entries, decisions, now, notify, held)
    return done


def _newest_two(
    entries: list[LedgerEntry],
) -> dict[str, tuple[LedgerEntry, LedgerEntry | None]]:
    """Per runbook its newest run and the one before (runs that were skipped do not count)."""
    found: dict[str, tuple[LedgerEntry, LedgerEntry | None]] = {}
    for entry in entries:
        if entry.status is Status.SKIPPED:
            continue
        latest = found.get(entry.runbook)
        found[entry.runbook] = (entry, latest[0] if latest else None)
    return found


def _told(decisions: list[DecisionEntry]) -> dict[tuple[str, str], Told]:
    told: dict[tuple[str, str], Told] = {}
    for entry in decisions:
        decision = entry.decision
        if decision.type != NOTIFICATION or decision.author != AUTHOR:
            continue
        key = (str(decision.details.get("target")), str(decision.details.get("runbook")))
        told[key] = Told(decision.subject, str(decision.details.get("kind")), decision.at)
    return told


def _notebook(config: Config, path: str) -> Path:
    notebook = Path(path)
    return notebook if notebook.is_absolute() else config.root / notebook
