"""Responsible for backing up and restoring SQLite databases, consistent while others write.

A backup reads the database in one read transaction, and reads the database file in place
(`SQLiteEngine.reading`) when that transaction keeps the file from changing: no copy of it is
written first, and the row counts and sample hashes are taken in the same transaction on a second
thread while the pages are hashed and compressed.

- In rollback-journal mode (SQLite's default) the transaction's shared lock keeps every writer
  from changing the file until it ends. Writers wait (their busy timeout) for the whole backup, as
  they wait for a copy with the backup API.
- In WAL mode committed pages may still be in the -wal file, and a checkpoint may write them into
  the database file under a reader. So the backup first runs a passive checkpoint (one that waits
  for nobody) on a connection of its own. When that copied every frame of the WAL into the file,
  and nothing was committed between it and the start of the read transaction, the transaction
  reads the database file alone and holds back any checkpoint that would change it (SQLite's
  read lock 0, wal.c `walTryBeginRead`; a checkpoint backfills only under an exclusive lock on
  it, and never past a reader's snapshot). Writers go on; the WAL grows until the reading ends.
  Otherwise (an older reader kept the checkpoint from finishing, a writer committed in between,
  the file is not writable) the snapshot is a copy made by `sqlite3.Connection.backup` in one
  step instead.

Either way the blocks are the database pages, so an incremental backup stores the pages that
changed.

Reading in place uses the descriptor SQLite itself opened for the connection (found in
/proc/self/fd; `os.pread` leaves its offset alone): opening and closing a descriptor of our own
would drop every POSIX lock this process holds on the file, the shared lock included. Where that
descriptor cannot be told apart (no /proc; or another connection of this process holds a lock on
the file, so SQLite kept a closed connection's descriptor open and gave it to this one), the copy
is made.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from upkeep.atomic import fsync_dir
from upkeep.backup.engines.interface import (
    DatabaseEngine,
    EngineError,
    RestoreReport,
    RestoreTargetError,
    Snapshot,
    SnapshotReading,
)
from upkeep.backup.engines.sqlite_checks import (
    collated_orders,
    foreign_keys,
    integrity,
    row_counts,
    stand_in_collations,
    summarise,
)
from upkeep.backup.samples import (
    SQLITE_METHOD,
    SampleHashes,
    SampleSpec,
    TableSample,
    new_sample_spec,
    sqlite_sample_hashes,
)

__all__ = ["SQLiteEngine", "row_counts"]

# How long the snapshot waits for a writer holding an exclusive lock (rollback-journal mode).
BUSY_TIMEOUT_S = 30.0
# How long the WAL checkpoint before reading in place may wait to open the database; when it
# cannot, the database is copied instead.
CHECKPOINT_TIMEOUT_S = 1.0
MAX_PROBLEMS = 20
# A restored database holds every row of the source: its owner's alone.
PRIVATE_FILE = 0o600


@contextlib.contextmanager
def _connect(
    path: Path, *, readonly: bool, timeout: float = BUSY_TIMEOUT_S
) -> Iterator[sqlite3.Connection]:
    uri = f"{path.resolve().as_uri()}?mode={'ro' if readonly else 'rw'}"
    connection = sqlite3.connect(uri, uri=True, timeout=timeout)
    try:
        yield connection
    finally:
        connection.close()


class SQLiteEngine(DatabaseEngine):
    """A SQLite database file named by the config's `path`."""

    engine = "sqlite"

    @property
    def path(self) -> Path:
        assert self.database.path is not None  # config refuses a sqlite database without one
        return self.database.path

    def _check_file(self) -> None:
        """EngineError unless the configured path is a regular file (a database, we hope)."""
        if not self.path.exists():
            raise EngineError(
                f"database {self.database.name!r}: {self.path} does not exist; expected the"
                " SQLite database file"
            )
        if not self.path.is_file():
            raise EngineError(
                f"database {self.database.name!r}: {self.path} is not a regular file; expected"
                " the SQLite database file"
            )

    def _cannot(self, what: str, exc: BaseException) -> EngineError:
        """The error for `exc`, with what to do when the cause can be told from the outside: a
        hot journal left by a writer that stopped mid-transaction can only be rolled back by a
        connection that may write, which a backup opens only in WAL mode (to checkpoint), where
        there is no such journal."""
        message = f"database {self.database.name!r}: {what} {self.path}: {exc}"
        journal = Path(f"{self.path}-journal")
        if "readonly" in str(exc) and journal.exists() and journal.stat().st_size > 0:
            message += (
                f" ({journal} is a hot journal, left by a writer that stopped mid-transaction:"
                " once the application (or `sqlite3 DB 'PRAGMA quick_check'`) opens the database"
                " read-write, SQLite rolls it back and backups work again)"
            )
        elif isinstance(exc, sqlite3.OperationalError) and "unable to open" in str(exc):
            try:
                with open(self.path, "rb"):
                    pass
            except OSError as denied:
                message += f" ({denied.strerror}, errno {denied.errno})"
        return EngineError(message)

    def snapshot(self, dest: Path, *, sample_rows: int = 0) -> Snapshot:
        self._check_file()
        if dest.exists():
            raise EngineError(f"snapshot file {dest} exists already; expected a new path")
        try:
            with _connect(self.path, readonly=True) as source:
                target = sqlite3.connect(dest)
                try:
                    # The snapshot is a scratch file read back at once from the page cache; the
                    # pieces made from it are what gets fsynced. Syncing it too would cost a
                    # second full write to the disk.
                    target.execute("PRAGMA journal_mode=OFF")
                    target.execute("PRAGMA synchronous=OFF")
                    # pages=-1: the whole database in one step, one read transaction, consistent.
                    source.backup(target, pages=-1)
                    stand_in_collations(target)
                    counts = row_counts(target)
                    samples = None
                    if sample_rows:
                        spec = new_sample_spec(sample_rows, SQLITE_METHOD)
                        samples = SampleHashes(spec, sqlite_sample_hashes(target, spec))
                    page_size = target.execute("PRAGMA page_size").fetchone()[0]
                finally:
                    target.close()
        except sqlite3.Error as exc:
            with contextlib.suppress(OSError):
                dest.unlink()
            raise self._cannot("cannot snapshot", exc) from exc
        return self._snapshot(dest, counts, page_size, samples)

    @contextlib.contextmanager
    def reading(self, dest: Path, *, sample_rows: int = 0) -> Iterator[SnapshotReading]:
        """The database file read in place inside one read transaction, or a copy made with the
        backup API into `dest` when the transaction cannot keep the file from changing (WAL
        mode with frames a checkpoint could not write into the file, or no /proc)."""
        self._check_file()
        with self._held(sample_rows) as held:
            if held is not None:
                yield held
                return
        with super().reading(dest, sample_rows=sample_rows) as copied:
            yield copied

    @contextlib.contextmanager
    def _held(self, sample_rows: int = 0) -> Iterator[SnapshotReading | None]:
        """The database file, unchanged while the block lasts, or None when it cannot be held."""
        try:
            identity = _identity(os.stat(self.path))
            before = _descriptors(identity)
            source = sqlite3.connect(
                f"{self.path.resolve().as_uri()}?mode=ro",
                uri=True,
                timeout=BUSY_TIMEOUT_S,
                isolation_level=None,
                check_same_thread=False,  # the counting thread uses it; this one only reads
            )
        except (OSError, sqlite3.Error) as exc:
            raise self._cannot("cannot open", exc) from exc
        counting: Future[Snapshot] | None = None
        pool = ThreadPoolExecutor(1, thread_name_prefix="upkeep-row-counts")
        try:
            try:
                stand_in_collations(source)  # for the samples' ORDER BY of a collated key
                wal = source.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
                # SQLite's own descriptor of the file, found before the checkpoint's connection
                # opens a second one (which SQLite keeps open while this one holds a lock).
                opened = _descriptors(identity) - before
                if wal:
                    # Read in a read transaction of its own: the snapshot the transaction below
                    # must still see for the checkpoint in between to have covered it.
                    checkpointed_at = source.execute("PRAGMA data_version").fetchone()[0]
                    if len(opened) != 1 or not self._backfilled():
                        yield None
                        return
                source.execute("BEGIN")
                # The first read starts the transaction, held until COMMIT. Rollback journal:
                # its shared lock keeps every writer from committing (or spilling its cache into
                # the file). WAL: a reader that began on a fully checkpointed WAL reads only the
                # file, and no checkpoint writes into the file until it ends.
                page_size = source.execute("PRAGMA page_size").fetchone()[0]
                page_count = source.execute("PRAGMA page_count").fetchone()[0]
                version = source.execute("PRAGMA data_version").fetchone()[0]
            except sqlite3.Error as exc:
                raise self._cannot("cannot snapshot", exc) from exc
            if len(opened) != 1 or (wal and version != checkpointed_at):
                yield None  # no descriptor to read; or a commit came after the checkpoint
                return
            descriptor = opened.pop()
            if os.fstat(descriptor).st_size < page_size * page_count:
                yield None  # pages of the snapshot not (yet) in the file: never read past it
                return
            counting = pool.submit(self._counted, source, page_size, sample_rows)

            def finished() -> Snapshot:
                assert counting is not None
                snapshot = counting.result()
                if source.execute("PRAGMA data_version").fetchone()[0] != version:
                    raise EngineError(
                        f"database {self.database.name!r}: {self.path} changed while it was read"
                    )
                return snapshot

            yield SnapshotReading(
                path=self.path,
                block_size=page_size,
                size=page_size * page_count,
                read_at=lambda offset, length: os.pread(descriptor, length, offset),
                finished=finished,
            )
        finally:
            if counting is not None and not counting.done():
                source.interrupt()  # the reading failed: stop counting, release the lock
            pool.shutdown(wait=True)
            source.close()

    def _backfilled(self) -> bool:
        """Whether a passive checkpoint, run on a connection of its own, found every frame of
        the WAL written into the database file (or wrote it there). It waits for nobody: an
        older reader's snapshot, or another checkpoint under way, leaves frames behind. False
        also when the database cannot be opened for writing (a backup that may only read)."""
        try:
            with _connect(self.path, readonly=False, timeout=CHECKPOINT_TIMEOUT_S) as connection:
                row = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error:
            return False
        busy, frames, backfilled = row
        return busy == 0 and frames >= 0 and frames == backfilled

    def _counted(self, source: sqlite3.Connection, page_size: int, sample_rows: int) -> Snapshot:
        """The row counts and sample hashes of the open read transaction, as a `Snapshot`."""
        try:
            counts = row_counts(source)
            samples = None
            if sample_rows:
                spec = new_sample_spec(sample_rows, SQLITE_METHOD)
                samples = SampleHashes(spec, sqlite_sample_hashes(source, spec))
        except sqlite3.Error as exc:
            raise EngineError(
                f"database {self.database.name!r}: cannot count the rows of {self.path}: {exc}"
            ) from exc
        return self._snapshot(self.path, counts, page_size, samples)

    def _snapshot(
        self, path: Path, counts: dict[str, int], page_size: int, samples: SampleHashes | None
    ) -> Snapshot:
        return Snapshot(
            path=path,
            engine=self.engine,
            database=self.database.name,
            server_version=f"SQLite {sqlite3.sqlite_version}",
            row_counts=counts,
            block_size=page_size,
            samples=samples,
        )

    def boundaries(self, snapshot: Snapshot) -> Iterator[int]:
        size = snapshot.path.stat().st_size
        page = snapshot.block_size or 4096
        if size % page:
            raise EngineError(
                f"snapshot {snapshot.path} is {size} bytes, not a whole number of {page}-byte pages"
            )
        return iter(range(page, size + 1, page))

    def restore_target(self, target: str) -> str:
        """`target` as an absolute path to a file that does not exist yet, with no journal of
        an earlier database beside it, in a folder (or one that can be made)."""
        if target.endswith("/"):
            raise RestoreTargetError(
                f"restore target {target} ends with '/'; name the new database file"
            )
        path = Path(target).absolute()
        if path.exists() or path.is_symlink():
            raise RestoreTargetError(f"restore target {path} exists; name a new file")
        _refuse_leftovers(path)
        for folder in path.parents:
            if folder.exists() or folder.is_symlink():
                if not folder.is_dir():
                    raise RestoreTargetError(
                        f"restore target {path}: {folder} is not a directory; expected the "
                        "new file's folder (or a path where it can be made)"
                    )
                break
        return str(path)

    def verification_target(self, scratch: Path, backup_id: str) -> str:
        return str(scratch / f"{backup_id}.db")

    def restore(self, snapshot_file: Path, target: str) -> RestoreReport:
        path = Path(target)
        if path.exists() or path.is_symlink():
            raise RestoreTargetError(f"restore target {path} exists already; expected a new path")
        _refuse_leftovers(path)
        _place(snapshot_file, path)
        unchecked: list[str] = []
        try:
            with _connect(path, readonly=False) as restored:
                stand_ins = stand_in_collations(restored)
                unchecked = collated_orders(restored, stand_ins) if stand_ins else []
                problems = integrity(restored, unchecked)
                # Violations are copied faithfully from the source (the demo has orphans on
                # purpose): worth reporting, but they do not make the restore itself bad.
                notes = foreign_keys(restored)
                counts = row_counts(restored) if not problems else {}
        except sqlite3.Error as exc:
            return RestoreReport(self.engine, str(path), (f"cannot open restored file: {exc}",), {})
        collations = (
            (
                f"the order of {', '.join(unchecked)} was not checked: it follows the"
                f" application's own collation {', '.join(stand_ins)}, which this SQLite lacks",
            )
            if unchecked
            else ()
        )
        return RestoreReport(
            self.engine,
            str(path),
            tuple(problems[:MAX_PROBLEMS]),
            counts,
            summarise(notes) + collations,
        )

    def sample_hashes(self, target: str, spec: SampleSpec) -> dict[str, TableSample]:
        try:
            with _connect(Path(target), readonly=True) as restored:
                stand_in_collations(restored)
                return sqlite_sample_hashes(restored, spec)
        except sqlite3.Error as exc:
            raise EngineError(f"cannot take sample hashes of {target}: {exc}") from exc

    def drop(self, target: str) -> None:
        path = Path(target)
        for leftover in (
            path,
            *(Path(f"{path}{suffix}") for suffix in ("-wal", "-shm", "-journal")),
        ):
            leftover.unlink(missing_ok=True)


