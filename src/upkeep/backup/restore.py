"""Responsible for restoring a backup (full or incremental) and checking every byte on the way.

The backup's chain is read from the store piece by piece, each piece checked against the sha256
its manifest recorded (a missing or corrupt one raises `MissingPiece`/`CorruptPiece` naming it),
the blocks are written in order into a snapshot file, each block checked against its sha256 in
the block list and the block list against the manifest's digest of it, and
the engine restores that file into the target and runs its own checks. Row counts and sample
hashes (`upkeep.backup.samples`) of the restored target are compared with those the manifest
recorded at backup time; a manifest without sample hashes (written by an earlier version) says
so in `samples_note`. A file target's snapshot (SQLite) is assembled in a hidden folder beside
it, held with `flock`, so that it is linked into place whole and a restore that is killed leaves
the database's rows nowhere else; the next restore beside it removes what such a restore left.
Any other target's snapshot (PostgreSQL) is assembled in the temporary directory, where the next
restore by hand removes what one that was killed left.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import psutil

from upkeep.atomic import naming
from upkeep.backup.engines.interface import DatabaseEngine, RestoreReport
from upkeep.backup.engines.sqlite import SQLiteEngine
from upkeep.backup.errors import BackupDamaged, BackupError
from upkeep.backup.incremental import block_list, chain_of
from upkeep.backup.manifest import block_list_digest, piece_name
from upkeep.backup.pieces import BlockReader
from upkeep.backup.samples import NO_SAMPLE_HASHES, compare_samples
from upkeep.backup.stores.interface import BackupStore, CorruptPiece, Manifest

__all__ = ["RestoreOutcome", "assemble", "compare_rows", "restore_backup", "verify_pieces"]

# Blocks are small (SQLite pages): gather them into large writes.
WRITE_BUFFER = 16 << 20
# The hidden folder a snapshot is assembled in: `<prefix><pid>-<random>`.
ASSEMBLY_PREFIX = ".upkeep-restore-"
_ASSEMBLY = re.compile(rf"{re.escape(ASSEMBLY_PREFIX)}(\d+)-[a-z0-9_]+")


@dataclass(frozen=True)
class RestoreOutcome:
    """A restored backup: the engine's report plus the row counts and sample hashes compared
    with the manifest. `samples_checked` is the number of tables whose sample was compared;
    `samples_note` says why none was (`NO_SAMPLE_HASHES`, or a target that failed its checks)."""

    backup_id: str
    report: RestoreReport
    row_count_mismatches: tuple[str, ...]
    sample_mismatches: tuple[str, ...] = ()
    samples_checked: int = 0
    samples_note: str | None = None

    @property
    def problems(self) -> tuple[str, ...]:
        return self.report.problems + self.row_count_mismatches + self.sample_mismatches

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_pieces(store: BackupStore, manifest: Manifest) -> int:
    """Check the sha256 of every piece of `manifest` and of the backups it builds on.

    Returns the bytes checked; raises `MissingPiece`/`CorruptPiece` naming the first bad piece.
    """
    checked = 0
    for member in chain_of(store, manifest):
        for ref in member.pieces:
            checked += len(store.read_piece(member, ref.name))
    return checked


def assemble(store: BackupStore, manifest: Manifest, dest: Path) -> None:
    """Write the snapshot of `manifest` to the new file `dest`, checking every sha256."""
    chain = chain_of(store, manifest)
    entries = block_list(store, chain)
    if block_list_digest(entries) != manifest.sha256:
        raise BackupDamaged(f"backup {manifest.id}: its block list differs from its manifest's")
    pieces = BlockReader(store, chain)
    sha256 = hashlib.sha256
    descriptor = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # rows: private
    # A full disk fails a write, which names no file: the snapshot's path says which disk.
    with naming(dest), open(descriptor, "wb", buffering=WRITE_BUFFER) as out:
        for position, entry in enumerate(entries):
            block = pieces.block(entry)
            if sha256(block).digest() != entry.sha256:
                raise CorruptPiece(
                    f"{chain[entry.owner].id}/{piece_name(entry.piece)}",
                    f"block {position} of the snapshot differs from its sha256",
                )
            out.write(block)
        out.flush()
        os.fsync(out.fileno())
    # Pieces no block needed any more are still part of the backup: check them too.
    for member in chain:
        for ref in member.pieces:
            if (member.id, ref.name) not in pieces.read:
                store.read_piece(member, ref.name)


def restore_backup(
    store: BackupStore,
    manifest: Manifest,
    engine: DatabaseEngine,
    target: str,
    *,
    scratch: Path | None = None,
) -> RestoreOutcome:
    """Restore `manifest` into `target` (SQLite: a new file; PostgreSQL: a new database).

    A file target's snapshot is assembled in a hidden folder beside it (see `_beside`), any
    other target's in `scratch` (default: the temporary directory); what an earlier restore
    killed there left is removed, and named in the report's notes.
    """
    if manifest.engine != engine.engine:
        raise BackupError(
            f"backup {manifest.id} is a {manifest.engine} backup; cannot restore it with "
            f"the {engine.engine} engine"
        )
    samples = manifest.sample_hashes  # an unreadable record fails before anything is restored
    cleared: list[str] = []
    if isinstance(engine, SQLiteEngine):
        assembly = _beside(Path(target), cleared)
    else:
        assembly = _temporary(scratch, cleared)
    with assembly as workdir:
        snapshot = workdir / "snapshot"
        assemble(store, manifest, snapshot)
        report = engine.restore(snapshot, target)
    if cleared:
        report = replace(report, notes=(*report.notes, *cleared))
    rows = compare_rows(manifest.row_counts, report)
    if samples is None:
        return RestoreOutcome(manifest.id, report, rows, samples_note=NO_SAMPLE_HASHES)
    if report.problems:
        return RestoreOutcome(
            manifest.id, report, rows, samples_note="not compared: the restored copy failed"
        )
    try:
        found = engine.sample_hashes(target, samples.spec)
    except BackupError as exc:
        return RestoreOutcome(manifest.id, report, rows, (f"sample hashes: {exc}",))
    mismatches = compare_samples(samples.tables, found, samples.spec.seed)
    return RestoreOutcome(manifest.id, report, rows, mismatches, len(samples.tables))


def compare_rows(expected: dict[str, int], report: RestoreReport) -> tuple[str, ...]:
    if report.problems:
        return ()  # counts of a target that failed its own checks say nothing more
    found = report.row_counts
    return tuple(
        f"table {table}: {found.get(table)} rows restored, the backup recorded {rows}"
        for table, rows in sorted(expected.items())
        if found.get(table) != rows
    ) + tuple(
        f"table {table}: restored but not in the backup's manifest"
        for table in sorted(set(found) - set(expected))
    )


@contextlib.contextmanager
def _temporary(scratch: Path | None, cleared: list[str]) -> Iterator[Path]:
    """A new folder (0700) in `scratch`, else in the temporary directory: there, the assembly
    folders of this user's restores that were killed are removed first (the snapshot they hold
    is every row of a database)."""
    if scratch is not None:
        with _held_folder(scratch) as workdir:
            yield workdir
        return
    folder = Path(tempfile.gettempdir())
    cleared += _clear_assemblies(folder, owner=os.getuid())
    with _held_folder(folder) as workdir:
        yield workdir


@contextlib.contextmanager
def _held_folder(parent: Path) -> Iterator[Path]:
    """A new assembly folder (0700) in `parent`, named with this process's pid and held with
    an exclusive `flock` while in use, so that a later restore can tell a killed restore's
    folder from a running one's (`_clear_assemblies`); removed afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix=f"{ASSEMBLY_PREFIX}{os.getpid()}-", dir=parent))
    held = os.open(workdir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(held, fcntl.LOCK_EX)
        yield workdir
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        os.close(held)


@contextlib.contextmanager
def _beside(target: Path, cleared: list[str]) -> Iterator[Path]:
    """A held assembly folder beside the file `target`, on its filesystem, so the snapshot is
    linked into place rather than copied. Folders made for the target are removed again when
    the restore fails before placing it."""
    made = [folder for folder in (target.parent, *target.parent.parents) if not folder.exists()]
    target.parent.mkdir(parents=True, exist_ok=True)
    cleared += _clear(target)
    try:
        with _held_folder(target.parent) as workdir:
            yield workdir
    finally:
        if not (target.exists() or target.is_symlink()):  # failed before it was placed
            for folder in made:
                with contextlib.suppress(OSError):  # not empty: someone else's now
                    folder.rmdir()


def _clear(target: Path) -> list[str]:
    """Remove, beside `target`, the half-copied `.<name>.<pid>.restoring` of a restore into
    `target` that was killed, and the assembly folders of killed restores (`_clear_assemblies`)."""
    notes: list[str] = []
    try:
        entries = list(os.scandir(target.parent))
    except OSError:  # a folder one may write in but not list: nothing can be told
        return notes
    for entry in entries:
        aside = re.fullmatch(rf"\.{re.escape(target.name)}\.(\d+)\.restoring", entry.name)
        if (
            aside is not None
            and entry.is_file(follow_symlinks=False)
            and not _running(int(aside[1]))
        ):
            Path(entry.path).unlink(missing_ok=True)
            notes.append(f"removed {entry.path}: left by a restore that was stopped")
    return notes + _clear_assemblies(target.parent)


def _clear_assemblies(folder: Path, *, owner: int | None = None) -> list[str]:
    """Remove the assembly folders in `folder` (of `owner` only, when given) of restores that
    were killed: no process holds their `flock` and theirs is gone. One nobody holds whose pid
    runs again (reused) is named, not removed."""
    notes: list[str] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return notes
    for entry in entries:
        match = _ASSEMBLY.fullmatch(entry.name)
        if match is None or not entry.is_dir(follow_symlinks=False):
            continue
        try:
            held = os.open(entry.path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            if owner is not None and os.fstat(held).st_uid != owner:
                continue  # another user's restore: never ours to remove
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # a restore running now holds it
        finally:
            os.close(held)
        if _running(int(match[1])):
            notes.append(
                f"{entry.path} left by a restore: no restore holds it, but process"
                f" {match[1]} runs; remove it once no upkeep restore is running"
            )
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        notes.append(f"removed {entry.path}: left by a restore that was stopped")
    return notes


def _running(pid: int) -> bool:
    """Whether process `pid` exists and is not a zombie (a killed one not yet waited for)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
