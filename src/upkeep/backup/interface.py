"""Responsible for the two interfaces of the backup subsystem: database engines and backup stores.

An engine (`DatabaseEngine`) knows one kind of database: it writes a consistent *snapshot* of it
to a file, says where that file's blocks end (so that an incremental backup can store only the
blocks that changed), and restores a snapshot file into a new target and checks the result. A
store (`BackupStore`) keeps backups: each one a `Manifest` plus compressed, sha256'd *pieces*,
published atomically. The backup logic in between (`upkeep.backup.store`, `.restore`) only talks
to these two interfaces, so a PostgreSQL engine or a restic store plugs in without touching it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from upkeep.config import Database
from upkeep.errors import UpkeepError

__all__ = [
    "BackupError",
    "BackupStore",
    "CorruptPiece",
    "DatabaseEngine",
    "Manifest",
    "MissingPiece",
    "PieceRef",
    "RestoreReport",
    "Snapshot",
]

# 2: `sha256` became the digest of the block sha256s (1 was the sha256 of the whole snapshot).
MANIFEST_FORMAT = 2
KINDS = ("full", "incremental")


class BackupError(UpkeepError):
    """A backup or restore could not be done: the message says what and where.

    Exit code 3 like other failures of the environment: the input was fine, the run was not.
    """

    exit_code = 3


class CorruptPiece(BackupError):
    """A stored piece does not match the sha256 its manifest recorded."""

    def __init__(self, piece: str, detail: str = "") -> None:
        self.piece = piece
        super().__init__(f"backup piece {piece} is corrupt" + (f": {detail}" if detail else ""))


class MissingPiece(BackupError):
    """A piece that a manifest (or a backup it is based on) lists is not in the store."""

    def __init__(self, piece: str, detail: str = "") -> None:
        self.piece = piece
        super().__init__(f"backup piece {piece} is missing" + (f": {detail}" if detail else ""))


@dataclass(frozen=True)
class Snapshot:
    """A consistent copy of one database, written to one file in a staging directory.

    SQLite: a database file made with the online backup API. PostgreSQL: an uncompressed
    custom-format archive (`pg_dump -Fc -Z0`) so that equal content gives equal chunks.
    `block_size` is the fixed block size (the SQLite page size), or None for content-defined
    chunks. `row_counts` maps each table to its number of rows at the moment of the snapshot.
    """

    path: Path
    engine: str
    database: str
    server_version: str
    row_counts: dict[str, int]
    block_size: int | None


@dataclass(frozen=True)
class RestoreReport:
    """What restoring one snapshot file into a target found.

    `problems` lists everything the engine's own checks found wrong (SQLite: integrity_check and
    foreign_key_check lines; PostgreSQL: pg_restore's exit status and errors); empty when good.
    `row_counts` are counted in the restored target; the caller compares them with the manifest.
    `notes` are findings that are faithful to the source rather than restore failures, such as
    SQLite foreign-key violations that the backed-up database itself contains.
    """

    engine: str
    target: str
    problems: tuple[str, ...]
    row_counts: dict[str, int]
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


class DatabaseEngine(ABC):
    """One kind of database. Implementations are built from the config's `Database` entry."""

    engine: ClassVar[str]

    def __init__(self, database: Database) -> None:
        self.database = database

    @abstractmethod
    def snapshot(self, dest: Path) -> Snapshot:
        """Write a consistent snapshot of the database to the file `dest` (which must not exist).

        Raises `BackupError` naming the database when it cannot be read.
        """

    @abstractmethod
    def boundaries(self, snapshot: Snapshot) -> Iterator[int]:
        """End offsets of the snapshot file's blocks, increasing, the last one its size.

        Fixed pages for SQLite; content-defined chunk ends for PostgreSQL, so that an insertion
        shifts only the chunks around it.
        """

    @abstractmethod
    def restore(self, snapshot_file: Path, target: str) -> RestoreReport:
        """Restore `snapshot_file` into `target` and run the engine's own checks on it.

        SQLite: `target` is a file path that must not exist yet. PostgreSQL: `target` is the name
        of a NEW database, created for the restore. Raises `BackupError` when the target is
        refused (exists already); problems found after restoring go into the report.
        """

    def drop(self, target: str) -> None:
        """Remove a target that `restore` made (a verification restore is thrown away after).

        Engines that cannot do this raise NotImplementedError; the caller then skips
        verification restores for them and says so.
        """
        raise NotImplementedError(f"the {self.engine} engine cannot drop a restored target")


@dataclass(frozen=True)
class PieceRef:
    """One stored piece of a backup: its name inside the backup, size and sha256 as stored."""

    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    """Everything known about one backup; stored as JSON next to its pieces.

    `kind` is "full" or "incremental"; an incremental's `base` is the backup it is based on and
    `chain_root` the full backup its chain starts from (a full backup is its own root). `size`
    and `sha256` describe the snapshot as restored (`sha256`: of its blocks' sha256s in order,
    see `upkeep.backup.manifest.block_list_digest`); `stored_bytes` what this backup added to the
    store (its own pieces). `index` names the piece holding the block list; `compression` is the
    zstd level.
    """

    id: str
    engine: str
    database: str
    server_version: str
    created: str
    kind: str
    base: str | None
    chain_root: str
    size: int
    sha256: str
    stored_bytes: int
    block_size: int | None
    block_count: int
    index: str
    pieces: tuple[PieceRef, ...]
    row_counts: dict[str, int]
    compression: int
    upkeep_version: str
    format: int = MANIFEST_FORMAT
    extra: dict[str, Any] = field(default_factory=dict)

    def piece(self, name: str) -> PieceRef:
        for ref in self.pieces:
            if ref.name == name:
                return ref
        raise MissingPiece(f"{self.id}/{name}", "not listed in the manifest")


class BackupStore(ABC):
    """Where backups live: a directory today (`DirectoryStore`), a restic repository later.

    A backup is written into a private staging area, then published whole by `put`; a reader
    never sees a half-written backup, and `recover` removes what a crash left behind.
    """

    @abstractmethod
    def new_staging(self, backup_id: str) -> Path:
        """A fresh, private directory to write the snapshot and the pieces of `backup_id` into."""

    @abstractmethod
    def put(self, staging: Path, manifest: Manifest) -> None:
        """Publish the pieces in `staging` under `manifest` atomically: all of it, or nothing.

        Anything in `staging` that is not a piece of the manifest is discarded.
        """

    @abstractmethod
    def discard(self, staging: Path) -> None:
        """Remove a staging directory that will not be published."""

    @abstractmethod
    def manifests(self, database: str | None = None) -> list[Manifest]:
        """Published backups (of one database, when named), oldest first."""

    @abstractmethod
    def read_piece(self, manifest: Manifest, name: str) -> bytes:
        """The stored bytes of one piece, checked against its sha256.

        Raises `MissingPiece` or `CorruptPiece` naming `<backup id>/<piece>`.
        """

    @abstractmethod
    def delete(self, backup_id: str) -> None:
        """Remove one published backup (retention decides which; this does not check)."""

    @abstractmethod
    def recover(self) -> list[str]:
        """Remove what interrupted backups left behind; return one note per thing removed."""

    @abstractmethod
    def mark_verified(self, backup_id: str, ok: bool, detail: str) -> None:
        """Record the outcome of checking a published backup (retention keeps verified fulls)."""

    @abstractmethod
    def verification(self, backup_id: str) -> dict[str, Any] | None:
        """The latest recorded check of a backup (`ok`, `detail`, `at`), or None if never."""
