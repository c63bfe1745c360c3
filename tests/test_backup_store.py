"""The directory store, the block list and the taking of a backup: atomic publishing, cleanup after
a crash or a full disk, every piece checked, incremental block lists that copy from their base."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.backup import KILLED_BACKUP, work_folders
from helpers.fifo import without_waiting_on
from helpers.tiny_fs import tiny_filesystem

from upkeep.backup.block_table import RAW, XOR, ZDELTA
from upkeep.backup.engines.sqlite import SQLiteEngine
from upkeep.backup.errors import BackupError
from upkeep.backup.incremental import block_list, chain_of, take_backup
from upkeep.backup.manifest import (
    MANIFEST_NAME,
    IndexBuilder,
    decode_index,
    manifest_from_json,
    manifest_to_json,
)
from upkeep.backup.restore import restore_backup
from upkeep.backup.stores.directory import STAGING, DirectoryStore
from upkeep.backup.stores.interface import (
    BackupKind,
    CorruptPiece,
    Manifest,
    MissingPiece,
    PieceRef,
    StoreError,
    write_synced,
)
from upkeep.config import Database


def _manifest(backup_id: str, pieces: tuple[PieceRef, ...] = ()) -> Manifest:
    return Manifest(
        id=backup_id,
        engine="sqlite",
        database="app",
        server_version="SQLite 3",
        created="2026-11-27T02:00:00+00:00",
        kind=BackupKind.FULL,
        base=None,
        chain_root=backup_id,
        size=0,
        sha256="0" * 64,
        stored_bytes=sum(p.size for p in pieces),
        block_size=4096,
        block_count=0,
        index="index.zst",
        pieces=pieces,
        row_counts={"t": 3},
        compression=3,
        upkeep_version="0",
    )


def _staged(store: DirectoryStore, backup_id: str, data: bytes = b"piece") -> tuple[Path, Manifest]:
    import hashlib

    staging = store.new_staging(backup_id)
    write_synced(staging / "p000000.zst", data)
    ref = PieceRef("p000000.zst", len(data), hashlib.sha256(data).hexdigest())
    return staging, _manifest(backup_id, (ref,))


def _make_db(path: Path, rows: int, width: int = 200) -> SQLiteEngine:
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
    connection.executemany(
        "INSERT INTO t (v) VALUES (?)", ((os.urandom(width // 2).hex(),) for _ in range(rows))
    )
    connection.commit()
    connection.close()
    return SQLiteEngine(Database(name="app", engine="sqlite", path=path))


# ---------------------------------------------------------------- publishing


def test_a_backup_is_invisible_until_put_and_then_complete(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path / "store")
    staging, manifest = _staged(store, "app-1")
    (staging / "snapshot").write_bytes(b"not a piece")
    assert store.manifests() == []  # staged is not published

    store.put(staging, manifest)

    assert [m.id for m in store.manifests()] == ["app-1"]
    published = tmp_path / "store" / "app-1"
    assert sorted(p.name for p in published.iterdir()) == [MANIFEST_NAME, "p000000.zst"]
    assert not staging.exists()
    assert store.read_piece(manifest, "p000000.zst") == b"piece"


def test_put_refuses_a_manifest_whose_piece_is_not_staged(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path / "store")
    staging, manifest = _staged(store, "app-1")
    (staging / "p000000.zst").unlink()
    with pytest.raises(BackupError, match="p000000.zst is not staged"):
        store.put(staging, manifest)
    assert store.manifests() == []


def test_a_flipped_byte_or_a_missing_piece_is_named(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path / "store")
    staging, manifest = _staged(store, "app-1", b"0123456789")
    store.put(staging, manifest)
    piece = tmp_path / "store" / "app-1" / "p000000.zst"
    piece.write_bytes(b"0123456788")  # same size, one byte changed
    with pytest.raises(CorruptPiece, match="app-1/p000000.zst is corrupt") as corrupt:
        store.read_piece(manifest, "p000000.zst")
    assert corrupt.value.piece == "app-1/p000000.zst"
    piece.unlink()
    with pytest.raises(MissingPiece) as missing:
        store.read_piece(manifest, "p000000.zst")
    assert missing.value.piece == "app-1/p000000.zst"


def test_delete_takes_the_whole_backup_away(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path / "store")
    for backup_id in ("app-1", "app-2"):
        store.put(*_staged(store, backup_id))
    store.delete("app-1")
    assert [m.id for m in store.manifests()] == ["app-2"]
    assert not (tmp_path / "store" / "app-1").exists()
    with pytest.raises(BackupError, match="not in"):
        store.delete("app-1")


def _piece_as_link_to_dev_zero(piece: Path) -> None:
    piece.unlink()
    piece.symlink_to("/dev/zero")  # read_bytes() read it until the machine ran out of memory


def _piece_as_link_to_a_good_copy(piece: Path) -> None:
    (piece.parent.parent / "elsewhere").write_bytes(piece.read_bytes())
    piece.unlink()
    piece.symlink_to(piece.parent.parent / "elsewhere")  # restored without a word


def _piece_as_fifo(piece: Path) -> None:
    piece.unlink()
    os.mkfifo(piece)  # read_bytes() waited for a writer, for good


def _piece_too_large(piece: Path) -> None:
    piece.write_bytes(piece.read_bytes() + b"\0" * 1_000_000)


@pytest.mark.parametrize(
    ("swap", "reason"),
    [
        (_piece_as_link_to_dev_zero, "is a symlink, not a piece: never read"),
        (_piece_as_link_to_a_good_copy, "is a symlink, not a piece: never read"),
        (_piece_as_fifo, "is a FIFO, not a piece: never read"),
        (_piece_too_large, "1000010 bytes, the manifest says 10"),
    ],
    ids=["link-to-dev-zero", "link-to-a-good-copy", "fifo", "too-large"],
)
def test_a_piece_that_is_not_the_stores_own_file_is_named_never_read(
    tmp_path: Path, swap, reason: str
) -> None:
    store = DirectoryStore(tmp_path / "store")
    staging, manifest = _staged(store, "app-1", b"0123456789")
    store.put(staging, manifest)
    piece = tmp_path / "store" / "app-1" / "p000000.zst"
    swap(piece)
    with pytest.raises(CorruptPiece) as corrupt:
        without_waiting_on(piece, lambda: store.read_piece(manifest, "p000000.zst"))
    assert corrupt.value.piece == "app-1/p000000.zst" and reason in str(corrupt.value)


def _manifest_as_fifo(folder: Path) -> None:
    (folder / MANIFEST_NAME).unlink()
    os.mkfifo(folder / MANIFEST_NAME)  # `upkeep backups` waited for a writer, for good


def _manifest_as_link(folder: Path) -> None:
    (folder.parent.parent / "kept.json").write_bytes((folder / MANIFEST_NAME).read_bytes())
    (folder / MANIFEST_NAME).unlink()
    (folder / MANIFEST_NAME).symlink_to(folder.parent.parent / "kept.json")


def _without_manifest(folder: Path) -> None:
    (folder / MANIFEST_NAME).unlink()


def _unreadable_manifest(folder: Path) -> None:
    (folder / MANIFEST_NAME).write_text("{not json")


def _manifest_of_another_backup(folder: Path) -> None:
    raw = json.loads((folder / MANIFEST_NAME).read_text())
    (folder / MANIFEST_NAME).write_text(json.dumps({**raw, "id": "app-9"}))


def _a_file(folder: Path) -> None:
    shutil.rmtree(folder)
    folder.write_text("not a folder")


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (_without_manifest, "no manifest.json: not a complete backup"),
        (_unreadable_manifest, "app-1/manifest.json: not a readable backup manifest"),
        (_manifest_of_another_backup, "names backup 'app-9', not its own"),
        (_a_file, "not a backup folder"),
        (_manifest_as_fifo, "app-1/manifest.json: a FIFO, not a manifest: never read"),
        (_manifest_as_link, "app-1/manifest.json: a symlink, not a manifest: never read"),
    ],
)
def test_a_damaged_folder_is_reported_and_skipped_and_the_rest_stays_usable(
    tmp_path: Path, damage, reason: str
) -> None:
    store = DirectoryStore(tmp_path / "store")
    for backup_id in ("app-1", "app-2"):
        store.put(*_staged(store, backup_id))
    damage(tmp_path / "store" / "app-1")

    # no error, no wait: the rest is usable
    assert [m.id for m in without_waiting_on(tmp_path, store.manifests)] == ["app-2"]
    [damaged] = store.damaged()
    assert damaged.name == "app-1" and reason in damaged.reason
    store.put(*_staged(store, "app-3"))  # and new backups are published beside it
    assert [m.id for m in store.manifests("app")] == ["app-2", "app-3"]
    assert store.recover() == []  # never deleted by upkeep: a person decides
    assert (tmp_path / "store" / "app-1").exists()


def test_the_store_is_flat_and_leaves_no_work_folders_behind(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path / "store")
    for backup_id in ("app-1", "app-2"):
        store.put(*_staged(store, backup_id))
    scratch = store.new_scratch("app-1")
    store.discard(scratch)
    store.delete("app-1")
    assert sorted(p.name for p in (tmp_path / "store").iterdir()) == ["app-2"]
    assert (tmp_path / "store").stat().st_mode & 0o777 == 0o700
    folder = tmp_path / "store" / "app-2"
    assert {p.stat().st_mode & 0o777 for p in folder.iterdir()} == {0o600}


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    return int(done.stdout)


def test_a_store_of_the_earlier_layout_is_moved_to_the_flat_one(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path / "store")
    store.put(*_staged(store, "app-1"))
    store.mark_verified("app-1", True, "restored, checked")
    # As upkeep before this change left it: backups/<id>/, and what was left of a delete.
    legacy = tmp_path / "store" / "backups"
    legacy.mkdir()
    os.rename(tmp_path / "store" / "app-1", legacy / "app-1")
    (tmp_path / "store" / ".trash" / f"app-0.{_dead_pid()}").mkdir(parents=True)
    (tmp_path / "store" / ".staging" / f"{_dead_pid()}-app-2").mkdir(parents=True)

    notes = store.recover()

    assert sorted(p.name for p in (tmp_path / "store").iterdir()) == ["app-1"]
    assert [m.id for m in store.manifests()] == ["app-1"] and store.verified("app-1")
    assert any("moved backups/app-1" in note for note in notes)


def test_recover_removes_only_what_upkeep_named(tmp_path: Path) -> None:
    root = tmp_path / "store"
    store = DirectoryStore(root)
    store.put(*_staged(store, "app-1"))
    theirs = [
        root / ".staging-notes" / "todo.txt",  # no pid: not a work folder of upkeep's
        root / ".trash" / "photo.jpg",  # not <id>.<pid>
        root / "backups" / "photos" / "cat.jpg",  # not a backup: no manifest.json
    ]
    for path in theirs:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("keep me")

    store.recover()

    assert all(path.read_text() == "keep me" for path in theirs)
    assert [m.id for m in store.manifests()] == ["app-1"]


def test_a_verdict_is_kept_only_for_a_backup_in_the_store(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path / "store")
    store.put(*_staged(store, "app-1"))
    assert store.verification("app-1") is None and not store.verified("app-1")
    store.mark_verified("app-1", False, "row counts differ")
    record = store.verification("app-1")
    assert record is not None and not record.ok and record.detail == "row counts differ"
    store.delete("app-1")
    with pytest.raises(StoreError, match="app-1 is not in"):
        store.mark_verified("app-1", True, "restored, checked")
    assert not (tmp_path / "store" / "app-1").exists()  # no folder made for the verdict


def test_manifest_json_round_trips() -> None:
    manifest = _manifest("app-1", (PieceRef("p000000.zst", 5, "a" * 64),))
    assert manifest_from_json(manifest_to_json(manifest), "here") == manifest
    assert manifest_from_json(manifest_to_json(manifest), "here").kind is BackupKind.FULL
    assert b'"kind": "full"' in manifest_to_json(manifest)


@pytest.mark.parametrize(
    ("field", "value"), [("kind", "differential"), ("kind", ["full"]), ("format", 1)]
)
def test_a_manifest_of_another_kind_or_format_is_refused_naming_it(field: str, value) -> None:
    manifest = _manifest("app-1", (PieceRef("p000000.zst", 5, "a" * 64),))
    raw = json.loads(manifest_to_json(manifest))
    raw[field] = value
    with pytest.raises(
        BackupError, match=r"^there: manifest format .* expected format 2 or 3 and kind"
    ):
        manifest_from_json(json.dumps(raw).encode(), "there")


def test_recover_removes_staging_of_dead_processes_only(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path / "store")
    mine = store.new_staging("app-live")
    orphan = tmp_path / "store" / f"{STAGING}{_dead_pid()}-app-dead"
    orphan.mkdir()
    (orphan / "p000000.zst").write_bytes(b"half")

    notes = store.recover()

    assert not orphan.exists() and mine.exists()
    assert len(notes) == 1 and "app-dead" in notes[0]


# ---------------------------------------------------------------- block lists


def _hash(n: int) -> bytes:
    return n.to_bytes(32, "big")


def test_block_list_delta_copies_runs_and_survives_an_insertion() -> None:
    full = IndexBuilder([], owner=0)
    for n in range(1000):
        assert not full.known(_hash(n))
        full.stored(_hash(n), piece=n // 100, offset=(n % 100) * 10, length=10)
    base = decode_index(full.encode(), [], "full")
    assert [(e.sha256, e.owner, e.piece, e.offset, e.length) for e in base] == [
        (_hash(n), 0, n // 100, (n % 100) * 10, 10) for n in range(1000)
    ]
    assert bytes(base.hashes) == bytes(full.hashes) and full.count == len(base) == 1000

    # Content-defined chunks: one new chunk inserted at 500 shifts every later one.
    changed = IndexBuilder(base, owner=1)
    for n in [*range(500), 5000, *range(500, 1000)]:
        if not changed.known(_hash(n)):
            changed.stored(_hash(n), piece=0, offset=0, length=10)
    encoded = changed.encode()
    restored = decode_index(encoded, base, "incremental")

    assert bytes(restored.hashes) == bytes(changed.hashes) and changed.count == 1001
    assert [e.sha256 for e in restored] == [
        _hash(n) for n in [*range(500), 5000, *range(500, 1000)]
    ]
    assert restored[500].owner == 1 and restored[501] == base[500]
    assert len(encoded) < 200  # two copy runs and one literal, not 1001 entries


def test_a_block_repeated_within_a_backup_is_stored_once() -> None:
    builder = IndexBuilder([], owner=0)
    stored = 0
    for n in [1, 2, 1, 1, 3]:
        if not builder.known(_hash(n)):
            builder.stored(_hash(n), piece=0, offset=stored * 10, length=10)
            stored += 1
    assert stored == 3
    assert [e.offset for e in decode_index(builder.encode(), [], "x")] == [0, 10, 0, 0, 20]


def test_a_block_found_in_the_base_is_listed_from_its_first_position() -> None:
    # Same first four bytes for all (what the lookup sorts by), one sha256 at 2 and at 5.
    hashes = [b"\x00" * 4 + bytes([n]) * 28 for n in (0, 1, 2, 3, 4, 2, 6)]
    full = IndexBuilder([], owner=0)
    for n, block_hash in enumerate(hashes):
        if not full.known(block_hash):
            full.stored(block_hash, piece=0, offset=n * 10, length=10)
    base = decode_index(full.encode(), [], "full")
    assert [e.offset for e in base] == [0, 10, 20, 30, 40, 20, 60]  # 5 repeats 2

    changed = IndexBuilder(base, owner=1)
    for block_hash in (hashes[2], hashes[3], hashes[6], b"\x00" * 4 + b"\x07" * 28):
        if not changed.known(block_hash):
            changed.stored(block_hash, piece=0, offset=0, length=10)
    listed = decode_index(changed.encode(), base, "incremental")
    assert [(e.owner, e.offset) for e in listed] == [(0, 20), (0, 30), (0, 60), (1, 0)]
    assert listed.hashes == bytearray(b"".join(hashes[i] for i in (2, 3, 6))) + (
        b"\x00" * 4 + b"\x07" * 28
    )

    # ... unless it is at its own position in the base too: a run goes on from there.
    moved = IndexBuilder(base, owner=1)
    new = [b"\x01" * 32, b"\x02" * 32, b"\x03" * 32, b"\x04" * 32, b"\x05" * 32]
    for n, block_hash in enumerate([*new, hashes[5], hashes[6]]):
        if not moved.known(block_hash):
            moved.stored(block_hash, piece=0, offset=n * 10, length=10)
    listed = decode_index(moved.encode(), base, "moved")
    assert [(e.owner, e.offset) for e in listed][5:] == [(0, 20), (0, 60)]  # base blocks 5, 6
    # magic + one literal run of the 5 new blocks + ONE copied run (5, 2): from block 2, the
    # first with that hash, it would take two runs (2, 1) and (6, 1), 13 bytes more.
    assert len(moved.encode()) == 16 + (1 + 4 + 5 * 59) + (1 + 12)


def test_follow_lists_runs_of_base_blocks_short_and_long() -> None:
    full = IndexBuilder([], owner=0)
    for n in range(100):
        full.stored(_hash(n), piece=0, offset=n * 10, length=10)
    base = decode_index(full.encode(), [], "full")
    builder = IndexBuilder(base, owner=1)
    assert builder.follow([_hash(1)], 0) == 0  # no run open yet
    assert builder.known(_hash(0))
    batch = [_hash(n) for n in range(1, 31)] + [_hash(1000)] + [_hash(n) for n in range(32, 40)]
    assert builder.follow(batch, 0) == 30  # past the first 8, then a block that differs
    assert builder.follow(batch, 31) == 0  # the run ended at the changed block
    builder.stored(_hash(1000), piece=0, offset=0, length=10)
    assert builder.known(_hash(32))  # a new run, then the whole rest at once
    assert builder.follow([_hash(n) for n in range(33, 100)], 0) == 67
    assert builder.follow([_hash(5)], 0) == 0  # the base has no block after its last
    listed = decode_index(builder.encode(), base, "incremental")
    assert [e.sha256 for e in listed] == [
        *(_hash(n) for n in range(31)),
        _hash(1000),
        *(_hash(n) for n in range(32, 100)),
    ]
    assert bytes(listed.hashes) == bytes(builder.hashes) and builder.count == 100
    assert [e.owner for e in listed].count(1) == 1


@pytest.mark.parametrize("more", [0, 80])  # a short run entry by entry, a long one by columns
def test_a_literal_run_mixing_whole_blocks_and_deltas_decodes_each(more: int) -> None:
    full = IndexBuilder([], owner=0)
    for n in range(10):
        full.stored(_hash(n), piece=0, offset=n * 10, length=10)
    base = decode_index(full.encode(), [], "full")
    changed = IndexBuilder(base, owner=1)
    changed.stored(_hash(100), piece=0, offset=0, length=10)  # new, whole
    changed.stored(_hash(101), piece=0, offset=10, length=10, stored=3, delta_at=1, kind=XOR)
    changed.stored(_hash(102), piece=1, offset=70000, length=10, stored=4, delta_at=2, kind=ZDELTA)
    changed.stored(_hash(103), piece=1, offset=70004, length=10)
    for n in range(more):
        changed.stored(_hash(200 + n), piece=2, offset=n * 10, length=10)
    listed = decode_index(changed.encode(), base, "incremental")
    assert [(e.owner, e.piece, e.offset, e.stored, e.kind) for e in listed] == [
        (1, 0, 0, 10, RAW),
        (1, 0, 10, 3, XOR),
        (1, 1, 70000, 4, ZDELTA),
        (1, 1, 70004, 10, RAW),
        *((1, 2, n * 10, 10, RAW) for n in range(more)),
    ]
    assert [e.sha256 for e in listed][4:] == [_hash(200 + n) for n in range(more)]
    assert listed[1].delta == base[1] and listed[2].delta == base[2] and listed[3].delta is None
    assert list(listed) == [listed[i] for i in range(4 + more)]

    damaged = bytearray(changed.encode())
    damaged[-1] = 9  # the last entry's kind byte
    with pytest.raises(BackupError, match="a block of kind 9"):
        decode_index(bytes(damaged), base, "x/index.zst")


def test_a_damaged_block_list_is_an_error_not_a_crash() -> None:
    with pytest.raises(BackupError, match="bad header"):
        decode_index(b"garbage", [], "x/index.zst")
    builder = IndexBuilder([], owner=0)
    builder.stored(_hash(1), 0, 0, 10)
    with pytest.raises(BackupError, match="truncated"):
        decode_index(builder.encode()[:-3], [], "x/index.zst")


# ---------------------------------------------------------------- taking a backup


def test_incremental_stores_only_changed_pages(tmp_path: Path) -> None:
    engine = _make_db(tmp_path / "app.db", rows=20_000)
    store = DirectoryStore(tmp_path / "store")
    full = take_backup(engine, store, base=None, compression_level=3).manifest
    with sqlite3.connect(tmp_path / "app.db") as connection:
        connection.execute("UPDATE t SET v = 'changed' WHERE id <= 50")
    incremental = take_backup(engine, store, base=full, compression_level=3).manifest

    assert (full.kind, incremental.kind) == ("full", "incremental")
    assert incremental.base == full.id and incremental.chain_root == full.id
    assert incremental.stored_bytes < full.stored_bytes / 20
    assert [m.id for m in chain_of(store, incremental)] == [full.id, incremental.id]
    assert len(block_list(store, [full, incremental])) == incremental.block_count
    assert incremental.size == (tmp_path / "app.db").stat().st_size


@pytest.mark.parametrize("level", [-7, 22])
def test_the_fastest_and_the_slowest_level_restore_what_was_backed_up(
    tmp_path: Path, level: int
) -> None:
    # config accepts zstd levels -7 to 22: the pieces and the deltas of changed pages at either end
    # restore to the exact file.
    engine = _make_db(tmp_path / "app.db", rows=20_000)
    store = DirectoryStore(tmp_path / "store")
    full = take_backup(engine, store, base=None, compression_level=level).manifest
    with sqlite3.connect(tmp_path / "app.db") as connection:
        connection.execute("UPDATE t SET v = v || 'x' WHERE id % 97 = 0")
    incremental = take_backup(engine, store, base=full, compression_level=level).manifest
    assert incremental.extra["new_blocks"] > 0 and incremental.compression == level

    outcome = restore_backup(store, incremental, engine, str(tmp_path / "restored.db"))

    assert outcome.ok
    assert (tmp_path / "restored.db").read_bytes() == (tmp_path / "app.db").read_bytes()


def _make_blob_db(path: Path, megabytes: int, journal_mode: str = "delete") -> SQLiteEngine:
    connection = sqlite3.connect(path)
    connection.execute(f"PRAGMA journal_mode={journal_mode}")
    connection.execute("CREATE TABLE b (id INTEGER PRIMARY KEY, data BLOB NOT NULL)")
    connection.executemany(
        "INSERT INTO b (data) VALUES (?)", ((os.urandom(1000),) for _ in range(megabytes * 1000))
    )
    connection.commit()
    connection.close()
    return SQLiteEngine(Database(name="app", engine="sqlite", path=path))


@contextlib.contextmanager
def _copied_first(db: Path) -> Iterator[None]:
    """A WAL database the backup must copy first: an older reader's snapshot keeps a commit in
    the -wal file, out of reach of the backup's checkpoint."""
    with contextlib.closing(sqlite3.connect(db, isolation_level=None)) as app:
        app.execute("PRAGMA wal_autocheckpoint=0")
        with contextlib.closing(sqlite3.connect(db, isolation_level=None)) as older:
            older.execute("BEGIN")
            older.execute("SELECT count(*) FROM b").fetchone()
            app.execute("UPDATE b SET data = zeroblob(1000) WHERE id = 1")
            yield
            older.execute("COMMIT")


