"""Responsible for the yearly disaster drill: `run_drill` goes through the timed phases (declare,
a fresh full backup of every database, the simulated loss of a scratch copy, the restore of every
database from the store into a scratch target, failing back to older backups when one does not
restore, the failover onto the restored data, verification, tear-down) and measures the RPO by
the canary and the RTO from the loss to the first healthy probe; the live system is only read,
except for the canary row where a database opts in. What it measured is a `DrillReport`
(`upkeep.drill.model`); `record_drill` (`drill_grading`, re-exported here for the runbook)
grades it against the targets in `upkeep.yml`. How it works: docs/reference/recovery-strategy.md."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from upkeep.backup.engines import DatabaseEngine, RestoreTargetError, engine_for
from upkeep.backup.errors import BackupError
from upkeep.backup.incremental import take_backup
from upkeep.backup.restore import restore_backup
from upkeep.backup.samples import compare_samples
from upkeep.backup.stores import BackupStore
from upkeep.config import Config, Database
from upkeep.drill.canary import Canary, CanaryError, canary_for
from upkeep.drill.failover import FailoverError, FailoverOutcome, FailoverProcess
from upkeep.drill.model import (
    NO_TARGETS,
    NOT_CONFIGURED,
    PHASES,
    DatabaseRecovery,
    DrillReport,
    Phase,
    PhaseFailed,
)
from upkeep.drill.scratch import ScratchRecord, clean_left_behind, records_folder
from upkeep.procedures.backup import nothing_to_back_up, open_store
from upkeep.procedures.drill_grading import record_drill, targets_text, timeline
from upkeep.units import counted

__all__ = [
    "NOT_CONFIGURED",
    "PHASES",
    "DatabaseRecovery",
    "DrillReport",
    "Phase",
    "record_drill",
    "run_drill",
    "targets_text",
    "timeline",
]

SCRATCH_LABEL = "drill"


def run_drill(
    config: Config, *, fresh_backup: bool = True, healthy_timeout_s: float | None = None
) -> DrillReport:
    """Run every phase in turn; a phase that fails stops the drill, tear-down always runs."""
    drill = DrillReport(started=datetime.now(UTC))
    drill.nothing_to_do = nothing_to_back_up(config)
    if drill.nothing_to_do is not None:
        return drill
    record = ScratchRecord(records_folder(config))
    store = open_store(config)  # also removes scratch folders of killed drills
    scratch = store.new_scratch(f"{SCRATCH_LABEL}-{drill.started:%Y%m%dT%H%M%S}")
    timeout = healthy_timeout_s or config.disaster_drill.healthy_timeout_s
    with contextlib.ExitStack() as running:  # the failover process, stopped at tear-down
        try:
            with _phase(drill, "declare") as phase:
                drill.cleaned = clean_left_behind(config)
                phase.detail = _declare(config, drill)
            with _phase(drill, "backup") as phase:
                phase.detail = (
                    _fresh_backups(config, store, drill)
                    if fresh_backup
                    else "skipped (fresh_backup: false): the newest stored backups are restored"
                )
            with _phase(drill, "loss") as phase:
                phase.detail = _simulate_loss(config, scratch, drill)
            with _phase(drill, "restore") as phase:
                phase.detail = _restore_all(config, store, scratch, record, drill)
            with _phase(drill, "failover") as phase:
                phase.detail = _fail_over(config, record, drill, timeout, running, scratch)
            with _phase(drill, "verify") as phase:
                phase.detail = _verify(config, drill)
        except PhaseFailed:
            pass
        finally:
            with contextlib.suppress(PhaseFailed), _phase(drill, "teardown") as phase:
                running.close()
                phase.detail = _tear_down(config, store, scratch, record, drill)
    return drill


@contextlib.contextmanager
def _phase(drill: DrillReport, name: str) -> Iterator[Phase]:
    phase = Phase(name, datetime.now(UTC))
    drill.phases.append(phase)
    try:
        yield phase
    except (BackupError, RestoreTargetError, CanaryError, FailoverError, OSError) as exc:
        phase.ok, phase.detail = False, str(exc)
    finally:
        phase.ended = datetime.now(UTC)
    if not phase.ok:
        drill.failed_phase = drill.failed_phase or name
        raise PhaseFailed(name)


def _declare(config: Config, drill: DrillReport) -> str:
    """The drill starts: who leads it, who is told, and a heartbeat where databases opt in."""
    written = []
    for database in config.databases:
        canary = canary_for(config, database)
        drill.databases[database.name] = DatabaseRecovery(database.name)
        if canary.write("drill") is not None:
            written.append(database.name)
    heartbeat = f"canary written in {', '.join(written)}" if written else "no canary written"
    cleaned = f"; cleaned {counted(len(drill.cleaned), 'leftover')}" if drill.cleaned else ""
    drill.incident_lead = _incident_lead(config, drill.started)
    drill.communications = _announce(config, drill)
    return f"incident lead: {drill.incident_lead}; {heartbeat}{cleaned}"


def _incident_lead(config: Config, at: datetime) -> str:
    """Who is on call when the drill starts: in the schedule the first alert target names, else
    the rotation's first schedule."""
    from upkeep.oncall import answer

    schedules = config.oncall.schedules
    if not schedules:
        return NOT_CONFIGURED
    named = [t.schedule for t in config.alerts.targets if t.schedule is not None]
    schedule = config.oncall.schedule(named[0]) if named else schedules[0]
    who = answer(schedule, at).who
    return f"{who} ({schedule.name})" if who else f"NOBODY: a gap in {schedule.name}"


