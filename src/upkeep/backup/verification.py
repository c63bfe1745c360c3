"""Responsible for checking stored backups and keeping the verdicts: a verification restore of
one backup into a private scratch place beside the store, the recheck of every backup of a
database that is not verified yet, and the sha256 of every stored piece.

A backup is *verified* when its latest check restored it and found it sound (`BackupStore.
verified`). One whose check failed, or whose run was stopped before its check, is not: it is
never the base of an incremental, never counted as the newest full and not what a restore takes
by default, and the next run with verification checks it again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from upkeep.backup.engines import DatabaseEngine, RestoreTargetError, engine_for
from upkeep.backup.errors import BackupError
from upkeep.backup.restore import RestoreOutcome, restore_backup
from upkeep.backup.stores.interface import BackupStore, CorruptPiece, Manifest, MissingPiece
from upkeep.config import Database

__all__ = ["SKIPPED", "Recheck", "recheck_unverified", "verify_restore", "verify_store"]

SKIPPED = "not verified: "


@dataclass(frozen=True)
class Recheck:
    """The check of a backup that was not verified before this run, and its verdict."""

    backup_id: str
    ok: bool
    detail: str


def verify_restore(
    store: BackupStore, manifest: Manifest, database: Database, *, label: str = ""
) -> tuple[RestoreOutcome | None, str | None]:
    """Restore `manifest` to a temporary target, check it, drop the target, record the verdict.

    `label` goes into the target's name, so that two kinds of check (the daily backup's and the
    weekly verification's) running at once never restore into, or drop, each other's target.

    Returns the outcome, or None and why there is none: the restore failed (a missing or corrupt
    piece, named), or it was not attempted (`SKIPPED` + why: the engine cannot drop a target).
    The scratch place is in the store (as private as the backups, and removed by the store's
    `recover` if this process is killed); an interrupted check records nothing, so the backup
    stays unverified.
    """
    engine = engine_for(database)
    if type(engine).drop is DatabaseEngine.drop:
        return None, f"{SKIPPED}the {engine.engine} engine cannot remove a verification restore"
    scratch = store.new_scratch(manifest.id)
    target = engine.verification_target(scratch, f"{label}{manifest.id}")
    try:
        engine.drop(target)  # what a check that was killed part way left (PostgreSQL: a database)
        outcome = restore_backup(store, manifest, engine, target, scratch=scratch)
    except (BackupError, RestoreTargetError) as exc:
        store.mark_verified(manifest.id, False, str(exc))
        return None, str(exc)
    finally:
        left_behind = _drop(engine, target)
        store.discard(scratch)
    store.mark_verified(manifest.id, outcome.ok, "; ".join(outcome.problems) or "restored, checked")
    if left_behind:
        report = replace(outcome.report, notes=(*outcome.report.notes, left_behind))
        outcome = replace(outcome, report=report)
    return outcome, None


def recheck_unverified(store: BackupStore, database: Database) -> tuple[Recheck, ...]:
    """Check again, oldest first, every backup of `database` that is not verified: its check
    failed, or its run was stopped before the check. Backups of another engine are left alone."""
    rechecks = []
    for manifest in store.manifests(database.name):
        if manifest.engine != database.engine or store.verified(manifest.id):
            continue
        outcome, note = verify_restore(store, manifest, database)
        if outcome is None and note is not None and note.startswith(SKIPPED):
            continue  # this engine cannot check a backup at all: nothing new to say
        if outcome is None:
            rechecks.append(Recheck(manifest.id, False, note or "not restored"))
        else:
            detail = "; ".join(outcome.problems) or "restored, checked"
            rechecks.append(Recheck(manifest.id, outcome.ok, detail))
    return tuple(rechecks)


def verify_store(store: BackupStore) -> tuple[str, ...]:
    """Check the sha256 of every piece of every backup; one line per bad piece found.

    A backup with a bad piece is recorded as failing its check: it is unverified from now on.
    """
    bad = []
    for manifest in store.manifests():
        for ref in manifest.pieces:
            try:
                store.read_piece(manifest, ref.name)
            except (CorruptPiece, MissingPiece) as exc:
                bad.append(str(exc))
                store.mark_verified(manifest.id, False, str(exc))
    return tuple(bad)


def _drop(engine: DatabaseEngine, target: str) -> str | None:
    """Remove a verification restore; what is left behind, if the engine could not remove it."""
    try:
        engine.drop(target)
    except (BackupError, RestoreTargetError, OSError) as exc:
        return f"the verification restore {target} could not be removed; remove it by hand: {exc}"
    return None
