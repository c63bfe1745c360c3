"""Responsible for keeping log archives in a directory of their own, each published whole by one
rename, and named by the log and its content's sha256, so that the same content is one archive.

Layout under `log_backup.dir` (0700, files 0600: logs hold personal data)::

    <log>-<sha256[:32]>/          manifest.json, content.gz (immutable once there)
    .staging-<pid>-<id>/          an archive being written; `recover` removes it once <pid> is gone
    .deleting-<pid>-<id>/         an archive being deleted (out of sight first, then removed)
    .lock                         held while an archive is written, published or deleted
    .known-copies.json            rotated copies seen last run, by file identity: their archive

A folder named like an archive without a readable manifest is *damaged*: listed by `damaged`,
skipped by `archives`, never deleted. `.known-copies.json` only saves reading a copy again: a
copy whose device, inode, size and modification time (to the nanosecond) are those of a copy
archived before is that archive while the archive exists (a rename keeps all four; compressing
makes a new file, read once more); lost or stale, it costs one read per copy, never a wrong
answer about the store.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
from filelock import FileLock

from upkeep.atomic import fsync_dir, write_json
from upkeep.backup.stores.directory import DELETING, RECORD_BYTES, STAGING
from upkeep.backup.stores.interface import (
    CorruptPiece,
    DamagedEntry,
    MissingPiece,
    StoreError,
    write_synced,
)
from upkeep.backup.stores.removal import remove_tree
from upkeep.regular_file import NotAFile, TooLarge, read_own

__all__ = [
    "ARCHIVE_FORMAT",
    "CONTENT_PIECE",
    "LogArchive",
    "LogArchiveStore",
    "archive_id",
    "copy_key",
]

ARCHIVE_FORMAT = 1
MANIFEST = "manifest.json"
CONTENT_PIECE = "content.gz"
LOCK = ".lock"
KNOWN_COPIES = ".known-copies.json"
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,120}-[0-9a-f]{32}")
_WORK = re.compile(rf"(?:{re.escape(STAGING)}|{re.escape(DELETING)})(\d+)-.+")
_DIGEST_CHARS = 32


def archive_id(log: str, content_sha256: str) -> str:
    """`<log>-<first 32 hex digits of the content's sha256>`, the log's name made safe."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", log).lstrip("._-")[:120] or "log"
    return f"{safe}-{content_sha256[:_DIGEST_CHARS]}"


def copy_key(status: os.stat_result) -> str:
    """A rotated copy's file identity: device, inode, size and modification time (ns)."""
    return f"{status.st_dev}:{status.st_ino}:{status.st_size}:{status.st_mtime_ns}"


@dataclass(frozen=True)
class LogArchive:
    """One archived copy: which log, where it was found, what it holds (`content_sha256` of the
    decompressed content, its bytes and lines, the times of its first and last stamped lines,
    ISO 8601 or None), when the copy was last modified and archived, and the stored piece
    (`stored_bytes`, `stored_sha256` of `content.gz` as stored)."""

    id: str
    log: str
    source: str
    content_sha256: str
    content_bytes: int
    lines: int
    first_line_at: str | None
    last_line_at: str | None
    copy_modified: str
    archived_at: str
    stored_bytes: int
    stored_sha256: str
    upkeep_version: str
    format: int = ARCHIVE_FORMAT

    @property
    def newest_line(self) -> datetime:
        """When its last line was written: its stamp, or else when the copy was last modified
        (a rotated copy is not written after it is rotated out)."""
        return datetime.fromisoformat(self.last_line_at or self.copy_modified)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _from_json(raw: bytes, where: str) -> LogArchive:
    try:
        value = json.loads(raw)
        if value.get("format") != ARCHIVE_FORMAT:
            raise ValueError(f"format {value.get('format')!r}, expected {ARCHIVE_FORMAT}")
        archive = LogArchive(**value)
        for moment in (archive.first_line_at, archive.last_line_at, archive.copy_modified):
            if moment is not None:
                datetime.fromisoformat(moment)
        if not all(isinstance(n, int) for n in (archive.lines, archive.stored_bytes)):
            raise ValueError("lines and stored_bytes must be integers")
        return archive
    except (ValueError, TypeError, AttributeError) as exc:
        raise StoreError(f"{where}: not a log archive manifest: {exc}") from None


