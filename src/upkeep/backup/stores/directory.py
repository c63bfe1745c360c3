"""Responsible for keeping backups in a directory: published whole by one rename, or not at all.

Layout under the store's root::

    backups/<id>/            manifest.json, index.zst, p000000.zst, ... (immutable once there)
    backups/<id>/verified.json   the outcome of the latest restore check of that backup
    .staging/<pid>-<id>/     a backup being written; the pid tells `recover` if its owner lives
    .trash/<id>/             a backup being deleted (moved out of backups/ first, then removed)

Every piece is fsynced as it is written; `put` writes the manifest, fsyncs the staging
directory and renames it into `backups/`. A crash or a full disk leaves at most a staging
directory, which `recover` removes once its process is gone; nothing there counts as a backup.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from upkeep.atomic import fsync_dir, write_json
from upkeep.backup.manifest import MANIFEST_NAME, manifest_from_json, manifest_to_json
from upkeep.backup.stores.interface import (
    BackupStore,
    CorruptPiece,
    Manifest,
    MissingPiece,
    StoreError,
    write_synced,
)

__all__ = ["BACKUPS", "STAGING", "TRASH", "VERIFIED", "DirectoryStore", "check_id"]

BACKUPS = "backups"
STAGING = ".staging"
TRASH = ".trash"
VERIFIED = "verified.json"
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
_PIECE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


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
        check_id(backup_id)
        if self.root.is_symlink():
            raise StoreError(f"backup store {self.root} is a symlink; name the real directory")
        parent = self.root / STAGING
        # Backups hold every row of the database: readable by their owner only.
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        parent.mkdir(mode=0o700, exist_ok=True)
        staging = parent / f"{os.getpid()}-{backup_id}"
        try:
            staging.mkdir(mode=0o700)
        except FileExistsError:
            raise StoreError(f"staging directory {staging} exists already") from None
        return staging

    def put(self, staging: Path, manifest: Manifest) -> None:
        staging = self._own_staging(staging)
        check_id(manifest.id)
        wanted = {ref.name for ref in manifest.pieces}
        for child in staging.iterdir():
            if child.name not in wanted:
                _remove(child)
        for ref in manifest.pieces:
            path = staging / ref.name
            if not path.is_file() or path.stat().st_size != ref.size:
                raise StoreError(f"cannot publish {manifest.id}: piece {ref.name} is not staged")
        write_synced(staging / MANIFEST_NAME, manifest_to_json(manifest))
        fsync_dir(staging)
        target = self.root / BACKUPS / manifest.id
        target.parent.mkdir(mode=0o700, exist_ok=True)
        if target.exists():
            raise StoreError(f"backup {manifest.id} exists already in {self.root}")
        os.rename(staging, target)
        fsync_dir(target.parent)
        fsync_dir(staging.parent)

    def discard(self, staging: Path) -> None:
        _remove(self._own_staging(staging))

    def manifests(self, database: str | None = None) -> list[Manifest]:
        found = []
        for directory in self._backup_dirs():
            where = f"{self.root}/{BACKUPS}/{directory.name}/{MANIFEST_NAME}"
            try:
                raw = (directory / MANIFEST_NAME).read_bytes()
            except OSError as exc:
                raise StoreError(f"{where}: cannot read: {exc.strerror}") from None
            manifest = manifest_from_json(raw, where)
            if manifest.id != directory.name:
                raise StoreError(f"{where}: names backup {manifest.id!r}, expected its folder's")
            if database is None or manifest.database == database:
                found.append(manifest)
        return sorted(found, key=lambda m: (m.created, m.id))

    def read_piece(self, manifest: Manifest, name: str) -> bytes:
        ref = manifest.piece(name)
        label = f"{manifest.id}/{name}"
        if not _PIECE.fullmatch(name):
            raise CorruptPiece(label, "not a valid piece name")
        path = self.root / BACKUPS / check_id(manifest.id) / name
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise MissingPiece(label, f"{path} does not exist") from None
        except OSError as exc:
            raise CorruptPiece(label, f"cannot read {path}: {exc.strerror}") from None
        if len(data) != ref.size:
            raise CorruptPiece(label, f"{len(data)} bytes, the manifest says {ref.size}")
        if hashlib.sha256(data).hexdigest() != ref.sha256:
            raise CorruptPiece(label, "sha256 differs from the manifest")
        return data

    def delete(self, backup_id: str) -> None:
        source = self.root / BACKUPS / check_id(backup_id)
        if not source.is_dir():
            raise StoreError(f"backup {backup_id} is not in {self.root}")
        trash = self.root / TRASH
        trash.mkdir(exist_ok=True)
        # Out of backups/ first, in one rename: a crash mid-delete never leaves half a backup.
        target = trash / f"{backup_id}.{os.getpid()}"
        os.rename(source, target)
        fsync_dir(source.parent)
        shutil.rmtree(target)

    def recover(self) -> list[str]:
        notes = []
        staging = self.root / STAGING
        for child in sorted(staging.iterdir()) if staging.is_dir() else []:
            pid = _owner_pid(child.name)
            if pid is not None and psutil.pid_exists(pid):
                continue  # still being written (by this process too: another thread may own it)
            _remove(child)
            notes.append(f"removed {STAGING}/{child.name}: an unfinished backup of a process gone")
        trash = self.root / TRASH
        for child in sorted(trash.iterdir()) if trash.is_dir() else []:
            _remove(child)
            notes.append(f"removed {TRASH}/{child.name}: an unfinished delete")
        return notes

    # ------------------------------------------------------------ verification records

    def mark_verified(self, backup_id: str, ok: bool, detail: str) -> None:
        record = {"ok": ok, "detail": detail, "at": datetime.now(UTC).isoformat(timespec="seconds")}
        write_json(self.root / BACKUPS / check_id(backup_id) / VERIFIED, record)

    def verification(self, backup_id: str) -> dict[str, Any] | None:
        path = self.root / BACKUPS / check_id(backup_id) / VERIFIED
        try:
            value = json.loads(path.read_bytes())
        except (OSError, ValueError):
            return None
        return value if isinstance(value, dict) else None

    # ------------------------------------------------------------ internals

    def _backup_dirs(self) -> list[Path]:
        backups = self.root / BACKUPS
        if not backups.is_dir():
            return []
        return sorted(p for p in backups.iterdir() if p.is_dir() and not p.is_symlink())

    def _own_staging(self, staging: Path) -> Path:
        staging = Path(staging)
        if staging.is_symlink() or not staging.is_dir():
            raise StoreError(f"staging directory {staging} does not exist or is not a directory")
        if staging.resolve().parent != (self.root / STAGING).resolve():
            raise StoreError(f"{staging} is not a staging directory of {self.root}")
        return staging


def _owner_pid(name: str) -> int | None:
    head, _, _ = name.partition("-")
    return int(head) if head.isdigit() else None


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
