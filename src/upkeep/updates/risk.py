"""Responsible for applying the risk-acceptance register to what the review found: each
vulnerability is open or accepted (by an entry naming its package and one of its ids, not
expired); an entry that expired or has no owner or approver is a problem of the register, and
one that matches nothing any more is stale."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from upkeep.config.risk_register import RiskEntry, RiskRegister
from upkeep.updates.model import Vulnerability

__all__ = ["Acceptance", "RegisterProblem", "apply_register"]


@dataclass(frozen=True)
class RegisterProblem:
    """An entry that cannot stand: expired, or without an owner or approver."""

    entry: RiskEntry
    why: str


@dataclass(frozen=True)
class Acceptance:
    """The vulnerabilities split by the register, and what is wrong with the register."""

    open: tuple[Vulnerability, ...]
    accepted: tuple[tuple[Vulnerability, RiskEntry], ...]
    problems: tuple[RegisterProblem, ...]
    stale: tuple[RiskEntry, ...]


def apply_register(
    vulnerabilities: Iterable[Vulnerability],
    register: RiskRegister,
    today: date,
    *,
    complete: bool = True,
) -> Acceptance:
    """Split `vulnerabilities` into open and accepted. An expired entry accepts nothing. Stale
    entries are only named when the review was `complete` (every source audited): an entry
    for a source that could not be audited has not been shown to match nothing."""
    problems = [
        RegisterProblem(entry, why) for entry in register.entries for why in _problems(entry, today)
    ]
    holding = [entry for entry in register.entries if not entry.expired(today)]
    open_: list[Vulnerability] = []
    accepted: list[tuple[Vulnerability, RiskEntry]] = []
    used: set[int] = set()
    for vuln in vulnerabilities:
        for index, entry in enumerate(register.entries):
            if entry.matches(vuln.package, vuln.ids):
                used.add(index)
        entry = next((e for e in holding if e.matches(vuln.package, vuln.ids)), None)
        if entry is None:
            open_.append(vuln)
        else:
            accepted.append((vuln, entry))
    stale = (
        tuple(entry for index, entry in enumerate(register.entries) if index not in used)
        if complete
        else ()
    )
    return Acceptance(tuple(open_), tuple(accepted), tuple(problems), stale)


def _problems(entry: RiskEntry, today: date) -> list[str]:
    problems = []
    if entry.expired(today):
        problems.append(f"expired on {entry.expires.isoformat()}")
    if entry.owner is None:
        problems.append("has no owner")
    if entry.approved_by is None:
        problems.append("has no approver (approved_by)")
    return problems
