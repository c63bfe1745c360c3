"""Responsible for the backup times the metrics export per database, read from the backup
store's manifests and verification records without changing the store (no recovery: a backup
may be running beside the run that writes the textfile)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from upkeep.backup.stores import BackupKind, DirectoryStore, missing_base
from upkeep.config import Config
from upkeep.records import parse_time

__all__ = ["DatabaseBackups", "backup_times"]


@dataclass(frozen=True)
class DatabaseBackups:
    """When one database's newest backup, newest verified full backup (what the backup runbook
    counts as its newest full) and newest verified backup were taken, and when a restore test
    last passed (None: there is none)."""

    database: str
    newest: datetime | None = None
    newest_full: datetime | None = None
    newest_verified: datetime | None = None
    last_restore_test: datetime | None = None


def backup_times(config: Config) -> list[DatabaseBackups]:
    """One entry per configured database when `backup.dir` is set, else none."""
    if config.backup.dir is None:
        return []
    store = DirectoryStore(config.backup.dir)
    manifests = store.manifests() if config.backup.dir.is_dir() else []
    by_id = {manifest.id: manifest for manifest in manifests}
    times = []
    for database in config.databases:
        newest = newest_full = newest_verified = last_test = None
        for manifest in manifests:  # oldest first
            if manifest.database != database.name:
                continue
            created = _time(manifest.created)
            newest = created
            verification = store.verification(manifest.id)
            if verification is not None and verification.ok:
                if missing_base(manifest, by_id) is None:  # else it cannot be restored now
                    newest_verified = created
                if manifest.kind == BackupKind.FULL:
                    newest_full = created
                tested = _time(verification.at)
                if tested is not None and (last_test is None or tested > last_test):
                    last_test = tested
        times.append(
            DatabaseBackups(database.name, newest, newest_full, newest_verified, last_test)
        )
    return times


def _time(text: str) -> datetime | None:
    try:
        return parse_time(text)
    except ValueError:
        return None
