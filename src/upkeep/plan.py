"""Responsible for turning a request into a plan: which runbooks run, with which parameters.

Everything a user can get wrong is refused here, before any kernel starts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from upkeep import params, schedule
from upkeep.config import Config
from upkeep.errors import ParameterError
from upkeep.evidence import EvidenceStore, LedgerEntry
from upkeep.records import Status, Trigger, parse_time
from upkeep.registry import Registry, Runbook


@dataclass(frozen=True)
class PlannedRun:
    """A runbook with validated parameters, ready to run; `as_of` is the schedule's clock."""

    runbook: Runbook
    params: dict[str, Any]
    trigger: Trigger = Trigger.MANUAL
    as_of: datetime | None = None


@dataclass(frozen=True)
class RunbookState:
    """What `upkeep list` shows for one runbook."""

    runbook: Runbook
    last_status: Status | None
    last_run_id: str | None
    last_run_at: datetime | None
    due: bool
    next_due: datetime


def plan_named(
    registry: Registry,
    names: Iterable[str],
    assignments: list[str] | tuple[str, ...],
    trigger: Trigger,
) -> list[PlannedRun]:
    """Plan the named runbooks; `-p KEY=VALUE` assignments apply to each of them."""
    names = list(dict.fromkeys(names))
    if not names:
        raise ParameterError("name at least one runbook, or use --due")
    given = params.parse_assignments(assignments)
    plan = []
    for name in names:
        runbook = registry.require(name)
        plan.append(PlannedRun(runbook, params.validate(runbook, given), trigger))
    return plan


def last_runs(entries: Iterable[LedgerEntry]) -> dict[str, tuple[LedgerEntry, datetime]]:
    """The latest completed (not skipped) run of each runbook, with its time on the
    schedule's clock, from ledger entries."""
    latest: dict[str, tuple[LedgerEntry, datetime]] = {}
    for entry in entries:
        if entry.status is Status.SKIPPED:
            continue
        at = parse_time(entry.as_of or entry.started_at)
        # The latest by the schedule's clock, not the last line: a backfill with an earlier
        # --at must not make a runbook look as if it had not run since.
        if entry.runbook not in latest or at >= latest[entry.runbook][1]:
            latest[entry.runbook] = (entry, at)
    return latest


def states(
    registry: Registry, entries: Iterable[LedgerEntry], config: Config, at: datetime
) -> list[RunbookState]:
    """Each runbook's last run and whether it is due at `at`."""
    latest = last_runs(entries)
    result = []
    for runbook in registry.values():
        entry, last_at = latest.get(runbook.name, (None, None))
        last_at = last_at.astimezone(config.tz) if last_at else None
        result.append(
            RunbookState(
                runbook=runbook,
                last_status=entry.status if entry else None,
                last_run_id=entry.run_id if entry else None,
                last_run_at=last_at,
                due=schedule.is_due(runbook.cadence, last_at, at),
                next_due=schedule.next_due(runbook.cadence, last_at, at),
            )
        )
    return result


def plan_due(
    registry: Registry,
    store: EvidenceStore,
    config: Config,
    at: datetime,
    trigger: Trigger,
    assignments: list[str] | tuple[str, ...] = (),
) -> list[PlannedRun]:
    """Plan every runbook whose last completed run is older than its latest scheduled time
    (the registry's invalid runbooks are not in it: the caller names them)."""
    if assignments:
        raise ParameterError(
            "-p cannot be combined with --due: each runbook runs with its "
            "defaults; run it by name to pass parameters"
        )
    plan = []
    for state in states(registry, store.entries(), config, at):
        if state.due:
            # The registry checked every default already; a secret that does not resolve
            # fails that run (with evidence), not the night.
            values = params.validate(state.runbook, {}, require_secrets=False)
            plan.append(PlannedRun(state.runbook, values, trigger, as_of=at))
    return plan
