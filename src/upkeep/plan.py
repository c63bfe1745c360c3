"""Responsible for turning a request into a plan: which runbooks run, with which parameters.

Everything a user can get wrong is refused here, before any kernel starts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from upkeep import params, schedule
from upkeep.config import Config
from upkeep.errors import ParameterError, RunbookError
from upkeep.evidence import EvidenceStore
from upkeep.executor import PlannedRun
from upkeep.registry import Registry, Runbook


@dataclass(frozen=True)
class RunbookState:
    """What `upkeep list` shows for one runbook."""

    runbook: Runbook
    last_status: str | None
    last_run_id: str | None
    last_run_at: datetime | None
    due: bool
    next_due: datetime


def plan_named(
    registry: Registry, names: Iterable[str], assignments: list[str] | tuple[str, ...], trigger: str
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


def last_runs(store: EvidenceStore) -> dict[str, dict]:
    """The latest completed (not skipped) run of each runbook, from the ledger."""
    latest: dict[str, dict] = {}
    for entry in store.entries():
        if entry.status == "skipped":
            continue
        at = _parse_time(entry.as_of or entry.started_at)
        # The latest by the schedule's clock, not the last line: a backfill with an earlier
        # --at must not make a runbook look as if it had not run since.
        if entry.runbook not in latest or at >= latest[entry.runbook]["at"]:
            latest[entry.runbook] = {"run_id": entry.run_id, "status": entry.status, "at": at}
    return latest


def states(
    registry: Registry, store: EvidenceStore, config: Config, at: datetime
) -> list[RunbookState]:
    latest = last_runs(store)
    result = []
    for runbook in registry.values():
        last = latest.get(runbook.name)
        last_at = last["at"].astimezone(config.tz) if last else None
        result.append(
            RunbookState(
                runbook=runbook,
                last_status=last["status"] if last else None,
                last_run_id=last["run_id"] if last else None,
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
    trigger: str,
    assignments: list[str] | tuple[str, ...] = (),
) -> list[PlannedRun]:
    """Plan every runbook whose last completed run is older than its latest scheduled time."""
    if assignments:
        raise ParameterError(
            "-p cannot be combined with --due: each runbook runs with its "
            "defaults; run it by name to pass parameters"
        )
    plan = []
    for state in states(registry, store, config, at):
        if state.due:
            runbook = state.runbook
            try:
                # A secret that does not resolve fails that run (with evidence), not the night.
                values = params.validate(runbook, {}, require_secrets=False)
            except ParameterError as exc:
                raise RunbookError(f"{exc} (in its defaults)") from None
            plan.append(PlannedRun(runbook, values, trigger, as_of=at))
    return plan


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
