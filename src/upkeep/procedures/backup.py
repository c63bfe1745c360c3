"""Responsible for the daily backup runbook's work: back up every database, check, keep or delete.

`back_up_all` backs up every configured database into the store named by `backup.dir`: first
it checks again the backups that are not verified yet, then takes a full or incremental backup
by policy (an incremental only on the newest *verified* backup, on a chain whose pieces all
check out), verifies it by restoring it to a temporary place when asked, checks the sha256 of
every stored piece when asked, and applies retention. It never raises for a single database:
what happened is returned. `record_backups` grades the result with `upkeep.report`, says in one
line what the run did (each database's backup size, what it added to the store, whether its
restore check passed) and, after recording, raises `BackupError` when a backup could not be taken
at all (the run then ends in `error`). Restoring by hand is `upkeep.procedures.restore`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from upkeep import report
from upkeep.backup.engines import engine_for
from upkeep.backup.errors import BackupError
from upkeep.backup.incremental import BackupResult, chain_of, take_backup
from upkeep.backup.restore import RestoreOutcome, verify_pieces
from upkeep.backup.stores import (
    BackupKind,
    BackupStore,
    DamagedEntry,
    DirectoryStore,
    Manifest,
)
from upkeep.backup.verification import (
    SKIPPED,
    Recheck,
    recheck_unverified,
    verify_restore,
    verify_store,
)
from upkeep.config import BackupPolicy, Config, Database
from upkeep.errors import ConfigError
from upkeep.procedures.backup_retention import (
    RetentionOutcome,
    apply_retention,
)
from upkeep.records import Severity, Status
from upkeep.units import counted, human_size

__all__ = [
    "BackupRun",
    "DatabaseBackup",
    "back_up_all",
    "back_up_database",
    "choose_base",
    "nothing_to_back_up",
    "open_store",
    "record_backups",
    "summary",
    "verify_restore",
    "verify_store",
]


@dataclass(frozen=True)
class DatabaseBackup:
    """What backing up one database did. `error` is set when no backup could be taken."""

    database: str
    result: BackupResult | None = None
    previous: Manifest | None = None
    newest_full: Manifest | None = None
    chain_problem: str | None = None
    restore: RestoreOutcome | None = None
    restore_note: str | None = None
    error: str | None = None
    rechecked: tuple[Recheck, ...] = ()

    @property
    def sound(self) -> bool:
        """Taken, built on an intact chain, restored fine (when a restore was tried), and every
        earlier backup that was checked again passed."""
        restore_failed = (self.restore is not None and not self.restore.ok) or (
            self.restore is None
            and self.restore_note is not None
            and not self.restore_note.startswith(SKIPPED)
        )
        recheck_failed = any(not recheck.ok for recheck in self.rechecked)
        return not (self.error or self.chain_problem or restore_failed or recheck_failed)


@dataclass(frozen=True)
class BackupRun:
    store: str
    backups: tuple[DatabaseBackup, ...]
    bad_pieces: tuple[str, ...] | None = None
    retention: RetentionOutcome = RetentionOutcome()
    damaged: tuple[DamagedEntry, ...] = ()
    # Why there was nothing to do (no `backup:` section, no database): said, not graded.
    nothing_to_do: str | None = None


def nothing_to_back_up(config: Config) -> str | None:
    """Why the config asks for no backup at all, or None: no `backup:` section (its databases,
    if any, are named as not backed up), or no database to back up."""
    if config.backup.dir is None:
        names = ", ".join(database.name for database in config.databases)
        unsaved = f"; the databases {names} are not backed up" if names else ""
        return f"upkeep.yml has no backup: section: nothing to back up{unsaved}"
    if not config.databases:
        return "upkeep.yml lists no databases: nothing to back up"
    return None


def open_store(config: Config) -> BackupStore:
    """The store `backup.dir` names, after removing what interrupted backups left behind."""
    if config.backup.dir is None:
        raise ConfigError(f"{config.path}: backup.dir: required to take backups (a directory)")
    store = DirectoryStore(config.backup.dir)
    store.recover()
    return store


def choose_base(
    store: BackupStore, policy: BackupPolicy, database: Database
) -> tuple[Manifest | None, str, str | None]:
    """The backup to build an incremental on (None: take a full), why, and a chain problem.

    The base is the newest verified backup of the database: one whose check failed or never
    ran is never built on. A full backup is taken in `full` mode, for the first backup, when no
    backup is verified, when the chain already holds `full_every` backups, and when a piece of
    the chain is missing or corrupt (never build on a broken chain; the problem is returned so
    that it fails a check).
    """
    every = store.manifests(database.name)
    previous = [m for m in every if m.engine == database.engine]
    if policy.mode == BackupKind.FULL:
        return None, "policy mode is full", None
    if not previous:
        first = "first backup" if not every else f"first {database.engine} backup"
        return None, f"{first} of this database", None
    verified = [m for m in previous if store.verified(m.id)]
    if not verified:
        return None, f"no verified backup to build on (the newest, {previous[-1].id}, is not)", None
    base = verified[-1]
    try:
        chain = chain_of(store, base)
        if len(chain) >= policy.full_every:
            why = f"its chain holds {len(chain)} backups (full_every: {policy.full_every})"
            return None, why, None
        verify_pieces(store, base)
    except BackupError as exc:  # a missing or corrupt piece, a base that is gone
        return None, f"the chain of {base.id} is damaged", str(exc)
    return base, f"incremental on {base.id} ({len(chain)} in its chain)", None


def back_up_database(
    config: Config, store: BackupStore, database: Database, *, verify: bool, now: datetime
) -> DatabaseBackup:
    """Back up one database; errors are returned in `error`, not raised."""
    policy = config.backup
    try:
        engine = engine_for(database)
        rechecked = recheck_unverified(store, database) if verify else ()
        previous = (store.manifests(database.name) or [None])[-1]
        base, reason, chain_problem = choose_base(store, policy, database)
        result = take_backup(
            engine,
            store,
            base=base,
            compression_level=policy.compression_level,
            reason=reason,
            now=now,
            sample_rows=config.backup_verification.sample_rows,
        )
    except BackupError as exc:
        return DatabaseBackup(database.name, error=str(exc))
    outcome, note = verify_restore(store, result.manifest, database) if verify else (None, None)
    fulls = [
        m
        for m in store.manifests(database.name)
        if m.kind == BackupKind.FULL and store.verified(m.id)
    ]
    return DatabaseBackup(
        database.name,
        result=result,
        previous=previous,
        newest_full=fulls[-1] if fulls else None,
        chain_problem=chain_problem,
        restore=outcome,
        restore_note=note,
        rechecked=rechecked,
    )


def back_up_all(
    config: Config,
    *,
    verify: bool = True,
    check_store: bool = True,
    retention: bool = True,
    now: datetime | None = None,
) -> BackupRun:
    """Back up every configured database, then check the store and apply retention; nothing at
    all (and no store opened) when the config asks for no backup."""
    nothing = nothing_to_back_up(config)
    if nothing is not None:
        return BackupRun(str(config.backup.dir or ""), (), nothing_to_do=nothing)
    now = now or datetime.now(UTC)
    store = open_store(config)
    backups = tuple(
        back_up_database(config, store, database, verify=verify, now=now)
        for database in config.databases
    )
    bad = verify_store(store) if check_store else None
    damaged = tuple(store.damaged())
    # Retention waits for a day on which every backup was taken and the store checked out:
    # deleting old backups is the one step that cannot be undone.
    if not retention:
        kept = RetentionOutcome(skipped="retention turned off for this run")
    elif not all(b.sound for b in backups) or bad or damaged:
        kept = RetentionOutcome(
            skipped="a backup or its check failed, a stored piece is bad or a folder is damaged"
        )
    else:
        with store.deleting() as alone:
            if alone:
                kept = apply_retention(store, config.backup, now)
            else:  # a restore reading a backup retention would delete found it gone
                kept = RetentionOutcome(
                    skipped="a restore or a backup verification is reading the store"
                )
    return BackupRun(store.location, backups, bad, kept, damaged)


# ---------------------------------------------------------------- recording


def record_backups(run: BackupRun, policy: BackupPolicy, now: datetime | None = None) -> None:
    """Record checks and metrics of a backup run; then raise if a backup could not be taken."""
    now = now or datetime.now(UTC)
    if run.nothing_to_do is not None:
        report.check("backup:databases", Status.OK, message=run.nothing_to_do)
        return
    for backup in run.backups:
        _record_one(backup, policy, now)
    if run.bad_pieces is None:
        pass  # the store check was not asked for
    elif run.bad_pieces:
        report.check(
            "backup-store:pieces",
            Status.FAIL,
            value=len(run.bad_pieces),
            message="; ".join(run.bad_pieces[:5]) + (" ..." if len(run.bad_pieces) > 5 else ""),
        )
    else:
        report.check(
            "backup-store:pieces", Status.OK, message=f"every piece in {run.store} checks out"
        )
    _record_damaged(run)
    _record_retention(run.retention)
    report.summary(summary(run))
    errors = [f"{b.database}: {b.error}" for b in run.backups if b.error]
    if errors:
        raise BackupError("backup failed: " + "; ".join(errors))


def _record_one(backup: DatabaseBackup, policy: BackupPolicy, now: datetime) -> None:
    name = f"backup:{backup.database}"
    if backup.result is None:
        report.check(f"{name}:created", Status.FAIL, message=backup.error or "no backup taken")
        return
    manifest = backup.result.manifest
    report.check(
        f"{name}:created",
        Status.OK,
        value=manifest.size,
        unit="B",
        message=f"{manifest.kind} backup {manifest.id}: {backup.result.reason}",
    )
    if backup.chain_problem:
        report.check(f"{name}:chain", Status.FAIL, message=backup.chain_problem)
    _record_size(name, manifest, backup.previous, policy)
    _record_full_age(name, backup.newest_full, policy, now)
    _record_restore(name, backup)
    _record_rechecks(name, backup.rechecked)
    _record_metrics(backup.database, backup.result)


def _record_rechecks(name: str, rechecked: tuple[Recheck, ...]) -> None:
    """One check for the earlier backups that were not verified and were checked again."""
    if not rechecked:
        return
    failed = [recheck for recheck in rechecked if not recheck.ok]
    if failed:
        message = "; ".join(f"{r.backup_id} still fails its check: {r.detail}" for r in failed[:5])
        report.check(f"{name}:unverified", Status.FAIL, value=len(failed), message=message)
    else:
        ids = ", ".join(recheck.backup_id for recheck in rechecked)
        report.check(
            f"{name}:unverified",
            Status.OK,
            value=0,
            message=f"checked again, restored and verified: {ids}",
        )


def _record_damaged(run: BackupRun) -> None:
    if not run.damaged:
        report.check(
            "backup-store:folders", Status.OK, message=f"every backup in {run.store} is readable"
        )
        return
    report.check(
        "backup-store:folders",
        Status.FAIL,
        value=len(run.damaged),
        message="skipped, not readable as backups (repair or remove them by hand): "
        + "; ".join(str(entry) for entry in run.damaged[:5])
        + (" ..." if len(run.damaged) > 5 else ""),
    )


def _record_size(
    name: str, manifest: Manifest, previous: Manifest | None, policy: BackupPolicy
) -> None:
    """The size's change since the previous backup, signed as its message says: a shrink of
    more than `shrink_warn_percent` warns."""
    if previous is None or previous.size == 0:
        report.check(
            f"{name}:size", Status.OK, value=manifest.size, unit="B", message="no earlier backup"
        )
        return
    change = (manifest.size - previous.size) / previous.size * 100
    status = Status.WARN if -change > policy.shrink_warn_percent else Status.OK
    message = f"{human_size(manifest.size)}, previous {human_size(previous.size)} ({change:+.1f}%)"
    if status == Status.WARN:
        message += ": a sudden shrink; was data deleted?"
    report.check(
        f"{name}:size",
        status,
        value=round(change, 2),
        limit=-policy.shrink_warn_percent,
        unit="%",
        message=message,
    )


def _record_full_age(
    name: str, newest_full: Manifest | None, policy: BackupPolicy, now: datetime
) -> None:
    if newest_full is None:
        report.check(
            f"{name}:full-age", Status.WARN, message="no verified full backup in the store"
        )
        return
    age = (now - datetime.fromisoformat(newest_full.created)).total_seconds() / 86400
    status = Status.WARN if age > policy.max_full_age_days else Status.OK
    report.check(
        f"{name}:full-age",
        status,
        value=round(age, 2),
        limit=policy.max_full_age_days,
        unit=" days",
        message=f"newest verified full backup {newest_full.id}",
    )


def _record_restore(name: str, backup: DatabaseBackup) -> None:
    outcome = backup.restore
    note = backup.restore_note
    if outcome is None and note is None:
        return  # verification was not asked for
    if outcome is None and note is not None and note.startswith(SKIPPED):
        report.check(f"{name}:restore", Status.WARN, message=note)
        return
    if outcome is None:
        report.check(f"{name}:restore", Status.FAIL, message=note or "")
        return
    if outcome.ok:
        rows = sum(outcome.report.row_counts.values())
        report.check(
            f"{name}:restore",
            Status.OK,
            value=rows,
            unit=" rows",
            message="restored to a temporary place; engine checks and row counts match",
        )
    else:
        report.check(f"{name}:restore", Status.FAIL, message="; ".join(outcome.problems[:5]))
    for source_note in outcome.report.notes:
        report.finding(f"{name}:source", source_note, severity=Severity.WARN)


def _record_metrics(database: str, result: BackupResult) -> None:
    manifest = result.manifest
    labels = {"database": database, "kind": manifest.kind}
    seconds = max(result.duration_s, 1e-6)
    report.metric("backup_size_bytes", manifest.size, unit="B", labels=labels)
    report.metric("backup_stored_bytes", manifest.stored_bytes, unit="B", labels=labels)
    report.metric("backup_duration_seconds", round(result.duration_s, 3), unit="s", labels=labels)
    throughput = manifest.size / seconds / 1e6
    report.metric("backup_throughput_mb_per_s", round(throughput, 2), unit="MB/s", labels=labels)


def _record_retention(outcome: RetentionOutcome) -> None:
    if outcome.skipped:
        report.finding(
            "backup-retention", f"retention not applied: {outcome.skipped}", severity=Severity.INFO
        )
        return
    for backup_id in outcome.deleted:
        report.finding(
            f"backup-retention:{backup_id}", "deleted by retention", severity=Severity.INFO
        )
    if outcome.not_deleted:
        failed = [f"{backup_id}: {why}" for backup_id, why in outcome.not_deleted.items()]
        report.check(
            "backup-retention",
            Status.FAIL,
            value=len(failed),
            message=f"{counted(len(failed), 'backup')} past retention NOT deleted (out of the "
            f"store's listing, left in its hidden .deleting- folder): " + "; ".join(failed[:5]),
        )
    report.metric("backups_deleted", len(outcome.deleted))
    report.metric("backups_kept", len(outcome.kept))


def summary(run: BackupRun) -> str:
    """What a backup run did, in one line: per database its backup's kind and size, what it added
    to the store and whether its restore check passed (or why no backup was taken); then what
    retention deleted."""
    parts = [_database_summary(backup) for backup in run.backups] or ["no databases to back up"]
    if run.retention.deleted:
        parts.append(f"retention deleted {len(run.retention.deleted)}")
    if run.retention.not_deleted:
        parts.append(f"{len(run.retention.not_deleted)} NOT deleted")
    return "; ".join(parts)


def _database_summary(backup: DatabaseBackup) -> str:
    if backup.result is None:
        return f"{backup.database}: no backup ({backup.error or 'not taken'})"
    manifest, outcome, note = backup.result.manifest, backup.restore, backup.restore_note
    if outcome is None and note is None:
        restored = "no restore check"
    elif outcome is None and note is not None and note.startswith(SKIPPED):
        restored = "restore check skipped"
    else:
        restored = "restore check ok" if outcome and outcome.ok else "restore check FAILED"
    return (
        f"{backup.database}: {manifest.kind} {human_size(manifest.size)}, "
        f"stored {human_size(manifest.stored_bytes)}, {restored}"
    )
