"""Responsible for applying the risk register's check waivers (`checks:` in `risk-register.yml`)
to the checks of a run: each check gets the waiver that matches its runbook and name, as it
stands on the run's day — holding, or not holding because it expired or has no approver (the
check then keeps its warn or fail, saying why) — and only the register gives waivers: one a
notebook wrote into its own output is dropped."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import date

from upkeep.config.risk_register import CheckWaiver, RiskRegister
from upkeep.records import Check, Status, Waiver

__all__ = ["apply_waivers", "waiver_record"]


def apply_waivers(
    checks: Iterable[Check], runbook: str, register: RiskRegister, today: date
) -> tuple[Check, ...]:
    """`checks` of a run of `runbook`, each with the register's waiver of it on `today` (a
    passing check carries none: there is nothing to accept)."""
    waived = []
    for check in checks:
        entry = next((w for w in register.checks if w.matches(runbook, check.name)), None)
        if check.status is Status.OK or entry is None:
            waived.append(replace(check, waiver=None))
        else:
            waived.append(replace(check, waiver=waiver_record(entry, today)))
    return tuple(waived)


def waiver_record(entry: CheckWaiver, today: date) -> Waiver:
    """What `entry` says of a check on `today`, as the run records it."""
    why_not = ""
    if entry.expired(today):
        why_not = f"expired on {entry.expires.isoformat()}"
    elif not entry.approved_by:
        why_not = "no approver"
    return Waiver(
        reason=entry.reason,
        expires=entry.expires.isoformat(),
        approved_by=entry.approved_by or "",
        owner=entry.owner or "",
        held=not why_not,
        why_not=why_not,
    )