@pytest.mark.parametrize(
    ("journal_mode", "fs_size", "phase"),
    [
        ("delete", "2m", "read in place, its pieces do not fit"),
        ("wal", "2m", "checkpointed, read in place, its pieces do not fit"),
        ("wal held", "2m", "the copy does not fit"),
        ("wal held", "5m", "the copy fits, its pieces do not"),
    ],
)
def test_a_full_disk_leaves_nothing_in_the_store(
    tmp_path: Path, journal_mode: str, fs_size: str, phase: str
) -> None:
    # incompressible: 3 MB stored
    db = tmp_path / "app.db"
    engine = _make_blob_db(db, megabytes=3, journal_mode=journal_mode.split()[0])
    held = _copied_first(db) if journal_mode == "wal held" else contextlib.nullcontext()
    with held, tiny_filesystem(tmp_path / "tiny", fs_size) as root:
        with engine.reading(tmp_path / "probe") as reading:
            assert (reading.path == db) is (journal_mode != "wal held"), phase
        store = DirectoryStore(root / "store")
        with pytest.raises(BackupError, match="app") as failed:
            take_backup(engine, store, base=None, compression_level=3)
        assert re.search(r"full|No space left", str(failed.value)), (phase, failed.value)
        assert store.manifests() == []
        assert [p for p in (root / "store").rglob("*") if p.is_file()] == []
        assert work_folders(root / "store") == []
        # The space is back: a smaller database backs up into the same store.
        small = _make_db(tmp_path / "small.db", rows=100)
        take_backup(small, store, base=None, compression_level=3)
        assert len(store.manifests()) == 1


