"""SQLite backups end to end through the library: consistent under concurrent writes, incremental
chains that restore byte for byte, damage named, and the restored database checked."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import zstandard

from upkeep.backup import incremental
from upkeep.backup.block_table import XOR, ZDELTA
from upkeep.backup.engines.interface import RestoreReport, RestoreTargetError, SnapshotReading
from upkeep.backup.engines.sqlite import SQLiteEngine
from upkeep.backup.errors import BackupError
from upkeep.backup.incremental import block_list, chain_of, take_backup
from upkeep.backup.restore import compare_rows, restore_backup
from upkeep.backup.stores.directory import DirectoryStore
from upkeep.backup.stores.interface import CorruptPiece, MissingPiece, PieceRef
from upkeep.backup.verification import verify_restore
from upkeep.config import Database

SCHEMA = """
CREATE TABLE parents (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE children (
    id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parents(id), note TEXT
);
"""


def _engine(path: Path) -> SQLiteEngine:
    return SQLiteEngine(Database(name="app", engine="sqlite", path=path))


def _create(path: Path, parents: int = 2000, journal_mode: str = "delete") -> SQLiteEngine:
    # Closed at once: a connection left to the garbage collector would keep holding the
    # database's shared lock (WAL), and SQLite would keep the process's closed descriptors of
    # the file open until it let go.
    with contextlib.closing(sqlite3.connect(path)) as connection, connection:
        connection.execute(f"PRAGMA journal_mode={journal_mode}")
        connection.executescript(SCHEMA)
        for i in range(parents):
            connection.execute("INSERT INTO parents (id, name) VALUES (?, ?)", (i, f"p{i}" * 20))
            connection.execute(
                "INSERT INTO children (parent_id, note) VALUES (?, ?)", (i, f"note {i}" * 10)
            )
    return _engine(path)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------- consistency under writes


@pytest.mark.parametrize("journal_mode", ["wal", "delete"])
def test_backup_while_another_thread_writes_restores_consistent(
    tmp_path: Path, journal_mode: str
) -> None:
    db = tmp_path / "app.db"
    engine = _create(db, parents=20_000, journal_mode=journal_mode)
    stop = threading.Event()
    written = []

    def writer() -> None:
        connection = sqlite3.connect(db, timeout=30)
        # Commits without an fsync each: on a loaded machine a rollback-journal commit waited
        # on the disk for so long that none fell within the backup, and the test failed.
        connection.execute("PRAGMA synchronous = OFF")
        n = 1_000_000
        while not stop.is_set():
            with connection:  # one transaction: a parent and its child, or neither
                connection.execute("INSERT INTO parents (id, name) VALUES (?, 'x')", (n,))
                connection.execute("INSERT INTO children (parent_id) VALUES (?)", (n,))
            written.append(n)
            n += 1
        connection.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 20:  # the writer is going
            stop.wait(0.01)
        before = len(written)
        store = DirectoryStore(tmp_path / "store")
        manifest = take_backup(engine, store, base=None, compression_level=3).manifest
        if journal_mode == "delete":
            # The backup reads the file in place inside one read transaction, whose shared lock
            # holds every writer off until it ends (on a loaded machine, for all of it): the
            # writer must go on once the backup is over, neither failed nor blocked for good.
            deadline = time.monotonic() + 10
            while len(written) == before and time.monotonic() < deadline:
                stop.wait(0.01)
        during = len(written) - before
    finally:
        stop.set()
        thread.join()
    assert during > 0, "the writer made no progress while the backup ran"

    outcome = restore_backup(store, manifest, engine, str(tmp_path / "restored.db"))

    assert outcome.ok, outcome.problems
    assert outcome.report.notes == ()  # no child without its parent: a consistent moment
    counts = outcome.report.row_counts
    assert counts == manifest.row_counts
    assert counts["parents"] == counts["children"] >= 20_000 + 20
    with sqlite3.connect(db) as live:
        assert live.execute("SELECT count(*) FROM parents").fetchone()[0] > counts["parents"] - 1


# ---------------------------------------------------------------- incremental chains


def _mutations() -> list[str]:
    """Changes between backups: small updates, inserts, deletes, new data, a full rewrite."""
    return [
        "UPDATE parents SET name = 'renamed' WHERE id % 97 = 0",
        "INSERT INTO parents (id, name) SELECT id + 100000, name FROM parents WHERE id < 300",
        "DELETE FROM children WHERE id % 5 = 0",
        "CREATE TABLE extra (k TEXT PRIMARY KEY, v BLOB); "
        "INSERT INTO extra SELECT 'k' || id, randomblob(300) FROM parents WHERE id < 500",
        "DELETE FROM extra; VACUUM",
    ]


def test_every_point_of_an_incremental_chain_restores_byte_for_byte(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    engine = _create(db)
    chain_store = DirectoryStore(tmp_path / "chain")
    full_store = DirectoryStore(tmp_path / "fulls")
    points = []  # (incremental manifest, sha256 of a full backup of the same moment)
    base = None
    for step, sql in enumerate([None, *_mutations()]):
        if sql:
            with sqlite3.connect(db) as connection:
                connection.executescript(sql)
        base = take_backup(engine, chain_store, base=base, compression_level=3).manifest
        full = take_backup(engine, full_store, base=None, compression_level=3).manifest
        reference = tmp_path / f"full-{step}.db"
        restore_backup(full_store, full, engine, str(reference))
        points.append((base, _sha(reference), full))

    kinds = [m.kind for m, _, _ in points]
    assert kinds == ["full"] + ["incremental"] * len(_mutations())
    for step, (manifest, expected, full) in enumerate(points):
        restored = tmp_path / f"restored-{step}.db"
        outcome = restore_backup(chain_store, manifest, engine, str(restored))
        assert outcome.ok, (step, outcome.problems)
        assert _sha(restored) == expected, f"point {step} differs from a full backup"
        assert manifest.sha256 == full.sha256
        if step in (1, 2):  # a few rows changed: a fraction of the pages is stored
            assert manifest.stored_bytes < full.stored_bytes / 4, step


def _page_digest(path: Path, page: int) -> str:
    data = path.read_bytes()
    hashes = (hashlib.sha256(data[at : at + page]).digest() for at in range(0, len(data), page))
    return hashlib.sha256(b"".join(hashes)).hexdigest()


@pytest.mark.parametrize("journal_mode", ["delete", "wal"])
def test_backups_of_many_pieces_restore_byte_for_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, journal_mode: str
) -> None:
    # Small pieces and reads: the full and the incremental each span many of them.
    monkeypatch.setattr(incremental, "PIECE_SIZE", 32 << 10)
    monkeypatch.setattr(incremental, "READ_SIZE", 24 << 10)
    db = tmp_path / "app.db"
    engine = _create(db, journal_mode=journal_mode)
    store = DirectoryStore(tmp_path / "store")
    taken = []
    for step, sql in enumerate([None, *_mutations()[:3]]):
        if sql:
            with contextlib.closing(sqlite3.connect(db)) as connection, connection:
                connection.executescript(sql)
        base = taken[-1][0] if taken else None
        manifest = take_backup(engine, store, base=base, compression_level=1).manifest
        reference = tmp_path / f"reference-{step}.db"
        # Read in place (WAL: once checkpointed), and nothing writes meanwhile: exactly the
        # file, its header included.
        shutil.copyfile(db, reference)
        taken.append((manifest, reference))

    full = taken[0][0]
    assert full.kind == "full" and len(full.pieces) > 10  # 100 pages of 4 KiB: 13 + index
    for step, (manifest, reference) in enumerate(taken):
        restored = tmp_path / f"restored-{step}.db"
        outcome = restore_backup(store, manifest, engine, str(restored))
        assert outcome.ok, (step, outcome.problems)
        assert restored.read_bytes() == reference.read_bytes(), f"point {step} differs"
        # The digest is the sha256 of the page sha256s, recomputable from the file alone.
        page = manifest.block_size
        assert page is not None and manifest.sha256 == _page_digest(reference, page)
        assert manifest.block_count * page == manifest.size == reference.stat().st_size


def test_a_page_that_differs_from_its_listed_sha256_fails_the_restore(tmp_path: Path) -> None:
    engine = _create(tmp_path / "app.db")
    store = DirectoryStore(tmp_path / "store")
    manifest = take_backup(engine, store, base=None, compression_level=1).manifest
    # Rewrite a piece and its manifest entry consistently, as a bug in writing would: the
    # piece's own sha256 then checks out; the page changed inside it must not.
    piece = tmp_path / "store" / manifest.id / "p000000.zst"
    data = bytearray(zstandard.ZstdDecompressor().decompress(piece.read_bytes()))
    data[5000] ^= 0xFF  # in the second page
    rewritten = zstandard.ZstdCompressor(level=1).compress(bytes(data))
    piece.write_bytes(rewritten)
    forged = PieceRef(piece.name, len(rewritten), hashlib.sha256(rewritten).hexdigest())
    tampered = replace(
        manifest, pieces=tuple(forged if r.name == piece.name else r for r in manifest.pieces)
    )

    with pytest.raises(
        CorruptPiece, match=f"{manifest.id}/p000000.zst.*block 1 of the snapshot differs"
    ):
        restore_backup(store, tampered, engine, str(tmp_path / "new" / "restored.db"))
    assert sorted(tmp_path.iterdir()) == [tmp_path / "app.db", tmp_path / "store"]  # no folder
    with pytest.raises(BackupError, match="its block list differs from its manifest's"):
        restore_backup(store, replace(manifest, sha256="0" * 64), engine, str(tmp_path / "r.db"))


def test_damage_in_a_chain_fails_the_restore_naming_the_piece(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    engine = _create(db)
    store = DirectoryStore(tmp_path / "store")
    full = take_backup(engine, store, base=None, compression_level=3).manifest
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE parents SET name = 'x' WHERE id < 10")
    incremental = take_backup(engine, store, base=full, compression_level=3).manifest
    piece = tmp_path / "store" / full.id / "p000000.zst"
    original = piece.read_bytes()

    damaged = bytearray(original)
    damaged[len(damaged) // 2] ^= 0x01
    piece.write_bytes(bytes(damaged))
    with pytest.raises(CorruptPiece) as corrupt:
        restore_backup(store, incremental, engine, str(tmp_path / "r1.db"))
    assert corrupt.value.piece == f"{full.id}/p000000.zst"
    assert not (tmp_path / "r1.db").exists()

    piece.unlink()
    with pytest.raises(MissingPiece) as missing:
        restore_backup(store, incremental, engine, str(tmp_path / "r2.db"))
    assert missing.value.piece == f"{full.id}/p000000.zst"

    piece.write_bytes(original)
    (tmp_path / "store" / incremental.id / "index.zst").unlink()
    with pytest.raises(MissingPiece, match=f"{incremental.id}/index.zst"):
        restore_backup(store, incremental, engine, str(tmp_path / "r3.db"))
    assert restore_backup(store, full, engine, str(tmp_path / "r4.db")).ok


# ---------------------------------------------------------------- the engine's own checks


def test_restore_refuses_an_existing_target(tmp_path: Path) -> None:
    engine = _create(tmp_path / "app.db", parents=10)
    snapshot = engine.snapshot(tmp_path / "snap.db")
    (tmp_path / "taken.db").write_bytes(b"precious")
    with pytest.raises(RestoreTargetError, match="exists already") as refused:
        engine.restore(snapshot.path, str(tmp_path / "taken.db"))
    assert refused.value.exit_code == 2  # bad input: the person named an existing file
    assert (tmp_path / "taken.db").read_bytes() == b"precious"


def test_a_restore_target_is_made_absolute_and_refused_when_it_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = _engine(tmp_path / "app.db")
    monkeypatch.chdir(tmp_path)
    assert engine.restore_target("new.db") == str(tmp_path / "new.db")
    (tmp_path / "taken.db").write_bytes(b"precious")
    (tmp_path / "dangling.db").symlink_to(tmp_path / "nowhere.db")
    for name in ("taken.db", "dangling.db"):
        with pytest.raises(RestoreTargetError) as refused:
            engine.restore_target(name)
        assert str(refused.value) == f"restore target {tmp_path / name} exists; name a new file"
        assert refused.value.exit_code == 2  # bad input, like a wrong parameter
    assert (tmp_path / "taken.db").read_bytes() == b"precious"
    assert not (tmp_path / "nowhere.db").exists()


@pytest.mark.parametrize("suffix", ["-wal", "-journal", "-shm"])
def test_a_restore_beside_an_earlier_databases_journal_is_refused(
    tmp_path: Path, suffix: str
) -> None:
    """The disaster case: the database file is gone, its WAL (or hot journal) is not. SQLite
    would apply it to the restored file on first open."""
    engine = _create(tmp_path / "app.db", parents=10)
    snapshot = engine.snapshot(tmp_path / "snap.db")
    leftover = tmp_path / f"lost.db{suffix}"
    leftover.write_bytes(b"pages of the database that was lost")
    expected = (
        f"restore target {tmp_path / 'lost.db'}: {leftover} exists, left by an earlier database;"
        " SQLite would apply it to the restored file: move it away, or name another target"
    )
    for attempt in (
        lambda: engine.restore_target(str(tmp_path / "lost.db")),
        lambda: engine.restore(snapshot.path, str(tmp_path / "lost.db")),
    ):
        with pytest.raises(RestoreTargetError) as refused:
            attempt()
        assert str(refused.value) == expected and refused.value.exit_code == 2
    assert not (tmp_path / "lost.db").exists()
    assert leftover.read_bytes() == b"pages of the database that was lost"


def test_a_restore_target_that_names_a_folder_or_goes_through_a_file_is_refused(
    tmp_path: Path,
) -> None:
    engine = _engine(tmp_path / "app.db")
    (tmp_path / "plain").write_text("a file")
    with pytest.raises(RestoreTargetError, match="ends with '/'; name the new database file"):
        engine.restore_target(f"{tmp_path}/newdir/")
    with pytest.raises(RestoreTargetError) as refused:
        engine.restore_target(str(tmp_path / "plain" / "x.db"))
    assert str(refused.value) == (
        f"restore target {tmp_path / 'plain' / 'x.db'}: {tmp_path / 'plain'} is not a directory;"
        " expected the new file's folder (or a path where it can be made)"
    )
    assert engine.restore_target(str(tmp_path / "new" / "deeper" / "x.db")).endswith("x.db")
    assert not (tmp_path / "newdir").exists() and not (tmp_path / "new").exists()


def test_a_restore_that_fails_mid_copy_leaves_no_target_and_no_partial_file(
    tmp_path: Path,
) -> None:
    # A snapshot on another filesystem (/proc) is copied; reading it fails part way (EIO).
    engine = _engine(tmp_path / "app.db")
    target = tmp_path / "restored.db"
    with pytest.raises(OSError, match="Input/output error"):
        engine.restore(Path("/proc/self/mem"), str(target))
    assert list(tmp_path.iterdir()) == []


def test_a_restore_removes_a_killed_restores_folder_beside_it_but_not_a_running_ones(
    tmp_path: Path,
) -> None:
    engine = _create(tmp_path / "app.db", parents=10)
    store = DirectoryStore(tmp_path / "store")
    manifest = take_backup(engine, store, base=None, compression_level=1).manifest
    beside = tmp_path / "restored"
    killed, running = beside / ".upkeep-restore-999999999-abc", beside / ".upkeep-restore-1-def"
    for folder in (killed, running):
        folder.mkdir(parents=True)
        (folder / "snapshot").write_bytes(b"rows")
    held = os.open(running, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(held, fcntl.LOCK_EX)  # as a restore going on holds its folder
        outcome = restore_backup(store, manifest, engine, str(beside / "r.db"))
    finally:
        os.close(held)

    assert outcome.ok, outcome.problems
    assert f"removed {killed}: left by a restore that was stopped" in outcome.report.notes
    assert sorted(beside.iterdir()) == [running, beside / "r.db"]


def test_a_verification_target_is_a_new_file_in_the_scratch_directory(tmp_path: Path) -> None:
    target = _engine(tmp_path / "app.db").verification_target(tmp_path, "app-20261127T020000Z-1a2b")
    assert target == str(tmp_path / "app-20261127T020000Z-1a2b.db")
    assert not Path(target).exists()


def test_a_damaged_database_fails_integrity_check(tmp_path: Path) -> None:
    engine = _create(tmp_path / "app.db", parents=3000)
    snapshot = engine.snapshot(tmp_path / "snap.db")
    data = bytearray(snapshot.path.read_bytes())
    page = snapshot.block_size or 4096
    data[3 * page + 8 : 3 * page + 200] = b"\xff" * 192  # cell pointers of a b-tree page
    snapshot.path.write_bytes(bytes(data))

    report = engine.restore(snapshot.path, str(tmp_path / "restored.db"))

    assert not report.ok
    assert any(p.startswith(("integrity_check", "cannot open")) for p in report.problems)


def test_foreign_key_violations_of_the_source_are_notes_not_failures(tmp_path: Path) -> None:
    engine = _create(tmp_path / "app.db", parents=10)
    with sqlite3.connect(tmp_path / "app.db") as connection:
        connection.execute("INSERT INTO children (parent_id) VALUES (424242)")
    snapshot = engine.snapshot(tmp_path / "snap.db")
    assert snapshot.row_counts == {"children": 11, "parents": 10}

    report = engine.restore(snapshot.path, str(tmp_path / "restored.db"))

    assert report.ok
    assert report.notes == (
        "foreign_key_check: 1 row(s) of children reference missing parents rows",
    )


def test_row_counts_are_compared_with_the_manifest() -> None:
    report = RestoreReport("sqlite", "x.db", (), {"a": 3, "b": 4, "new": 1})
    assert compare_rows({"a": 3, "b": 5}, report) == (
        "table b: 4 rows restored, the backup recorded 5",
        "table new: restored but not in the backup's manifest",
    )
    assert compare_rows({"a": 3}, RestoreReport("sqlite", "x", ("integrity_check: bad",), {})) == ()


def test_a_database_with_an_extensions_virtual_table_is_backed_up_and_verifies(
    tmp_path: Path,
) -> None:
    """What a SpatiaLite database (or one of any extension's virtual tables) looks like to a
    SQLite without that extension: its schema names a module SQLite does not have."""
    engine = _create(tmp_path / "app.db", parents=50)
    with sqlite3.connect(tmp_path / "app.db") as connection:
        connection.execute("CREATE VIRTUAL TABLE docs USING fts5(body)")
        connection.execute("CREATE TABLE SQLiteUsers (id INTEGER PRIMARY KEY)")  # not SQLite's
        connection.executemany("INSERT INTO docs VALUES (?)", [(f"doc {i}",) for i in range(30)])
    with contextlib.closing(sqlite3.connect(tmp_path / "app.db")) as connection:
        connection.execute("PRAGMA writable_schema = ON")
        connection.execute(
            "INSERT INTO sqlite_schema (type, name, tbl_name, rootpage, sql) VALUES ('table',"
            " 'idx_geom', 'idx_geom', 0, 'CREATE VIRTUAL TABLE idx_geom USING"
            " VirtualSpatialIndex()')"
        )
        connection.commit()
    with (
        sqlite3.connect(tmp_path / "app.db") as connection,
        pytest.raises(sqlite3.OperationalError, match="no such module: VirtualSpatialIndex"),
    ):
        connection.execute("SELECT count(*) FROM idx_geom")
    store = DirectoryStore(tmp_path / "store")

    manifest = take_backup(engine, store, base=None, compression_level=1).manifest

    counts = manifest.row_counts
    assert counts["parents"] == 50 and counts["docs"] == 30 and counts["docs_content"] == 30
    assert "idx_geom" not in counts and counts["SQLiteUsers"] == 0
    outcome, note = verify_restore(store, manifest, engine.database)
    assert note is None and outcome is not None
    assert outcome.ok, outcome.problems
    assert outcome.report.row_counts == counts


def test_a_missing_database_file_is_a_backup_error(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "nope.db")
    with pytest.raises(BackupError, match="nope.db does not exist; expected the SQLite database"):
        engine.snapshot(tmp_path / "snap.db")
    assert not (tmp_path / "nope.db").exists()  # a read-only look never creates it
    (tmp_path / "nope.db").mkdir()
    with pytest.raises(BackupError, match="nope.db is not a regular file; expected the SQLite"):
        take_backup(engine, DirectoryStore(tmp_path / "store"), base=None, compression_level=1)


def test_a_hot_journal_left_by_a_killed_writer_is_named_with_what_to_do(tmp_path: Path) -> None:
    """A writer killed mid-transaction after its cache spilled into the file leaves a hot
    journal that only a connection that may write can roll back; a backup never writes."""
    engine = _create(tmp_path / "app.db", parents=2000)
    writer = (
        "import os, sqlite3, sys\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "c.execute('PRAGMA cache_size = 1')\n"
        "c.execute('BEGIN')\n"
        "c.execute(\"UPDATE children SET note = note || 'changed'\")\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", writer, str(tmp_path / "app.db")], check=True)
    journal = tmp_path / "app.db-journal"
    assert journal.stat().st_size > 0

    with pytest.raises(BackupError) as refused:
        take_backup(engine, DirectoryStore(tmp_path / "store"), base=None, compression_level=1)

    assert f"({journal} is a hot journal, left by a writer that stopped" in str(refused.value)
    assert "opens the database read-write, SQLite rolls it back" in str(refused.value)


def test_changed_pages_are_stored_as_deltas_that_restore_exactly(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    engine = _create(db, parents=5000)
    store = DirectoryStore(tmp_path / "store")
    updates = [
        "UPDATE parents SET name = upper(name) WHERE id % 50 = 0",  # same size: in place
        "UPDATE parents SET name = name || '-longer' WHERE id % 50 = 0",  # rows move in the page
        "UPDATE parents SET name = lower(name) WHERE id % 50 = 0",  # a delta of a delta
    ]
    base = take_backup(engine, store, base=None, compression_level=3).manifest
    full_stored = base.stored_bytes
    for step, sql in enumerate(updates):
        with sqlite3.connect(db) as connection:
            connection.execute(sql)
        base = take_backup(engine, store, base=base, compression_level=3).manifest
        chain = chain_of(store, base)
        kinds = Counter(entry.kind for entry in block_list(store, chain) if entry.owner == step + 1)
        assert kinds[XOR] + kinds[ZDELTA] > 0, (step, kinds)
        assert base.stored_bytes < full_stored / 10, step
        reference = db  # nothing writes meanwhile: the file is the moment backed up
        restored = tmp_path / f"restored-{step}.db"
        assert restore_backup(store, base, engine, str(restored)).ok
        assert _sha(restored) == _sha(reference), step
    assert any(e.delta is not None and e.delta.delta is not None for e in block_list(store, chain))


# ---------------------------------------------------------------- reading the file in place

_TRY_WRITE = """\
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)
try:
    connection.execute("BEGIN IMMEDIATE")
    connection.execute("INSERT INTO parents (id, name) VALUES (-1, 'x')")
    connection.execute("COMMIT")
except sqlite3.OperationalError as exc:
    print(exc)
else:
    print("written")
"""


def _try_write(db: Path) -> str:
    """What another process gets when it writes to `db` without waiting."""
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-c", _TRY_WRITE, str(db)], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_a_rollback_journal_database_is_read_in_place_and_writers_wait(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    engine = _create(db, parents=300)
    dest = tmp_path / "staging" / "snapshot"
    dest.parent.mkdir()
    with engine.reading(dest, sample_rows=5) as reading:
        assert reading.path == db and not dest.exists()  # no copy written
        assert _try_write(db) == "database is locked"  # no writer commits while it is read
        data = reading.read_at(0, reading.size)
        snapshot = reading.finished()
    assert data == db.read_bytes()
    assert snapshot.row_counts == {"children": 300, "parents": 300}
    assert snapshot.samples is not None and set(snapshot.samples.tables) == {"children", "parents"}
    assert _try_write(db) == "written"  # the lock ended with the reading


@contextlib.contextmanager
def _application(db: Path) -> Iterator[sqlite3.Connection]:
    """An application's connection to a WAL database that checkpoints only when told: its
    commits stay in app.db-wal (open, it also keeps SQLite from removing that file)."""
    connection = sqlite3.connect(db, isolation_level=None)
    try:
        connection.execute("PRAGMA wal_autocheckpoint=0")
        yield connection
    finally:
        connection.close()


def _add(connection: sqlite3.Connection, first: int, count: int) -> None:
    """One transaction: `count` parents from `first` on, each with its child."""
    connection.execute("BEGIN IMMEDIATE")
    for n in range(first, first + count):
        connection.execute("INSERT INTO parents (id, name) VALUES (?, 'x')", (n,))
        connection.execute("INSERT INTO children (parent_id) VALUES (?)", (n,))
    connection.execute("COMMIT")


def _read_whole(reading: SnapshotReading, out: Path) -> dict[str, int]:
    """The reading's bytes written to `out`, and the row counts SQLite finds in them."""
    out.write_bytes(reading.read_at(0, reading.size))
    with contextlib.closing(sqlite3.connect(out)) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        return {
            table: copy.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("children", "parents")
        }


def _wal_database(tmp_path: Path) -> tuple[Path, SQLiteEngine, Path]:
    """A WAL database of 300 parents and children, its engine, and where a copy of it goes."""
    db = tmp_path / "app.db"
    dest = tmp_path / "staging" / "snapshot"
    dest.parent.mkdir()
    return db, _create(db, parents=300, journal_mode="wal"), dest


def _copied(engine: SQLiteEngine, dest: Path, out: Path) -> tuple[dict[str, int], dict[str, int]]:
    """A reading that had to copy the database into `dest` first: the row counts SQLite finds in
    its bytes (written to `out`), and those its snapshot recorded. The copy is gone after it."""
    with engine.reading(dest) as reading:
        assert reading.path == dest and dest.is_file()
        counts = _read_whole(reading, out)
        snapshot = reading.finished()
    assert not dest.exists()
    return counts, snapshot.row_counts


def _backfilled(db: Path) -> tuple[int, int]:
    """(frames in the WAL, frames written into the file) after a passive checkpoint."""
    with contextlib.closing(sqlite3.connect(db)) as connection:
        _, frames, backfilled = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return frames, backfilled


def test_a_wal_database_is_checkpointed_then_read_in_place_and_writers_go_on(
    tmp_path: Path,
) -> None:
    db, engine, dest = _wal_database(tmp_path)
    with _application(db) as app:
        _add(app, 1000, 50)  # committed, in app.db-wal only
        assert Path(f"{db}-wal").stat().st_size > 0
        with engine.reading(dest, sample_rows=5) as reading:
            assert reading.path == db and not dest.exists()  # no copy written
            _add(app, 2000, 50)  # writers go on...
            assert _try_write(db) == "written"
            frames, backfilled = _backfilled(db)
            assert backfilled < frames  # ...and no checkpoint writes into the file meanwhile
            counts = _read_whole(reading, tmp_path / "read.db")
            snapshot = reading.finished()
    # The checkpoint before the reading moved the first 50 into the file; nothing later.
    assert counts == snapshot.row_counts == {"children": 350, "parents": 350}
    assert snapshot.samples is not None and set(snapshot.samples.tables) == {"children", "parents"}
    assert _backfilled(db)[0] == _backfilled(db)[1]  # the reading held nothing back after it


def test_a_wal_database_an_older_reader_keeps_from_checkpointing_is_copied(
    tmp_path: Path,
) -> None:
    db, engine, dest = _wal_database(tmp_path)
    with _application(db) as app, contextlib.closing(sqlite3.connect(db)) as older:
        _add(app, 1000, 50)
        older.execute("BEGIN")
        assert older.execute("SELECT count(*) FROM parents").fetchone() == (350,)
        # Frames the older reader's snapshot keeps out of the file; pages rewritten in place,
        # so the file is no shorter than the newest snapshot.
        app.execute("UPDATE parents SET name = 'y' WHERE id < 100")
        counts, recorded = _copied(engine, dest, tmp_path / "read.db")
        older.execute("COMMIT")
    assert counts == recorded == {"children": 350, "parents": 350}
    with contextlib.closing(sqlite3.connect(tmp_path / "read.db")) as read:
        assert read.execute("SELECT count(*) FROM parents WHERE name = 'y'").fetchone() == (100,)


def test_a_wal_database_whose_file_lacks_pages_of_the_snapshot_is_copied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Should a checkpoint be taken for complete when it was not, the snapshot's new pages are
    # still only in app.db-wal: the file is too short to be what the transaction sees.
    monkeypatch.setattr(SQLiteEngine, "_backfilled", lambda self: True)
    db, engine, dest = _wal_database(tmp_path)
    with _application(db) as app:
        _add(app, 1000, 500)
        counts, recorded = _copied(engine, dest, tmp_path / "read.db")
    assert counts == recorded == {"children": 800, "parents": 800}


def test_a_commit_between_the_checkpoint_and_the_reading_has_the_wal_database_copied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db, engine, dest = _wal_database(tmp_path)
    with _application(db) as app:
        checkpoint = SQLiteEngine._backfilled

        def then_a_commit(self: SQLiteEngine) -> bool:
            done = checkpoint(self)
            _add(app, 1000, 50)  # lands in app.db-wal before the read transaction starts
            return done

        monkeypatch.setattr(SQLiteEngine, "_backfilled", then_a_commit)
        counts, recorded = _copied(engine, dest, tmp_path / "read.db")
    assert counts == recorded == {"children": 350, "parents": 350}


def test_a_wal_database_that_cannot_be_checkpointed_is_copied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from upkeep.backup.engines import sqlite as sqlite_engine

    opened = sqlite_engine._connect

    @contextlib.contextmanager
    def read_only_file(path: Path, *, readonly: bool, **kw: float) -> Iterator[sqlite3.Connection]:
        # As for a backup that may only read the file: the tests run as root, whom file modes
        # do not stop, so the refusal is made here.
        if not readonly:
            raise sqlite3.OperationalError("attempt to write a readonly database")
        with opened(path, readonly=readonly, **kw) as connection:
            yield connection

    monkeypatch.setattr(sqlite_engine, "_connect", read_only_file)
    db, engine, dest = _wal_database(tmp_path)
    with _application(db) as app:
        _add(app, 1000, 50)
        counts, recorded = _copied(engine, dest, tmp_path / "read.db")
        frames, backfilled = _backfilled(db)
    assert counts == recorded == {"children": 350, "parents": 350}
    assert backfilled == frames > 0  # the checkpoint here was the test's: nothing before it


_BURSTS = """import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
connection.execute("PRAGMA wal_autocheckpoint=8")  # checkpoints race the backup's
n = 1_000_000
while True:
    for _ in range(20):
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("INSERT INTO parents (id, name) VALUES (?, 'x')", (n,))
        connection.execute("INSERT INTO children (parent_id) VALUES (?)", (n,))
        connection.execute("COMMIT")
        n += 1
    time.sleep(0.02)
"""


def test_wal_readings_racing_another_processs_commits_and_checkpoints_are_consistent(
    tmp_path: Path,
) -> None:
    db = tmp_path / "app.db"
    engine = _create(db, parents=2000, journal_mode="wal")
    writer = subprocess.Popen([sys.executable, "-c", _BURSTS, str(db)])
    ways: Counter[str] = Counter()
    seen = 0  # the most rows a reading saw: the writer's progress, as the readings met it
    try:
        # Until both ways were taken a few times while the writer went on (the checkpoint
        # completes or not by the race's timing: read in place, or copied), and readings saw
        # more than one of its bursts (on a loaded machine it may start late).
        for attempt in range(400):
            if min(ways["in place"], ways["copied"]) >= 5 and seen > 2000 + 20:
                break
            dest = tmp_path / f"snapshot-{attempt}"
            with engine.reading(dest) as reading:
                ways["in place" if reading.path == db else "copied"] += 1
                counts = _read_whole(reading, tmp_path / f"read-{attempt}.db")
                snapshot = reading.finished()
            assert counts == snapshot.row_counts, attempt
            assert counts["parents"] == counts["children"] >= 2000, attempt  # whole transactions
            seen = max(seen, counts["parents"])
            (tmp_path / f"read-{attempt}.db").unlink()
            assert writer.poll() is None, "the writer stopped"
            time.sleep(attempt % 7 / 1000)  # a different moment of the writer's cycle each time
    finally:
        writer.kill()
        writer.wait()
    assert seen > 2000 + 20, "the readings never met the writer's commits"
    assert min(ways.values()) >= 5, ways


def test_reading_in_place_keeps_the_locks_of_the_processs_other_connections(
    tmp_path: Path,
) -> None:
    # Closing any descriptor of a file drops every POSIX lock the process holds on it: reading
    # through a descriptor of its own, then closing it, would release this reserved lock.
    db = tmp_path / "app.db"
    engine = _create(db, parents=300)
    other = sqlite3.connect(db, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # a reserved lock: another writer must wait
        manifest = take_backup(
            engine, DirectoryStore(tmp_path / "store"), base=None, compression_level=1
        ).manifest
        assert manifest.row_counts["parents"] == 300
        assert _try_write(db) == "database is locked"
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert _try_write(db) == "written"


def test_without_sqlites_own_descriptor_the_database_is_copied_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from upkeep.backup.engines import sqlite as sqlite_engine

    monkeypatch.setattr(sqlite_engine, "_descriptors", lambda identity: set())  # as without /proc
    db = tmp_path / "app.db"
    engine = _create(db, parents=300)
    dest = tmp_path / "snapshot"
    with engine.reading(dest) as reading:
        assert reading.path == dest and dest.is_file()
        assert _try_write(db) == "written"
    assert not dest.exists()
    store = DirectoryStore(tmp_path / "store")
    manifest = take_backup(engine, store, base=None, compression_level=1).manifest
    assert restore_backup(store, manifest, engine, str(tmp_path / "restored.db")).ok


def test_a_failed_reading_releases_the_database(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    engine = _create(db, parents=3000)
    with pytest.raises(RuntimeError, match="disk full"), engine.reading(tmp_path / "s") as reading:
        reading.read_at(0, 4096)
        raise RuntimeError("disk full")
    assert _try_write(db) == "written"


def test_a_schema_with_the_applications_own_collation_is_backed_up_and_verifies(
    tmp_path: Path,
) -> None:
    """Calibre's PYNOCASE, Android's LOCALIZED: collations the application registers, which
    upkeep does not have. The restored copy is checked but for the indexes they order."""

    def pynocase(left: str, right: str) -> int:
        return (left.lower() > right.lower()) - (left.lower() < right.lower())

    path = tmp_path / "library.db"
    with contextlib.closing(sqlite3.connect(path)) as app:
        app.create_collation("PYNOCASE", pynocase)
        app.executescript(
            "CREATE TABLE books (id INTEGER PRIMARY KEY, title TEXT COLLATE PYNOCASE);"
            "CREATE INDEX books_title ON books (title);"
            "CREATE TABLE tags (name TEXT COLLATE PYNOCASE PRIMARY KEY) WITHOUT ROWID;"
        )
        app.executemany("INSERT INTO books (title) VALUES (?)", [("b",), ("A",), ("c",), ("B",)])
        app.executemany("INSERT INTO tags VALUES (?)", [("x",), ("Y",), ("z",)])
        app.commit()
    with sqlite3.connect(path) as plain, pytest.raises(sqlite3.OperationalError):
        plain.execute("PRAGMA integrity_check").fetchall()  # what the check met before
    engine = _engine(path)
    store = DirectoryStore(tmp_path / "store")

    manifest = take_backup(engine, store, base=None, compression_level=1).manifest

    assert manifest.row_counts == {"books": 4, "tags": 3}
    outcome, note = verify_restore(store, manifest, engine.database)
    assert note is None and outcome is not None and outcome.ok, outcome
    assert outcome.report.notes == (
        "the order of books_title, tags was not checked: it follows the application's own"
        " collation PYNOCASE, which this SQLite lacks",
    )


def test_damage_elsewhere_is_found_however_many_orders_the_stand_in_cannot_check(
    tmp_path: Path,
) -> None:
    """integrity_check stops at 100 messages: the stand-in's false ones about a large collated
    index must not crowd out real damage in another table."""

    def reverse(left: str, right: str) -> int:
        return (left < right) - (left > right)

    path = tmp_path / "app.db"
    with contextlib.closing(sqlite3.connect(path)) as app:
        app.create_collation("REV", reverse)
        app.executescript(
            "CREATE TABLE a (id INTEGER PRIMARY KEY, t TEXT COLLATE REV);"
            "CREATE INDEX a_t ON a (t);"
            "CREATE TABLE z (id INTEGER PRIMARY KEY, t TEXT);"
            "CREATE INDEX z_i ON z (t COLLATE NOCASE);"
        )
        app.executemany("INSERT INTO a (t) VALUES (?)", [(f"v{i:04d}",) for i in range(300)])
        app.executemany("INSERT INTO z (t) VALUES (?)", [("b",), ("A",), ("c",), ("B",)])
        app.commit()
        # z_i's entries stay in NOCASE order while its definition now says BINARY: damaged.
        app.execute("PRAGMA writable_schema = ON")
        app.execute("UPDATE sqlite_schema SET sql = 'CREATE INDEX z_i ON z (t)' WHERE name = 'z_i'")
        app.commit()
    engine = _engine(path)
    snapshot = engine.snapshot(tmp_path / "snap.db")

    report = engine.restore(snapshot.path, str(tmp_path / "restored.db"))

    assert not report.ok
    assert any("z_i" in problem for problem in report.problems), report.problems
    assert not any("a_t" in problem for problem in report.problems), report.problems