def _announce(config: Config, drill: DrillReport) -> str:
    """The communications plan tested: every alert target is told the drill started, marked as a
    drill; the report says who was told and when, and which delivery failed."""
    from upkeep.alerts.deliver import DeliveryError, deliver
    from upkeep.alerts.message import Message

    if not config.alerts.targets:
        return NO_TARGETS
    started = drill.started.astimezone(config.tz)
    message = Message(
        "[DRILL] disaster drill started: no real incident",
        f"The yearly disaster drill started at {started:%Y-%m-%d %H:%M %Z}. Incident lead: "
        f"{drill.incident_lead}. Nothing is down: this message tests that alerts reach you.",
        {"kind": "drill", "runbook": "disaster-drill"},
    )
    told = []
    for target in config.alerts.targets:
        try:
            deliver(target, message, datetime.now(config.tz))
        except DeliveryError as exc:
            told.append(f"{target.name}: not delivered ({exc})")
            continue
        told.append(f"{target.name} at {datetime.now(config.tz):%H:%M:%S %Z}")
    return "; ".join(told)


def _fresh_backups(config: Config, store: BackupStore, drill: DrillReport) -> str:
    for database in config.databases:
        result = take_backup(
            engine_for(database),
            store,
            base=None,
            compression_level=config.backup.compression_level,
            reason="fresh full backup for the disaster drill",
            sample_rows=config.backup_verification.sample_rows,
        )
        drill.databases[database.name].fresh_backup = result.manifest.id
    return "full backup of " + ", ".join(
        f"{name} ({recovery.fresh_backup})" for name, recovery in drill.databases.items()
    )


def _simulate_loss(config: Config, scratch: Path, drill: DrillReport) -> str:
    """The primary is lost: its newest canary is read (read only), then a scratch copy made
    with the backup engine stands in for it and is deleted. The live system is not touched."""
    for database in config.databases:
        recovery = drill.databases[database.name]
        recovery.source_canary = canary_for(config, database).newest()
        copy = scratch / f"primary-{database.name}"
        engine_for(database).snapshot(copy)
        copy.unlink()
    drill.loss_at = datetime.now(UTC)
    return f"scratch copies of {counted(len(config.databases), 'database')} deleted"


def _restore_all(
    config: Config, store: BackupStore, scratch: Path, record: ScratchRecord, drill: DrillReport
) -> str:
    failed = []
    for database in config.databases:
        recovery = drill.databases[database.name]
        _restore_one(database, store, scratch, record, recovery)
        if recovery.outcome is None:
            failed.append(f"{database.name}: {recovery.error}")
        else:
            _measure_rpo(canary_for(config, database), recovery, drill)
    if failed:
        raise BackupError("; ".join(failed))
    return "; ".join(
        f"{r.database} from {r.restored.id}" for r in drill.databases.values() if r.restored
    )


def _restore_one(
    database: Database,
    store: BackupStore,
    scratch: Path,
    record: ScratchRecord,
    recovery: DatabaseRecovery,
) -> None:
    """Restore the newest backup that restores whole; each one that does not is passed over
    (and marked unverified), and the next older one is tried."""
    engine = engine_for(database)
    candidates = [m for m in store.manifests(database.name) if m.engine == database.engine]
    if not candidates:
        recovery.error = f"the store {store.location} holds no backup of it"
        return
    for manifest in reversed(candidates):
        target = engine.verification_target(scratch, f"{SCRATCH_LABEL}_{manifest.id}")
        record.add_target(database.name, target)
        try:
            engine.drop(target)  # what a killed drill left under this name
            outcome = restore_backup(store, manifest, engine, target, scratch=scratch)
        except (BackupError, RestoreTargetError) as exc:
            outcome, why = None, str(exc)
        else:
            why = "; ".join(outcome.problems)
        if outcome is not None and outcome.ok:
            store.mark_verified(manifest.id, True, "restored and checked by the disaster drill")
            recovery.restored, recovery.target, recovery.outcome = manifest, target, outcome
            recovery.restored_at = datetime.now(UTC)
            return
        store.mark_verified(manifest.id, False, why)
        recovery.passed_over.append(f"{manifest.id}: {why}")
        _drop(engine, target, record, database.name)
    recovery.error = f"no backup restores whole ({len(candidates)} tried)"