@pytest.mark.parametrize("journal_mode", ["delete", "wal"])
def test_a_database_read_in_place_needs_no_room_for_a_copy(
    tmp_path: Path, journal_mode: str
) -> None:
    # 3 MB of incompressible pages and 5 MB of room: a copy first ("wal held" above) does not fit.
    engine = _make_blob_db(tmp_path / "app.db", megabytes=3, journal_mode=journal_mode)
    with tiny_filesystem(tmp_path / "tiny", "5m") as root:
        store = DirectoryStore(root / "store")
        manifest = take_backup(engine, store, base=None, compression_level=3).manifest
        assert manifest.stored_bytes > 3_000_000
        outcome = restore_backup(store, manifest, engine, str(tmp_path / "restored.db"))
        assert outcome.ok and outcome.report.row_counts == {"b": 3000}


def test_sigkill_mid_backup_leaves_a_staging_folder_that_recover_removes(tmp_path: Path) -> None:
    engine = _make_db(tmp_path / "app.db", rows=60_000)  # > one 8 MiB piece
    store_root = tmp_path / "store"
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_BACKUP, str(tmp_path / "app.db"), str(store_root)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    assert line.startswith("piece"), line
    child.send_signal(signal.SIGKILL)
    child.wait()
    store = DirectoryStore(store_root)
    staged = work_folders(store_root)
    assert len(staged) == 1 and any(staged[0].iterdir())  # a real partial backup was left
    assert store.manifests() == []  # ... and it does not count

    notes = store.recover()

    assert len(notes) == 1 and work_folders(store_root) == []
    manifest = take_backup(engine, store, base=None, compression_level=1).manifest
    assert [m.id for m in store.manifests()] == [manifest.id]
