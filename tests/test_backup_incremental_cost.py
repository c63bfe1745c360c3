"""What an incremental SQLite backup may cost: a mostly-new one is taken as a full (and says so),
scattered changes are stored whole instead of as deltas (and the manifest says from where), and
its memory stays bounded by the piece size, about what a full backup holds."""

from __future__ import annotations

import hashlib
import sqlite3
import tracemalloc
from collections import Counter
from pathlib import Path

import pytest

from upkeep.backup import incremental
from upkeep.backup.block_table import RAW, XOR, ZDELTA
from upkeep.backup.engines.sqlite import SQLiteEngine
from upkeep.backup.incremental import block_list, chain_of, take_backup
from upkeep.backup.restore import restore_backup
from upkeep.backup.stores.directory import DirectoryStore
from upkeep.backup.stores.interface import BackupKind
from upkeep.config import Database

PAGE = 4096


def _database(path: Path, rows: int) -> SQLiteEngine:
    with sqlite3.connect(path) as connection:
        connection.execute(f"PRAGMA page_size={PAGE}")
        connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER, note TEXT)")
        connection.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
            "INSERT INTO t SELECT i, i, 'row ' || i || ' ' || hex(randomblob(20)) FROM n",
            (rows,),
        )
    return SQLiteEngine(Database(name="app", engine="sqlite", path=path))


def _change(path: Path, sql: str) -> None:
    with sqlite3.connect(path) as connection:
        connection.execute(sql)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _restores_exactly(store: DirectoryStore, manifest, engine: SQLiteEngine, tmp: Path) -> None:
    # Nothing writes meanwhile: the database file itself is the moment the backup was taken
    # (read in place under its shared lock, rollback journal).
    reference = engine.path
    restored = tmp / f"restored-{manifest.id}.db"
    assert restore_backup(store, manifest, engine, str(restored)).ok
    assert _sha(restored) == _sha(reference)


def test_an_incremental_that_would_be_mostly_new_is_taken_as_a_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(incremental, "FULL_WHEN_NEW_FROM", 0)  # the rule, even for a small file
    db = tmp_path / "app.db"
    engine = _database(db, 20_000)
    store = DirectoryStore(tmp_path / "store")
    full = take_backup(engine, store, base=None, compression_level=1).manifest
    _change(db, "UPDATE t SET v = v + 1")  # every row: every table page changes

    result = take_backup(engine, store, base=full, compression_level=1, reason="incremental")
    manifest = result.manifest
    assert manifest.kind == BackupKind.FULL
    assert manifest.base is None and manifest.chain_root == manifest.id
    assert manifest.extra["decision"].startswith("taken as a full backup: ")
    assert f"new on {full.id}" in manifest.extra["decision"]
    assert result.reason == f"incremental; {manifest.extra['decision']}"
    assert manifest.extra["new_blocks"] == manifest.block_count
    # Nothing of the abandoned incremental is left: only the full's own pieces are stored.
    assert {p.name for p in manifest.pieces} == {
        p.name for p in store.manifests()[-1].pieces
    } and all(entry.owner == 0 for entry in block_list(store, [manifest]))
    _restores_exactly(store, manifest, engine, tmp_path)

    _change(db, "UPDATE t SET v = v + 1 WHERE id = 7")  # and the next one builds on it
    after = take_backup(engine, store, base=manifest, compression_level=1).manifest
    assert after.kind == BackupKind.INCREMENTAL and after.base == manifest.id
    assert "decision" not in after.extra
    _restores_exactly(store, after, engine, tmp_path)


def test_below_one_piece_an_incremental_stays_one_however_much_changed(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    engine = _database(db, 2_000)
    assert db.stat().st_size < incremental.FULL_WHEN_NEW_FROM
    store = DirectoryStore(tmp_path / "store")
    full = take_backup(engine, store, base=None, compression_level=1).manifest
    _change(db, "UPDATE t SET v = v + 1")
    manifest = take_backup(engine, store, base=full, compression_level=1).manifest
    assert manifest.kind == BackupKind.INCREMENTAL and "decision" not in manifest.extra


def test_scattered_changes_are_stored_whole_from_where_they_were_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(incremental, "DELTA_SAMPLE", 64)
    db = tmp_path / "app.db"
    engine = _database(db, 40_000)
    store = DirectoryStore(tmp_path / "store")
    full = take_backup(engine, store, base=None, compression_level=1).manifest
    _change(db, "UPDATE t SET v = v + 1 WHERE id % 200 = 0")  # about one page in four

    manifest = take_backup(engine, store, base=full, compression_level=1).manifest
    assert manifest.kind == BackupKind.INCREMENTAL and "decision" not in manifest.extra
    note = manifest.extra["deltas"]
    assert note.startswith("changed blocks stored whole from block ")
    stopped = int(note.split("from block ")[1].split(":")[0])
    assert incremental.DELTA_SAMPLE <= stopped < manifest.block_count // 2
    entries = block_list(store, chain_of(store, manifest))
    ours = [(at, entry.kind) for at, entry in enumerate(entries) if entry.owner == 1]
    assert {kind for at, kind in ours if at >= stopped} == {RAW}
    assert {kind for at, kind in ours if at < stopped} & {XOR, ZDELTA}
    _restores_exactly(store, manifest, engine, tmp_path)


def test_clustered_changes_keep_their_deltas(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    engine = _database(db, 40_000)
    store = DirectoryStore(tmp_path / "store")
    full = take_backup(engine, store, base=None, compression_level=1).manifest
    _change(db, "UPDATE t SET v = v + 1 WHERE id > 39000")  # the newest rows: a few pages
    manifest = take_backup(engine, store, base=full, compression_level=1).manifest
    assert "deltas" not in manifest.extra and "decision" not in manifest.extra
    kinds = Counter(e.kind for e in block_list(store, chain_of(store, manifest)) if e.owner == 1)
    assert kinds[XOR] + kinds[ZDELTA] > 0
    _restores_exactly(store, manifest, engine, tmp_path)


def _peak(action) -> int:
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_an_incremental_after_scattered_changes_holds_memory_bounded_by_the_piece_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    piece = 256 << 10
    monkeypatch.setattr(incremental, "PIECE_SIZE", piece)
    db = tmp_path / "app.db"
    engine = _database(db, 150_000)
    size = db.stat().st_size
    assert size > 24 * piece  # the database is far larger than what may be held
    store = DirectoryStore(tmp_path / "store")
    full = take_backup(engine, store, base=None, compression_level=1, sample_rows=0).manifest
    _change(db, "UPDATE t SET v = v + 1 WHERE abs(random()) % 100 = 0")  # scattered, 1%
    chain = chain_of(store, full)

    def base_list() -> None:
        block_list(store, chain)

    def an_incremental() -> None:
        take_backup(engine, store, base=full, compression_level=1, sample_rows=0)

    def a_full() -> None:
        take_backup(engine, DirectoryStore(tmp_path / "fulls"), base=None, compression_level=1)

    listed = _peak(base_list)  # the base's block list: bytes a page, not pages
    incremental_peak, full_peak = _peak(an_incremental), _peak(a_full)
    # ~50 bytes a page held compactly (not ~310 as Entry objects), plus its stored form (~60)
    # while it is decoded.
    assert listed < 150 * (size // PAGE)
    # Reads, cached base pieces and pieces waiting for a worker: each a bounded number of
    # pieces whatever the size of the database; the block list on top.
    assert incremental_peak < 16 * piece + 2 * listed, (incremental_peak, listed)
    assert incremental_peak < 1.5 * full_peak + 2 * listed, (incremental_peak, full_peak)
