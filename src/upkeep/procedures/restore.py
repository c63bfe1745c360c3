"""Responsible for restoring a backup by hand (`upkeep restore`): which backup (the newest
verified one unless one is named), into a new target checked before the store is opened, every
piece and row count checked on the way."""

from __future__ import annotations

from dataclasses import dataclass

from upkeep.backup.engines import engine_for
from upkeep.backup.errors import BackupDamaged, BackupNotFound
from upkeep.backup.restore import RestoreOutcome, restore_backup
from upkeep.backup.stores import (
    BackupStore,
    DamagedEntry,
    Manifest,
    Verification,
    missing_base,
)
from upkeep.config import Config
from upkeep.procedures.backup import open_store

__all__ = ["ManualRestore", "RestoreChoice", "choose_restore", "restore"]


@dataclass(frozen=True)
class RestoreChoice:
    """The backup a restore takes, why (`chosen`), its latest check, and the backups newer than
    it that were passed over because they are not verified."""

    manifest: Manifest
    chosen: str
    verification: Verification | None
    newer_unverified: tuple[str, ...] = ()


@dataclass(frozen=True)
class ManualRestore:
    """A restore by hand: the backup taken, what restoring it found, and the store's damaged
    folders (skipped; worth telling the person who restores)."""

    choice: RestoreChoice
    outcome: RestoreOutcome
    damaged: tuple[DamagedEntry, ...] = ()


def choose_restore(store: BackupStore, database: str, backup_id: str | None) -> RestoreChoice:
    """`backup_id`, or else the newest verified backup of `database`.

    Raises `BackupNotFound` (bad input, exit 2) for an id the store does not hold, for a
    database without backups, and when no backup of it is verified (naming the newest, to be
    named with --backup); `BackupDamaged` (exit 1) when `backup_id` names a damaged folder.
    """
    manifests = store.manifests(database)
    if backup_id is not None:
        for manifest in manifests:
            if manifest.id == backup_id:
                return RestoreChoice(manifest, "named by --backup", store.verification(backup_id))
        for entry in store.damaged():
            if entry.name == backup_id:
                raise BackupDamaged(f"backup store {store.location}: damaged backup {entry}")
        raise BackupNotFound(
            f"backup store {store.location} holds no backup {backup_id!r} of database "
            f"{database!r}; `upkeep backups {database}` lists them"
        )
    if not manifests:
        raise BackupNotFound(
            f"backup store {store.location} holds no backup of database {database!r}"
        )
    by_id = {m.id: m for m in manifests}
    verified = [m for m in manifests if store.verified(m.id) and missing_base(m, by_id) is None]
    if not verified:
        newest = manifests[-1]
        missing = missing_base(newest, by_id)
        if missing is not None:
            raise BackupNotFound(
                f"no backup of database {database!r} in {store.location} can be restored "
                f"verified; the newest, {newest.id}, is based on {missing}, which is not in the "
                "store (or is damaged)"
            )
        raise BackupNotFound(
            f"no backup of database {database!r} in {store.location} is verified; the newest, "
            f"{newest.id}, {_why_unverified(store.verification(newest.id))}; to restore it "
            f"anyway (every piece and row count is still checked): --backup {newest.id}"
        )
    chosen = verified[-1]
    newer = tuple(m.id for m in manifests[manifests.index(chosen) + 1 :])
    return RestoreChoice(chosen, "the newest verified backup", store.verification(chosen.id), newer)


def restore(
    config: Config, database: str, target: str, backup_id: str | None = None
) -> ManualRestore:
    """Restore the newest verified backup of `database` (or `backup_id`) into `target`, check it.

    SQLite: `target` is a new file path (made absolute), PostgreSQL the name of a new database;
    either raises `RestoreTargetError` (exit 2) when it exists, before the store is opened.
    Raises what `choose_restore` raises, and `BackupDamaged` naming a missing or corrupt piece;
    the outcome lists any other problem.
    """
    engine = engine_for(config.database(database))
    target = engine.restore_target(target)
    store = open_store(config)
    with store.reading():  # the nightly retention deletes nothing meanwhile
        choice = choose_restore(store, database, backup_id)
        outcome = restore_backup(store, choice.manifest, engine, target)
    return ManualRestore(choice, outcome, tuple(store.damaged()))


def _why_unverified(record: Verification | None) -> str:
    if record is None:
        return "was never checked"
    if not record.readable:
        return f"is not known to be sound: {record.detail}"
    return f"failed its check ({record.detail})"