def _measure_rpo(canary: Canary, recovery: DatabaseRecovery, drill: DrillReport) -> None:
    """RPO: the newest canary of the source minus the newest in the restored copy; without a
    canary, the time from the backup's snapshot to the loss (an upper bound)."""
    assert recovery.restored is not None and recovery.target is not None
    assert drill.loss_at is not None
    if canary.measures:
        recovery.restored_canary = canary.newest(recovery.target)
        if recovery.source_canary is not None and recovery.restored_canary is not None:
            gap = (recovery.source_canary - recovery.restored_canary).total_seconds()
            recovery.rpo_s = max(gap, 0.0)
            recovery.rpo_basis = "canary"
            return
    created = datetime.fromisoformat(recovery.restored.created)
    recovery.rpo_s = max((drill.loss_at - created).total_seconds(), 0.0)
    recovery.rpo_basis = (
        "backup time (no canary in the restored copy)"
        if canary.measures
        else "backup time (no canary configured)"
    )


def _fail_over(
    config: Config,
    record: ScratchRecord,
    drill: DrillReport,
    timeout: float,
    running: contextlib.ExitStack,
    scratch: Path,
) -> str:
    """Start the application on the restored data and probe it until every probe is healthy;
    it keeps running (for verification) until tear-down."""
    failover = config.disaster_drill.failover
    if failover is None:
        drill.failover_note = "not configured (disaster_drill.failover in upkeep.yml)"
        return drill.failover_note
    assert failover.database is not None and drill.loss_at is not None
    recovery = drill.databases[failover.database]
    assert recovery.target is not None
    if failover.kind == "demo" and config.database(failover.database).engine != "sqlite":
        raise FailoverError(
            f"failover kind demo serves a SQLite file; database {failover.database!r} is not one"
        )
    process = running.enter_context(
        FailoverProcess(config, failover, recovery.target, record, scratch)
    )
    drill.failover = outcome = process.wait_healthy(timeout)
    for name, moment in outcome.first_healthy.items():
        drill.service_rto_s[name] = (moment - drill.loss_at).total_seconds() if moment else None
    if not outcome.healthy:
        raise FailoverError(_unhealthy(outcome, timeout))
    recovery.rto_s = max(v for v in drill.service_rto_s.values() if v is not None)
    return f"{recovery.target} served on port {process.port}; healthy: " + ", ".join(
        f"{name} {seconds:.2f}s after the loss"
        for name, seconds in drill.service_rto_s.items()
        if seconds is not None
    )


def _verify(config: Config, drill: DrillReport) -> str:
    """Integrity, row counts and sample hashes (checked by the restore) and the sample hashes
    again on the copy the failover served; databases without a failover: restore end = RTO."""
    for database in config.databases:
        recovery = drill.databases[database.name]
        if recovery.outcome is None or recovery.restored is None or recovery.target is None:
            continue
        if recovery.rto_s is None and recovery.restored_at and drill.loss_at:
            recovery.rto_s = (recovery.restored_at - drill.loss_at).total_seconds()
        recovery.verify_problems = list(recovery.outcome.problems)
        samples = recovery.restored.sample_hashes
        if samples is not None:
            try:
                found = engine_for(database).sample_hashes(recovery.target, samples.spec)
            except BackupError as exc:
                recovery.verify_problems.append(f"sample hashes after failover: {exc}")
            else:
                recovery.verify_problems += compare_samples(
                    samples.tables, found, samples.spec.seed
                )
    bad = [r.database for r in drill.databases.values() if r.verify_problems]
    if bad:
        raise BackupError("verification failed for " + ", ".join(bad))
    return f"{counted(len(drill.databases), 'database')} verified"


def _unhealthy(outcome: FailoverOutcome, timeout: float) -> str:
    down = [name for name, moment in outcome.first_healthy.items() if moment is None]
    answers = "; ".join(
        f"{name}: {outcome.last[name].detail}" for name in down if name in outcome.last
    )
    if outcome.exited:
        return f"the failed-over system ended before it was healthy ({outcome.exited}); {answers}"
    return f"not healthy within {timeout:g}s: {answers}"


def _tear_down(
    config: Config, store: BackupStore, scratch: Path, record: ScratchRecord, drill: DrillReport
) -> str:
    for database in config.databases:
        recovery = drill.databases.get(database.name)
        if recovery is not None and recovery.target is not None:
            _drop(engine_for(database), recovery.target, record, database.name, drill)
    for entry in list(record.targets):  # a target whose restore raised half-way
        _drop(
            engine_for(config.database(entry["database"])),
            entry["target"],
            record,
            entry["database"],
            drill,
        )
    store.discard(scratch)
    if drill.left_behind:
        raise BackupError("left behind: " + "; ".join(drill.left_behind))
    return "every scratch target removed"


def _drop(
    engine: DatabaseEngine,
    target: str,
    record: ScratchRecord,
    database: str,
    drill: DrillReport | None = None,
) -> None:
    try:
        engine.drop(target)
    except (BackupError, RestoreTargetError, OSError) as exc:
        if drill is not None:
            drill.left_behind.append(f"{target}: {exc}")
        return
    with contextlib.suppress(ValueError):
        record.remove_target(database, target)
