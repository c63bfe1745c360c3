"""Responsible for turning a request into a plan: which runbooks run, with which parameters, and
which are due.

Everything a user can get wrong is refused here, before any kernel starts; `-p` with `--due`
sets a parameter of each due runbook that declares it. A run's time is when
it started. A runbook is due when no run of its current period counts: a skipped run or a dry run
never counts, and a run that ended in error counts only once the runbook's `retries` are used up
(until then the next `--due` runs it again).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from upkeep import params, schedule
from upkeep.config import Config
from upkeep.errors import ParameterError
from upkeep.evidence import EvidenceStore, LedgerEntry
from upkeep.records import Status, Trigger, parse_time
from upkeep.registry import Registry, Runbook


@dataclass(frozen=True)
class PlannedRun:
    """A runbook with validated parameters, ready to run."""

    runbook: Runbook
    params: dict[str, Any]
    trigger: Trigger = Trigger.MANUAL
    by_due: bool = False  # planned by `run --due`: run only while its period has no run yet


@dataclass(frozen=True)
class RunbookState:
    """One runbook's last run and whether it is due: what `upkeep list`, the dashboard, the plan
    and the runbook pages all show. The last run is the latest that ran (a skipped run did not;
    a dry run did, and says so)."""

    runbook: Runbook
    last_status: Status | None
    last_run_id: str | None
    last_run_at: datetime | None  # when the last run started, in the configured time zone
    due: bool
    next_due: datetime
    last_dry_run: bool = False
    last_waived: bool = False  # a check of the last run failed or warned, and was waived
    period_errors: int = 0  # runs of the current period that ended in error
    gave_up: bool = False  # those used up its retries: not due again until the next period
    # When the last run was a dry run: the latest run that was not one (a dry run that passed
    # must not hide a real run that failed), else None.
    real_status: Status | None = None
    real_run_id: str | None = None

    @property
    def worst_status(self) -> Status | None:
        """The worse of the last run's status and, after a dry run, the last real run's."""
        statuses = [s for s in (self.last_status, self.real_status) if s is not None]
        return max(statuses, key=lambda status: status.rank, default=None)


@dataclass(frozen=True)
class _Ran:
    """A run that ran, from its ledger line, and when it started (UTC)."""

    entry: LedgerEntry
    at: datetime


def plan_named(
    registry: Registry,
    names: Iterable[str],
    assignments: list[str] | tuple[str, ...],
    trigger: Trigger,
    config: Config,
) -> list[PlannedRun]:
    """Plan the named runbooks; `-p KEY=VALUE` assignments apply to each of them."""
    names = list(dict.fromkeys(names))
    if not names:
        raise ParameterError("name at least one runbook, or use --due")
    given = params.parse_assignments(assignments)
    plan = []
    for name in names:
        runbook = registry.require(name)
        values = params.validate(
            runbook, given, config_names=config_names(config), root=config.root
        )
        plan.append(PlannedRun(runbook, values, trigger))
    return plan


def config_names(config: Config) -> dict[str, list[str]]:
    """The entries of each section of upkeep.yml a parameter can name, by section."""
    return {"databases": [database.name for database in config.databases]}


def runs_by_runbook(entries: Iterable[LedgerEntry]) -> dict[str, list[_Ran]]:
    """Each runbook's runs that ran (not skipped), oldest first by when they started: the order
    of the ledger's lines is the order runs were published, not the order they ran."""
    ran: dict[str, list[_Ran]] = {}
    for entry in entries:
        if entry.status is not Status.SKIPPED:
            at = parse_time(entry.started_at).astimezone(UTC)
            ran.setdefault(entry.runbook, []).append(_Ran(entry, at))
    for runs in ran.values():
        runs.sort(key=lambda run: (run.at, run.entry.seq))
    return ran


def states(
    registry: Registry, entries: Iterable[LedgerEntry], config: Config, at: datetime
) -> list[RunbookState]:
    """Each runbook's last run and whether it is due at `at`."""
    ran = runs_by_runbook(entries)
    return [_state(runbook, ran.get(runbook.name, []), config, at) for runbook in registry.values()]


