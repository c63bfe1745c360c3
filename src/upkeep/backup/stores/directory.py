"""Responsible for keeping backups in a directory: published whole by one rename, or not at all.

Layout under the store's root (0700, its files 0600: they hold every row of the databases)::

    <id>/                      manifest.json, index.zst, p000000.zst, ... (immutable once there)
    <id>/verified.json         the outcome of the latest restore check of that backup
    .staging-<pid>-<id>/       a backup being written; the pid tells `recover` if its owner lives
    .scratch-<pid>-<label>/    temporary work beside the backups (a verification restore)
    .deleting-<pid>-<id>/      a backup being deleted (moved out of sight first, then removed)

Every piece is fsynced as it is written; `put` writes the manifest, fsyncs the staging
directory and renames it to `<id>/`. A crash, a kill or a full disk leaves at most a hidden
folder of a process that is gone, which `recover` removes; nothing hidden counts as a backup.
A folder named like a backup that holds no readable manifest is *damaged*: reported by
`damaged`, skipped by `manifests`, never deleted. `recover` also moves the backups of a store
written by an earlier version out of its `backups/` subfolder (`_move_legacy_layout`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import psutil

from upkeep.atomic import fsync_dir, write_json
from upkeep.backup.manifest import MANIFEST_NAME, manifest_from_json, manifest_to_json
from upkeep.backup.stores.interface import (
    BackupStore,
    CorruptPiece,
    DamagedEntry,
    Manifest,
    MissingPiece,
    StoreError,
    Verification,
    write_synced,
)
from upkeep.backup.stores.removal import remove_tree
from upkeep.errors import UpkeepError
from upkeep.regular_file import NotAFile, TooLarge, read_own

__all__ = [
    "DELETING",
    "SCRATCH",
    "STAGING",
    "VERIFIED",
    "DirectoryStore",
    "check_id",
]

STAGING = ".staging-"
SCRATCH = ".scratch-"
DELETING = ".deleting-"
# A manifest or a verification record is a few kilobytes; one past this is no record of ours.
RECORD_BYTES = 16 * 2**20
VERIFIED = "verified.json"
# The layout of earlier versions: backups one level down, staging and deletion in shared folders.
LEGACY_BACKUPS = "backups"
LEGACY_STAGING = ".staging"
LEGACY_TRASH = ".trash"
_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}"
_ID = re.compile(_ID_PATTERN)
_PIECE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
# Only what upkeep named is ever removed: `<prefix><pid>-<id>` (earlier layout: `<pid>-<id>` in
# `.staging/`, `<id>.<pid>` in `.trash/`); the pid is the process doing the work.
_PREFIXES = "|".join(re.escape(prefix) for prefix in (STAGING, SCRATCH, DELETING))
_WORK = re.compile(rf"(?:{_PREFIXES})(\d+)-{_ID_PATTERN}")
_LEGACY_STAGING = re.compile(rf"(\d+)-{_ID_PATTERN}")
_LEGACY_TRASH = re.compile(rf"{_ID_PATTERN}\.(\d+)")


def check_id(backup_id: str) -> str:
    if not _ID.fullmatch(backup_id) or ".." in backup_id:
        raise StoreError(f"backup id {backup_id!r}: expected letters, digits, '.', '_' or '-'")
    return backup_id


class DirectoryStore(BackupStore):
    """Backups in a local directory (see the module docstring for the layout)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"DirectoryStore({str(self.root)!r})"

    @property
    def location(self) -> str:
        return str(self.root)

    def new_staging(self, backup_id: str) -> Path:
        return self._private_dir(STAGING, check_id(backup_id))

    def new_scratch(self, label: str) -> Path:
        return self._private_dir(SCRATCH, check_id(label))

    def put(self, staging: Path, manifest: Manifest) -> None:
        staging = self._own(staging, STAGING)
        check_id(manifest.id)
        wanted = {ref.name for ref in manifest.pieces}
        for child in staging.iterdir():
            if child.name not in wanted:
                remove_tree(child)
        for ref in manifest.pieces:
            path = staging / ref.name
            if not path.is_file() or path.stat().st_size != ref.size:
                raise StoreError(f"cannot publish {manifest.id}: piece {ref.name} is not staged")
        write_synced(staging / MANIFEST_NAME, manifest_to_json(manifest))
        fsync_dir(staging)
        target = self.root / manifest.id
        if target.exists() or target.is_symlink():
            raise StoreError(f"backup {manifest.id} exists already in {self.root}")
        os.rename(staging, target)
        fsync_dir(self.root)

    def discard(self, staging: Path) -> None:
        prefix = SCRATCH if Path(staging).name.startswith(SCRATCH) else STAGING
        remove_tree(self._own(staging, prefix))

    def manifests(self, database: str | None = None) -> list[Manifest]:
        found = [
            manifest
            for manifest in self._read_all()
            if isinstance(manifest, Manifest) and database in (None, manifest.database)
        ]
        return sorted(found, key=lambda m: (m.created, m.id))

    def damaged(self) -> list[DamagedEntry]:
        return [entry for entry in self._read_all() if isinstance(entry, DamagedEntry)]

    def read_piece(self, manifest: Manifest, name: str) -> bytes:
        ref = manifest.piece(name)
        label = f"{manifest.id}/{name}"
        if not _PIECE.fullmatch(name):
            raise CorruptPiece(label, "not a valid piece name")
        path = self.root / check_id(manifest.id) / name
        try:
            data = read_own(path, ref.size)  # never a link followed, nor more than it should be
        except FileNotFoundError:
            raise MissingPiece(label, f"{path} does not exist") from None
        except NotAFile as exc:
            raise CorruptPiece(label, f"{path} is {exc.kind}, not a piece: never read") from None
        except TooLarge as exc:
            raise CorruptPiece(label, f"{exc.size} bytes, the manifest says {ref.size}") from None
        except OSError as exc:
            raise CorruptPiece(label, f"cannot read {path}: {exc.strerror}") from None
        if len(data) != ref.size:
            raise CorruptPiece(label, f"{len(data)} bytes, the manifest says {ref.size}")
        if hashlib.sha256(data).hexdigest() != ref.sha256:
            raise CorruptPiece(label, "sha256 differs from the manifest")
        return data

    def delete(self, backup_id: str) -> None:
        source = self.root / check_id(backup_id)
        if source.is_symlink() or not source.is_dir():
            raise StoreError(f"backup {backup_id} is not in {self.root}")
        # Out of sight first, in one rename: a crash mid-delete never leaves half a backup.
        doomed = self.root / f"{DELETING}{os.getpid()}-{backup_id}"
        os.rename(source, doomed)
        fsync_dir(self.root)
        remove_tree(doomed)  # never into a mount point; what is left stays hidden, and named

    @contextmanager
    def reading(self) -> Iterator[None]:
        """A shared `flock` on the store's folder itself (no file of its own: the store holds
        only backups), waiting for a retention that is deleting (a few renames and unlinks).
        No lock where the folder cannot be opened or gives none."""
        descriptor = self._readers_lock()
        try:
            if descriptor is not None:
                with contextlib.suppress(OSError):  # a filesystem without flock on folders
                    fcntl.flock(descriptor, fcntl.LOCK_SH)
            yield
        finally:
            if descriptor is not None:
                os.close(descriptor)

    @contextmanager
    def deleting(self) -> Iterator[bool]:
        """The exclusive `flock` on the store's folder, not waited for: False while a restore
        or a verification reads the store, and retention deletes nothing that night."""
        descriptor = self._readers_lock()
        if descriptor is None:
            yield True
            return
        try:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            except OSError:  # no flock on folders here (NFS): no reader can be told apart
                pass
            yield True
        finally:
            os.close(descriptor)

    def _readers_lock(self) -> int | None:
        flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            return os.open(self.root, flags)
        except OSError:  # no store yet (nothing to delete), or a link (refused elsewhere)
            return None

    def recover(self) -> list[str]:
        if not self.root.is_dir():
            return []
        notes = self._move_legacy_layout()
        for child in sorted(self.root.iterdir()):
            if _left_by_a_dead_process(_WORK, child.name):
                notes.append(_removed(child, "left by an interrupted backup, check or delete"))
        return notes

    # ------------------------------------------------------------ verification records

    def mark_verified(self, backup_id: str, ok: bool, detail: str) -> None:
        folder = self.root / check_id(backup_id)
        if not (folder / MANIFEST_NAME).is_file():
            # Never make the folder: a record without its backup would be a damaged entry.
            raise StoreError(f"backup {backup_id} is not in {self.root}; its check is not kept")
        record = {"ok": ok, "detail": detail, "at": datetime.now(UTC).isoformat(timespec="seconds")}
        write_json(folder / VERIFIED, record)

    def verification(self, backup_id: str) -> Verification | None:
        path = self.root / check_id(backup_id) / VERIFIED
        try:
            value = json.loads(read_own(path, RECORD_BYTES))
            return Verification(ok=value["ok"] is True, detail=str(value["detail"]), at=value["at"])
        except FileNotFoundError:
            return None  # never checked
        except (OSError, ValueError, TypeError, KeyError) as exc:
            why = "not the JSON upkeep writes, with ok, detail and at"
            if isinstance(exc, OSError):
                why = exc.strerror or str(exc)
            detail = f"its check record {path} cannot be read ({why})"
            return Verification(ok=False, detail=detail, at="", readable=False)

    # ------------------------------------------------------------ internals

    def _private_dir(self, prefix: str, name: str) -> Path:
        if self.root.is_symlink():
            raise StoreError(f"backup store {self.root} is a symlink; name the real directory")
        # Backups hold every row of the database: readable by their owner only.
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.root / f"{prefix}{os.getpid()}-{name}"
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            raise StoreError(f"directory {path} exists already") from None
        return path

    def _own(self, path: Path, prefix: str) -> Path:
        path = Path(path)
        if path.is_symlink() or not path.is_dir():
            raise StoreError(f"directory {path} does not exist or is not a directory")
        if not path.name.startswith(prefix) or path.resolve().parent != self.root.resolve():
            raise StoreError(f"{path} is not a {prefix.strip('.-')} directory of {self.root}")
        return path

    def _read_all(self) -> list[Manifest | DamagedEntry]:
        """Every entry named like a backup: its manifest, or why it is not a readable backup."""
        if not self.root.is_dir():
            return []
        return [
            self._read_entry(child)
            for child in sorted(self.root.iterdir())
            if _ID.fullmatch(child.name)  # hidden work folders, lost+found: not backups
        ]

    def _read_entry(self, entry: Path) -> Manifest | DamagedEntry:
        if entry.is_symlink() or not entry.is_dir():
            return DamagedEntry(entry.name, "not a backup folder (a file or a symlink)")
        where = f"{self.root}/{entry.name}/{MANIFEST_NAME}"
        try:
            raw = read_own(entry / MANIFEST_NAME, RECORD_BYTES)
        except FileNotFoundError:
            return DamagedEntry(entry.name, f"no {MANIFEST_NAME}: not a complete backup")
        except NotAFile as exc:
            return DamagedEntry(entry.name, f"{where}: {exc.kind}, not a manifest: never read")
        except OSError as exc:
            return DamagedEntry(entry.name, f"{where}: cannot read: {exc.strerror}")
        try:
            manifest = manifest_from_json(raw, where)
        except UpkeepError as exc:
            return DamagedEntry(entry.name, str(exc))
        if manifest.id != entry.name:
            return DamagedEntry(entry.name, f"{where}: names backup {manifest.id!r}, not its own")
        return manifest

    def _move_legacy_layout(self) -> list[str]:
        """Move backups out of `backups/` to the store's root, and clear the shared `.staging/`
        and `.trash/` folders of earlier versions (children of live processes stay)."""
        notes = []
        legacy = self.root / LEGACY_BACKUPS
        if legacy.is_dir() and not legacy.is_symlink():
            for child in sorted(legacy.iterdir()):
                target = self.root / child.name
                backup = _ID.fullmatch(child.name) and (child / MANIFEST_NAME).is_file()
                if backup and not (target.exists() or target.is_symlink()):
                    os.rename(child, target)
                    notes.append(f"moved {LEGACY_BACKUPS}/{child.name} to the store's root")
            fsync_dir(self.root)
        for name, pattern in ((LEGACY_STAGING, _LEGACY_STAGING), (LEGACY_TRASH, _LEGACY_TRASH)):
            folder = self.root / name
            if not folder.is_dir() or folder.is_symlink():
                continue
            for child in sorted(folder.iterdir()):
                if _left_by_a_dead_process(pattern, child.name):
                    notes.append(_removed(child, "left by an earlier version", f"{name}/"))
        for name in (LEGACY_BACKUPS, LEGACY_STAGING, LEGACY_TRASH):
            with contextlib.suppress(OSError):  # not there, or not empty: it stays
                (self.root / name).rmdir()
        return notes


def _left_by_a_dead_process(pattern: re.Pattern[str], name: str) -> bool:
    """Whether `name` is a work folder upkeep named (`pattern`, the pid its group) whose process
    is gone; one of a live process (this one included: another thread's) is still in use."""
    match = pattern.fullmatch(name)
    return match is not None and not psutil.pid_exists(int(match.group(1)))


def _removed(path: Path, why: str, folder: str = "") -> str:
    """Remove what a process that is gone left at `path`; say what was done, or what was left
    and why (an immutable file, a mount point inside): never raised, so that it cannot stop
    the next backup from being taken."""
    try:
        remove_tree(path)
    except OSError as exc:
        return f"could not remove {folder}{path.name} ({why}): {exc.strerror or exc}"
    return f"removed {folder}{path.name}: {why}"
