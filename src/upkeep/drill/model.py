"""Responsible for what a disaster drill did and measured, as the drill fills it in and its
grading reads it: each phase with its times, each database's recovery (the backup restored, the
canaries, RPO and RTO), the failover's outcome, the incident lead and who was told."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from upkeep.backup.restore import RestoreOutcome
from upkeep.backup.stores import Manifest
from upkeep.drill.failover import FailoverOutcome

__all__ = [
    "NOT_CONFIGURED",
    "NO_TARGETS",
    "PHASES",
    "DatabaseRecovery",
    "DrillReport",
    "Phase",
    "PhaseFailed",
]

PHASES = ("declare", "backup", "loss", "restore", "failover", "verify", "teardown")
NOT_CONFIGURED = "not configured (no on-call rotation in oncall.yml)"
NO_TARGETS = "nobody: no alert targets (alerts.targets in upkeep.yml)"


class PhaseFailed(Exception):
    """A phase could not do its work; the drill stops there (tear-down still runs)."""


@dataclass
class Phase:
    name: str
    started: datetime
    ended: datetime | None = None
    ok: bool = True
    detail: str = ""

    @property
    def seconds(self) -> float:
        return ((self.ended or self.started) - self.started).total_seconds()


@dataclass
class DatabaseRecovery:
    """One database through the drill: the backup restored (and those passed over, with why),
    the canaries, the measured RPO and RTO, and what verification found."""

    database: str
    fresh_backup: str | None = None
    restored: Manifest | None = None
    target: str | None = None
    passed_over: list[str] = field(default_factory=list)
    outcome: RestoreOutcome | None = None
    source_canary: datetime | None = None
    restored_canary: datetime | None = None
    rpo_s: float | None = None
    rpo_basis: str = ""
    restored_at: datetime | None = None
    rto_s: float | None = None
    verify_problems: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class DrillReport:
    """Everything a drill did and measured; `failed_phase` names the phase that stopped it."""

    started: datetime
    phases: list[Phase] = field(default_factory=list)
    databases: dict[str, DatabaseRecovery] = field(default_factory=dict)
    loss_at: datetime | None = None
    failover: FailoverOutcome | None = None
    failover_note: str | None = None
    service_rto_s: dict[str, float | None] = field(default_factory=dict)
    failed_phase: str | None = None
    cleaned: list[str] = field(default_factory=list)
    left_behind: list[str] = field(default_factory=list)
    incident_lead: str = NOT_CONFIGURED
    communications: str = NO_TARGETS
    nothing_to_do: str | None = None