def _state(runbook: Runbook, ran: list[_Ran], config: Config, at: datetime) -> RunbookState:
    # As things stood at `at`: a run that started later (`--at` a moment in the past) had not
    # happened yet, so it neither makes the period done nor is the last run.
    until = schedule.seen_until(at)
    if until is not None:
        ran = [run for run in ran if run.at <= until]
    slot = schedule.previous_time(runbook.cadence, at)
    period = [run for run in ran if run.at >= slot and not run.entry.dry_run]
    errors = sum(run.entry.status is Status.ERROR for run in period)
    done = len(period) > errors  # a run of this period ended otherwise than in error
    gave_up = not done and errors > runbook.retries
    due = not done and not gave_up
    last = ran[-1] if ran else None
    real = None
    if last is not None and last.entry.dry_run:
        real = next((run for run in reversed(ran) if not run.entry.dry_run), None)
    return RunbookState(
        runbook=runbook,
        last_status=last.entry.status if last else None,
        last_run_id=last.entry.run_id if last else None,
        last_run_at=last.at.astimezone(config.tz) if last else None,
        due=due,
        next_due=slot if due else schedule.next_time(runbook.cadence, at),
        last_dry_run=last.entry.dry_run if last else False,
        last_waived=last.entry.waived if last else False,
        period_errors=errors,
        gave_up=gave_up,
        real_status=real.entry.status if real else None,
        real_run_id=real.entry.run_id if real else None,
    )


def plan_due(
    registry: Registry,
    store: EvidenceStore,
    config: Config,
    at: datetime,
    trigger: Trigger,
    assignments: list[str] | tuple[str, ...] = (),
) -> list[PlannedRun]:
    """Plan every runbook that is due at `at` (the registry's invalid runbooks are not in it:
    the caller names them). A `-p KEY=VALUE` applies to each due runbook that declares KEY; a KEY
    that no runbook declares, or a value any runbook declaring it refuses, due or not, is a
    ParameterError: a mistyped value in a nightly job is refused the first night, not on the
    night its weekly runbook is due (stopping every other runbook that night)."""
    given = params.parse_assignments(assignments)
    _check_declared(registry, given)
    plan = []
    for state in states(registry, store.entries(), config, at):
        runbook = state.runbook
        own = {key: value for key, value in given.items() if runbook.param(key) is not None}
        if not state.due and not own:
            continue
        # The registry checked every default already; a secret that does not resolve
        # fails that run (with evidence), not the night.
        values = params.validate(
            runbook,
            own,
            require_secrets=False,
            refuse_short=True,
            config_names=config_names(config),
            root=config.root,
        )
        if state.due:
            plan.append(PlannedRun(runbook, values, trigger, by_due=True))
    return plan


def not_due_now(
    planned: PlannedRun, entries: Iterable[LedgerEntry], config: Config, at: datetime
) -> str | None:
    """Why a run `run --due` planned is no longer due at `at`, or None: another `upkeep run`
    at the same time has done its period since it was planned, or has used up the period's
    retries. Its lock held, a run checks again: the plan was made before other processes ran
    what they had planned too."""
    if not planned.by_due:
        return None
    runbook = planned.runbook
    runs = runs_by_runbook(entries).get(runbook.name, [])
    state = _state(runbook, runs, config, at)
    if state.due:
        return None
    if state.gave_up:
        return (
            f"not due any more: another upkeep run used up its retries in this period "
            f"({state.period_errors} runs ended in error)"
        )
    slot = schedule.previous_time(runbook.cadence, at)
    done = next(
        run.entry.run_id
        for run in reversed(runs)
        if run.at >= slot and not run.entry.dry_run and run.entry.status is not Status.ERROR
    )
    return f"not due any more: another upkeep run ran it in this period meanwhile (run {done})"


def _check_declared(registry: Registry, given: dict[str, str]) -> None:
    """Each `-p` key given with `--due` must be a parameter of some runbook: a typo would
    otherwise apply to none of them, silently."""
    for key in given:
        if not any(runbook.param(key) is not None for runbook in registry.values()):
            declared = sorted(
                f"{runbook.name}: {', '.join(p.name for p in runbook.params)}"
                for runbook in registry.values()
                if runbook.params
            )
            raise ParameterError(
                f"-p {key}: no runbook declares a parameter {key!r} "
                f"(parameters by runbook: {'; '.join(declared) or 'none'})"
            )