def _refuse_leftovers(path: Path) -> None:
    """Refuse a target beside which a journal of an earlier database remains (its file deleted
    after a crash, say): SQLite would apply that `-wal` or hot `-journal` to the restored file
    when it is first opened, and the restore would hold the old database's pages."""
    for suffix in ("-wal", "-journal", "-shm"):
        leftover = Path(f"{path}{suffix}")
        if leftover.exists() or leftover.is_symlink():
            raise RestoreTargetError(
                f"restore target {path}: {leftover} exists, left by an earlier database; SQLite"
                " would apply it to the restored file: move it away, or name another target"
            )


def _identity(status: os.stat_result) -> tuple[int, int]:
    return status.st_dev, status.st_ino


def _descriptors(identity: tuple[int, int]) -> set[int]:
    """This process's open descriptors of the file with `identity`; empty without /proc."""
    found = set()
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return found
    for name in names:
        with contextlib.suppress(OSError, ValueError):
            if _identity(os.fstat(int(name))) == identity:
                found.add(int(name))
    return found


def _place(snapshot_file: Path, path: Path) -> None:
    """Link the snapshot to `path`, never over an existing file, so that `path` appears whole or
    not at all: the snapshot itself when it is on the target's filesystem (`restore_backup`
    assembles it beside the target), else a copy written under a hidden name beside `path`,
    fsynced, linked, and removed on any error.

    The restored file is readable by its owner only (0600, whatever the umask), as private as
    the backup it came from; SQLite gives its -wal and -shm files the same mode.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if os.stat(snapshot_file).st_dev == os.stat(path.parent).st_dev:
        os.chmod(snapshot_file, PRIVATE_FILE)
        os.link(snapshot_file, path)  # fails rather than replaces when `path` appeared meanwhile
        snapshot_file.unlink()
    else:
        aside = path.with_name(f".{path.name}.{os.getpid()}.restoring")
        descriptor = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
        try:
            with snapshot_file.open("rb") as src, os.fdopen(descriptor, "wb") as dst:
                shutil.copyfileobj(src, dst, 16 << 20)
                dst.flush()
                os.fsync(dst.fileno())
            os.link(aside, path)
        finally:
            aside.unlink(missing_ok=True)
    fsync_dir(path.parent)
