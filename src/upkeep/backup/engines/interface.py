"""Responsible for the interface of a database engine: snapshot, block boundaries, restore, drop.

An engine (`DatabaseEngine`) knows one kind of database: it writes a consistent *snapshot* of it
to a file, says where that file's blocks end (so that an incremental backup can store only the
blocks that changed), says what a valid restore target is, and restores a snapshot file into a
new target and checks the result. The backup logic (`upkeep.backup.incremental`, `.restore`)
only talks to this interface and to the store's (`upkeep.backup.stores.interface`), so a new
engine is one module beside `sqlite.py` and `postgresql.py`, named in `engines.ENGINES`.
"""

from __future__ import annotations

import contextlib
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from upkeep.backup.errors import BackupError
from upkeep.backup.samples import SampleHashes, SampleSpec, TableSample
from upkeep.config import Database
from upkeep.errors import UpkeepError

__all__ = [
    "DatabaseEngine",
    "EngineError",
    "RestoreReport",
    "RestoreTargetError",
    "Snapshot",
    "SnapshotReading",
]


class EngineError(BackupError):
    """An engine could not snapshot, restore or drop: the message names the database."""


class RestoreTargetError(UpkeepError):
    """The target a person named for a restore can never be one (it exists): bad input, exit 2.

    Raised before anything is read from the store; see `DatabaseEngine.restore_target`.
    """


@dataclass(frozen=True)
class Snapshot:
    """A consistent copy of one database, written to one file in a staging directory.

    SQLite: a database file made with the online backup API (`SQLiteEngine.reading` reads the
    database file in place instead, and makes this only when its read transaction cannot keep
    the file from changing). PostgreSQL: an
    uncompressed custom-format archive (`pg_dump -Fc -Z0`) so that equal content gives equal
    chunks. `block_size` is the fixed block size (the SQLite page size), or None for content-defined
    chunks. `row_counts` maps each table to its number of rows at the moment of the snapshot;
    `samples` are the sample hashes taken from the same snapshot (`upkeep.backup.samples`), or
    None when none were asked for.
    """

    path: Path
    engine: str
    database: str
    server_version: str
    row_counts: dict[str, int]
    block_size: int | None
    samples: SampleHashes | None = None


@dataclass(frozen=True)
class SnapshotReading:
    """A consistent snapshot being read: `size` bytes, read through `read_at(offset, length)`.

    `path` is the file the bytes are read from: the snapshot file in the staging directory, or
    (SQLite, rollback journal) the database file itself, which its engine keeps from changing
    until the reading ends; never to be opened, changed or removed by the reader. `finished()`
    is the `Snapshot` (row counts and sample hashes, which may still be counted while the pages
    are read: it waits for them).
    """

    path: Path
    block_size: int | None
    size: int
    read_at: Callable[[int, int], bytes]
    finished: Callable[[], Snapshot]


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
    def snapshot(self, dest: Path, *, sample_rows: int = 0) -> Snapshot:
        """Write a consistent snapshot of the database to the file `dest` (which must not exist).

        With `sample_rows`, also hash a seeded sample of that many rows of every table, from the
        same snapshot as the row counts. Raises `EngineError` naming the database when it cannot
        be read.
        """

    @contextlib.contextmanager
    def reading(self, dest: Path, *, sample_rows: int = 0) -> Iterator[SnapshotReading]:
        """A consistent snapshot, readable while the `with` block lasts; cleared up after it.

        The default writes `snapshot` into the file `dest`, reads it from there and removes it
        afterwards. An engine that can keep its database consistent while it is read in place
        (SQLite in rollback-journal mode) overrides this and writes no file.
        """
        snapshot = self.snapshot(dest, sample_rows=sample_rows)
        try:
            with dest.open("rb") as handle:
                descriptor = handle.fileno()
                yield SnapshotReading(
                    path=dest,
                    block_size=snapshot.block_size,
                    size=os.fstat(descriptor).st_size,
                    read_at=lambda offset, length: os.pread(descriptor, length, offset),
                    finished=lambda: snapshot,
                )
        finally:
            dest.unlink(missing_ok=True)

    @abstractmethod
    def sample_hashes(self, target: str, spec: SampleSpec) -> dict[str, TableSample]:
        """The sample hashes of a restored `target`, chosen as `spec` says (as at backup time).

        Raises `EngineError` when the target cannot be read.
        """

    @abstractmethod
    def boundaries(self, snapshot: Snapshot) -> Iterator[int]:
        """End offsets of the snapshot file's blocks, increasing, the last one its size.

        Fixed pages for SQLite; content-defined chunk ends for PostgreSQL, so that an insertion
        shifts only the chunks around it.
        """

    def restore_target(self, target: str) -> str:
        """`target` as a person named it, in the form `restore` takes, checked up front.

        Raises `RestoreTargetError` when it can never be a restore target, before anything is
        read from the store. The default takes the target as it is and leaves every check to
        `restore`.
        """
        return target

    @abstractmethod
    def verification_target(self, scratch: Path, backup_id: str) -> str:
        """A new target for a verification restore of `backup_id`, thrown away after its checks.

        `scratch` is a private temporary directory that is removed afterwards.
        """

    @abstractmethod
    def restore(self, snapshot_file: Path, target: str) -> RestoreReport:
        """Restore `snapshot_file` into `target` and run the engine's own checks on it.

        SQLite: `target` is a file path that must not exist yet. PostgreSQL: `target` is the name
        of a NEW database, created for the restore. Raises `EngineError` when the target is
        refused (exists already); problems found after restoring go into the report.
        """

    def drop(self, target: str) -> None:
        """Remove a target that `restore` made (a verification restore is thrown away after).

        Engines that cannot do this raise NotImplementedError; the caller then skips
        verification restores for them and says so.
        """
        raise NotImplementedError(f"the {self.engine} engine cannot drop a restored target")