class LogArchiveStore:
    """Log archives in a local directory (see the module docstring for the layout)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def location(self) -> str:
        return str(self.root)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Held while deciding whether a copy is archived and archiving it, and while deleting:
        the log backup and a cleaning run in parallel archive each copy once."""
        self._ensure_root()
        with FileLock(str(self.root / LOCK)):
            yield

    def new_staging(self, archive: str) -> Path:
        self._ensure_root()
        path = self.root / f"{STAGING}{os.getpid()}-{archive}"
        path.mkdir(mode=0o700)
        return path

    def holds(self, archive: str) -> bool:
        return (self.root / archive / MANIFEST).is_file()

    def put(self, staging: Path, archive: LogArchive) -> None:
        """Write the manifest, then publish the staged archive under its id by one rename."""
        write_synced(staging / MANIFEST, json.dumps(archive.to_json(), indent=1).encode())
        fsync_dir(staging)
        target = self.root / archive.id
        if target.exists() or target.is_symlink():
            raise StoreError(f"log archive {archive.id} exists already in {self.root}")
        os.rename(staging, target)
        fsync_dir(self.root)

    def known_copies(self) -> dict[str, str]:
        """Copy key -> archive id, as the last run left them (empty when unreadable)."""
        try:
            value = json.loads(read_own(self.root / KNOWN_COPIES, RECORD_BYTES))
        except (OSError, ValueError):
            return {}
        if not isinstance(value, dict):
            return {}
        return {str(key): str(archive) for key, archive in value.items()}

    def remember_copies(self, known: dict[str, str]) -> None:
        """Replace the known copies with `known` (the copies seen by this run)."""
        self._ensure_root()
        write_json(self.root / KNOWN_COPIES, known)

    def discard(self, staging: Path) -> None:
        shutil.rmtree(staging, ignore_errors=True)

    def archives(self, log: str | None = None) -> list[LogArchive]:
        """The readable archives (of one log), oldest newest line first."""
        found = [
            entry
            for entry in self._read_all()
            if isinstance(entry, LogArchive) and log in (None, entry.log)
        ]
        return sorted(found, key=lambda a: (a.newest_line, a.id))

    def damaged(self) -> list[DamagedEntry]:
        return [entry for entry in self._read_all() if isinstance(entry, DamagedEntry)]

    def piece_path(self, archive: LogArchive) -> Path:
        return self.root / archive.id / CONTENT_PIECE

    def read_piece(self, archive: LogArchive) -> bytes:
        """The stored `content.gz`, checked against the manifest's size and sha256."""
        label = f"{archive.id}/{CONTENT_PIECE}"
        path = self.piece_path(archive)
        try:
            data = read_own(path, archive.stored_bytes)  # never a link followed, nor too much
        except FileNotFoundError:
            raise MissingPiece(label, f"{path} does not exist") from None
        except NotAFile as exc:
            raise CorruptPiece(label, f"{path} is {exc.kind}, not a piece: never read") from None
        except TooLarge as exc:
            said = archive.stored_bytes
            raise CorruptPiece(label, f"{exc.size} bytes, the manifest says {said}") from None
        except OSError as exc:
            raise CorruptPiece(label, f"cannot read {path}: {exc.strerror}") from None
        if len(data) != archive.stored_bytes:
            said = archive.stored_bytes
            raise CorruptPiece(label, f"{len(data)} bytes, the manifest says {said}")
        if hashlib.sha256(data).hexdigest() != archive.stored_sha256:
            raise CorruptPiece(label, "sha256 differs from the manifest")
        return data

    def delete(self, archive: str) -> None:
        source = self.root / archive
        doomed = self.root / f"{DELETING}{os.getpid()}-{archive}"
        os.rename(source, doomed)
        fsync_dir(self.root)
        remove_tree(doomed)  # never into a mount point; what is left stays hidden, and named

    def recover(self) -> list[str]:
        """Remove what an interrupted archive or deletion left (its process is gone)."""
        if not self.root.is_dir():
            return []
        notes = []
        for child in sorted(self.root.iterdir()):
            match = _WORK.fullmatch(child.name)
            if match and not psutil.pid_exists(int(match.group(1))):
                try:
                    remove_tree(child)
                except OSError as exc:
                    notes.append(f"could not remove {child.name}: {exc.strerror or exc}")
                    continue
                notes.append(f"removed {child.name}: left by an interrupted log archive")
        return notes

    def _ensure_root(self) -> None:
        if self.root.is_symlink():
            raise StoreError(f"log archive store {self.root} is a symlink; name the real folder")
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)

    def _read_all(self) -> list[LogArchive | DamagedEntry]:
        if not self.root.is_dir():
            return []
        return [
            self._read_entry(child)
            for child in sorted(self.root.iterdir())
            if not child.name.startswith(".")
        ]

    def _read_entry(self, entry: Path) -> LogArchive | DamagedEntry:
        if entry.is_symlink() or not entry.is_dir():
            return DamagedEntry(entry.name, "not a log archive folder (a file or a symlink)")
        if not _ID.fullmatch(entry.name):
            return DamagedEntry(entry.name, "not named like a log archive (<log>-<sha256>)")
        where = f"{entry}/{MANIFEST}"
        try:
            raw = read_own(entry / MANIFEST, RECORD_BYTES)
        except FileNotFoundError:
            return DamagedEntry(entry.name, f"no {MANIFEST}: not a complete archive")
        except NotAFile as exc:
            return DamagedEntry(entry.name, f"{where}: {exc.kind}, not a manifest: never read")
        except OSError as exc:
            return DamagedEntry(entry.name, f"{where}: cannot read: {exc.strerror}")
        try:
            archive = _from_json(raw, where)
        except StoreError as exc:
            return DamagedEntry(entry.name, str(exc))
        if archive.id != entry.name:
            return DamagedEntry(entry.name, f"{where}: names archive {archive.id!r}, not its own")
        return archive
