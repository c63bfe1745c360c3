"""Responsible for acknowledging alerts that page: which of `upkeep ack`'s keys name an alert (a
run id in the ledger, or `alert:RUNBOOK` of a critical runbook) rather than a finding, and
recording each acknowledgement as an `acknowledge-alert` record, which stops the escalation of
the failing streak it names (`upkeep.alerts.escalate`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from upkeep.alerts.escalate import (
    ACKNOWLEDGE_ALERT,
    FINGERPRINT_PREFIX,
    Ack,
    acknowledged,
    fingerprint,
    streak,
)
from upkeep.alerts.page import acks_in, runs_by_runbook
from upkeep.errors import UpkeepError
from upkeep.evidence import EvidenceStore
from upkeep.records import Decision

if TYPE_CHECKING:
    from upkeep.config import Config

__all__ = ["acknowledge_alerts", "split_alert_keys"]

DEFAULT_REASON = "acknowledged: working on it"


def split_alert_keys(
    config: Config, keys: tuple[str, ...]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(alert keys, the rest); UpkeepError for `alert:NAME` that names no critical runbook."""
    store = EvidenceStore(config.evidence_dir)
    run_ids = {e.run_id for e in store.entries()} if store.ledger_path.exists() else set()
    alerts, rest = [], []
    for key in dict.fromkeys(keys):
        if key.startswith(FINGERPRINT_PREFIX):
            runbook = key.removeprefix(FINGERPRINT_PREFIX)
            if runbook not in config.escalation.critical:
                known = ", ".join(sorted(config.escalation.critical)) or "none"
                raise UpkeepError(
                    f"{key}: no critical runbook {runbook!r} (escalation.critical in "
                    f"upkeep.yml: {known}); expected alert:RUNBOOK of one of them"
                )
            alerts.append(key)
        elif key in run_ids:
            alerts.append(key)
        else:
            rest.append(key)
    return tuple(alerts), tuple(rest)


def acknowledge_alerts(
    config: Config, keys: tuple[str, ...], *, reason: str, author: str
) -> list[str]:
    """Record one acknowledgement per key; a line saying what each one stops, or that an
    earlier acknowledgement had stopped it already (the new one is recorded all the same)."""
    store = EvidenceStore(config.evidence_dir)
    runs = runs_by_runbook(store.entries()) if keys else {}
    acks = acks_in(store.decisions()) if keys and store.ledger_path.exists() else []
    lines = []
    for key in keys:
        decision = Decision(
            ACKNOWLEDGE_ALERT, key, author, datetime.now(UTC), reason.strip() or DEFAULT_REASON
        )
        entry = store.record_decision(decision)
        stops = _stops(key, runs, acks, config)
        lines.append(f"acknowledged {key} as {author}: {stops}; ledger line {entry.seq}")
        acks.append(Ack(decision.subject, decision.at, decision.author))
    return lines


def _stops(key: str, runs: dict, acks: list[Ack], config: Config) -> str:
    for runbook, seen in runs.items():
        failing = streak(seen)
        if key == fingerprint(runbook) or key in {run.run_id for run in failing}:
            if not failing:
                return f"{runbook} is not failing"
            earlier = acknowledged(runbook, failing, acks)
            if earlier is not None:
                at = earlier.at.astimezone(config.tz).strftime("%Y-%m-%d %H:%M:%S %Z")
                return (
                    f"{runbook}'s escalation had already stopped: {earlier.by or 'someone'}"
                    f" acknowledged {earlier.subject} at {at}"
                )
            return f"{runbook}'s escalation stops (failing since {failing[0].run_id})"
    return "no failing streak holds it; nothing pages for it now"
