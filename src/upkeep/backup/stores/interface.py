"""Responsible for the interface of a backup store: where backups live, published whole or not.

A store (`BackupStore`) keeps backups: each one a `Manifest` plus compressed, sha256'd *pieces*,
written into a private staging area and published atomically, and the outcome of the latest
check of each (`Verification`); what it holds that is not a readable backup is a
`DamagedEntry`, reported and skipped. The backup logic
(`upkeep.backup.incremental`, `.restore`) and the backup procedure only talk to this interface,
so a restic or object-storage store is one module beside `directory.py`.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from upkeep.backup.errors import BackupDamaged, BackupError
from upkeep.backup.samples import SampleHashes

__all__ = [
    "MANIFEST_FORMAT",
    "READABLE_FORMATS",
    "BackupKind",
    "BackupStore",
    "CorruptPiece",
    "DamagedEntry",
    "Manifest",
    "MissingPiece",
    "PieceRef",
    "StoreError",
    "Verification",
    "missing_base",
    "walk_chain",
    "write_synced",
]

# 2: `sha256` became the digest of the block sha256s (1 was the sha256 of the whole snapshot).
# 3: `samples`, the sample hashes of every table (a format-2 manifest is read as having none).
MANIFEST_FORMAT = 3
READABLE_FORMATS = (2, 3)


class BackupKind(StrEnum):
    """A full backup stands alone; an incremental stores what changed since its base."""

    FULL = "full"
    INCREMENTAL = "incremental"


class StoreError(BackupError):
    """A store cannot be used, or refuses what it was asked: the message names the store."""


class CorruptPiece(StoreError, BackupDamaged):
    """A stored piece does not match the sha256 its manifest recorded."""

    def __init__(self, piece: str, detail: str = "") -> None:
        self.piece = piece
        super().__init__(f"backup piece {piece} is corrupt" + (f": {detail}" if detail else ""))


class MissingPiece(StoreError, BackupDamaged):
    """A piece that a manifest (or a backup it is based on) lists is not in the store."""

    def __init__(self, piece: str, detail: str = "") -> None:
        self.piece = piece
        super().__init__(f"backup piece {piece} is missing" + (f": {detail}" if detail else ""))


@dataclass(frozen=True)
class PieceRef:
    """One stored piece of a backup: its name inside the backup, size and sha256 as stored."""

    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    """Everything known about one backup; stored as JSON next to its pieces.

    An incremental's `base` is the backup it is based on and `chain_root` the full backup its
    chain starts from (a full backup is its own root). `size` and `sha256` describe the snapshot
    as restored (`sha256`: of its blocks' sha256s in order, see
    `upkeep.backup.manifest.block_list_digest`); `stored_bytes` what this backup added to the
    store (its own pieces). `index` names the piece holding the block list; `compression` is the
    zstd level. `samples` holds the sample hashes (`SampleHashes.to_json`), None in a manifest
    written before they existed.
    """

    id: str
    engine: str
    database: str
    server_version: str
    created: str
    kind: BackupKind
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
    samples: dict[str, Any] | None = None

    @property
    def sample_hashes(self) -> SampleHashes | None:
        """The recorded sample hashes, or None (an older manifest); BackupDamaged if unreadable."""
        if self.samples is None:
            return None
        return SampleHashes.from_json(self.samples, f"backup {self.id}: manifest")

    def piece(self, name: str) -> PieceRef:
        for ref in self.pieces:
            if ref.name == name:
                return ref
        raise MissingPiece(f"{self.id}/{name}", "not listed in the manifest")


@dataclass(frozen=True)
class Verification:
    """The latest check of one backup: restored and checked (`ok`), or why not (`detail`).

    A backup without one, or whose latest one is not `ok`, is *unverified*: never the base of an
    incremental, never counted as the newest full, not what `upkeep restore` takes by default.
    `at` is when it was checked (ISO 8601, UTC). A record that cannot be read is kept as one
    that is not `ok` and not `readable` (`detail` says why), never as a backup not checked yet.
    """

    ok: bool
    detail: str
    at: str
    readable: bool = True


@dataclass(frozen=True)
class DamagedEntry:
    """Something in the store named like a backup that is not a readable one, and why."""

    name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.name}: {self.reason}"


class BackupStore(ABC):
    """Where backups live: a directory today (`DirectoryStore`), a restic repository later.

    A backup is written into a private staging area, then published whole by `put`; a reader
    never sees a half-written backup, and `recover` removes what a crash left behind. Files
    written into staging are new files, each fsynced as it is written (`write_synced`).
    """

    @property
    @abstractmethod
    def location(self) -> str:
        """Where the store is, as messages and reports name it (a path, a repository URL)."""

    @abstractmethod
    def new_staging(self, backup_id: str) -> Path:
        """A fresh, private directory to write the snapshot and the pieces of `backup_id` into."""

    @abstractmethod
    def new_scratch(self, label: str) -> Path:
        """A fresh, private directory beside the backups for temporary work (a verification
        restore): as private as the backups, removed by `discard`, and by `recover` once the
        process that made it is gone."""

    @abstractmethod
    def put(self, staging: Path, manifest: Manifest) -> None:
        """Publish the pieces in `staging` under `manifest` atomically: all of it, or nothing.

        Anything in `staging` that is not a piece of the manifest is discarded.
        """

    @abstractmethod
    def discard(self, staging: Path) -> None:
        """Remove a staging directory that will not be published, or a scratch directory."""

    @abstractmethod
    def manifests(self, database: str | None = None) -> list[Manifest]:
        """Published backups (of one database, when named), oldest first.

        What cannot be read as a backup is skipped here, never an error: see `damaged`.
        """

    @abstractmethod
    def damaged(self) -> list[DamagedEntry]:
        """What the store holds under a backup's name that is not a readable backup (a folder
        without its manifest, an unreadable manifest), each with why; never deleted by upkeep."""

    @abstractmethod
    def read_piece(self, manifest: Manifest, name: str) -> bytes:
        """The stored bytes of one piece, checked against its sha256.

        Raises `MissingPiece` or `CorruptPiece` naming `<backup id>/<piece>`.
        """

    @abstractmethod
    def delete(self, backup_id: str) -> None:
        """Remove one published backup (retention decides which; this does not check)."""

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Held while backups are chosen and read (a restore, a verification): `deleting`
        grants no deletion meanwhile. A store that cannot tell holds nothing."""
        yield

    @contextmanager
    def deleting(self) -> Iterator[bool]:
        """Whether backups may be deleted now (nothing `reading`), held while they are."""
        yield True

    @abstractmethod
    def recover(self) -> list[str]:
        """Remove what interrupted backups left behind; return one note per thing removed."""

    @abstractmethod
    def mark_verified(self, backup_id: str, ok: bool, detail: str) -> None:
        """Record the outcome of checking a published backup (StoreError when it is gone)."""

    @abstractmethod
    def verification(self, backup_id: str) -> Verification | None:
        """The latest recorded check of a backup, or None if it was never checked."""

    def verified(self, backup_id: str) -> bool:
        """True when the latest check of the backup restored it and found it sound."""
        record = self.verification(backup_id)
        return record is not None and record.ok


def missing_base(manifest: Manifest, by_id: Mapping[str, Manifest]) -> str | None:
    """The backup `manifest`'s chain is based on that `by_id` (the store's readable manifests,
    by id) lacks: deleted, or damaged. None when the chain is whole down to its full backup."""
    return walk_chain(manifest, by_id)[1]


def walk_chain(
    manifest: Manifest, by_id: Mapping[str, Manifest]
) -> tuple[list[Manifest], str | None]:
    """`manifest` and its bases, newest first, up to the first base `by_id` lacks (named)."""
    chain = [manifest]
    while chain[-1].base is not None:
        base = by_id.get(chain[-1].base)
        if base is None or len(chain) > len(by_id):  # gone, or a loop of bases
            return chain, chain[-1].base
        chain.append(base)
    return chain, None


def write_synced(path: Path, data: bytes) -> None:
    """Write a new file into a staging directory and fsync it; `put` fsyncs the directory.

    Readable by its owner only, whatever the umask: a piece holds rows of the database.
    """
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
