"""Responsible for the backup procedure's retention: deleting, database by database, what the
policy no longer keeps; a backup that cannot be deleted is named with why, and the others
still go. (The backup procedure records the outcome.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from upkeep.backup.retention import BackupRef, plan_retention
from upkeep.backup.stores import BackupKind, BackupStore, StoreError
from upkeep.config import BackupPolicy

__all__ = ["RetentionOutcome", "apply_retention"]


@dataclass(frozen=True)
class RetentionOutcome:
    """Backups deleted by retention, and why each remaining one was kept."""

    deleted: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()
    skipped: str | None = None
    reasons: dict[str, str] = field(default_factory=dict)
    # Past retention, but its deletion failed (an immutable file, a mount point inside), with
    # why: out of the store's listing, and left for a person.
    not_deleted: dict[str, str] = field(default_factory=dict)


def apply_retention(store: BackupStore, policy: BackupPolicy, now: datetime) -> RetentionOutcome:
    """Delete what the retention policy no longer keeps, database by database."""
    deleted: list[str] = []
    kept: list[str] = []
    reasons: dict[str, str] = {}
    not_deleted: dict[str, str] = {}
    manifests = store.manifests()
    for name in sorted({m.database for m in manifests}):
        refs = [
            BackupRef(
                id=m.id,
                created=datetime.fromisoformat(m.created),
                full=m.kind == BackupKind.FULL,
                base=m.base,
                verified=store.verified(m.id),
            )
            for m in manifests
            if m.database == name
        ]
        plan = plan_retention(refs, policy, now)
        for backup_id in plan.delete:
            try:
                store.delete(backup_id)
            except (OSError, StoreError) as exc:  # the next database's retention still runs
                not_deleted[backup_id] = _why(exc)
                continue
            deleted.append(backup_id)
        kept += plan.keep
        reasons.update(plan.reasons)
    return RetentionOutcome(tuple(deleted), tuple(kept), None, reasons, not_deleted)


def _why(exc: OSError | StoreError) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    return str(exc)
