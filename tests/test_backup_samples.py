"""upkeep.backup.samples on real SQLite files: the same data gives the same hashes, a changed
sampled row or an emptied table changes them, the seed decides the rows, and unreadable records
are refused."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from upkeep.backup.errors import BackupDamaged
from upkeep.backup.samples import (
    SQLITE_METHOD,
    SampleHashes,
    SampleSpec,
    TableSample,
    compare_samples,
    sqlite_sample_hashes,
)

SPEC = SampleSpec("00112233aabbccdd", 10, SQLITE_METHOD)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "a.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, f REAL, b BLOB)")
        connection.executemany(
            "INSERT INTO t VALUES (?, ?, ?, ?)",
            [(i * 3, f"v{i}", i / 7, bytes([i % 256])) for i in range(1000)],
        )
    return path


def _hashes(path: Path, spec: SampleSpec = SPEC) -> dict[str, TableSample]:
    with sqlite3.connect(path) as connection:
        return sqlite_sample_hashes(connection, spec)


def _sampled_ids(path: Path) -> list[int]:
    """The ids the sample holds: those whose change changes the hash."""
    before = _hashes(path)["t"]
    changed = []
    with sqlite3.connect(path) as connection:
        for (rowid,) in connection.execute("SELECT id FROM t").fetchall():
            connection.execute("UPDATE t SET v = v || '!' WHERE id = ?", (rowid,))
            if sqlite_sample_hashes(connection, SPEC)["t"] != before:
                changed.append(rowid)
            connection.execute(
                "UPDATE t SET v = substr(v, 1, length(v) - 1) WHERE id = ?", (rowid,)
            )
    return changed


def test_a_copy_gives_the_same_hashes_and_a_changed_sampled_row_does_not(
    db: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "copy.db"
    shutil.copy(db, copy)
    assert _hashes(copy) == _hashes(db)
    sampled = _sampled_ids(db)
    # 10 seeded rowids, each taking the first row at or after it (two may land on one row).
    assert 5 <= len(sampled) <= 10 and _hashes(db)["t"].rows == len(sampled)
    with sqlite3.connect(copy) as connection:
        connection.execute("UPDATE t SET f = f + 1 WHERE id = ?", (sampled[0],))
    problems = compare_samples(_hashes(db), _hashes(copy), SPEC.seed)
    assert len(problems) == 1 and problems[0].startswith("table t: sample hash differs")


@pytest.mark.parametrize(
    "columns", ["RowID TEXT, v TEXT", "rowid TEXT, oid TEXT, v TEXT", "rowid, oid, _rowid_, v"]
)
def test_a_table_whose_columns_take_the_rowids_names_is_sampled(
    tmp_path: Path, columns: str
) -> None:
    """A column may be called rowid (any case), oid or _rowid_, hiding the rowid behind that
    name: the sample reaches it by a name still free, or by all columns when none is."""
    path = tmp_path / "a.db"
    names = [column.split()[0] for column in columns.split(", ")]
    with sqlite3.connect(path) as connection:
        connection.execute(f"CREATE TABLE t ({columns})")
        connection.executemany(
            f"INSERT INTO t ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
            [(*(f"k{i:04d}" for _ in names[:-1]), f"v{i}") for i in range(500)],
        )
    copy = tmp_path / "copy.db"
    shutil.copy(path, copy)
    sample = _hashes(path)["t"]
    assert 5 <= sample.rows <= 10
    assert _hashes(copy)["t"] == sample
    with sqlite3.connect(copy) as connection:
        connection.execute("UPDATE t SET v = v || '!'")
    assert _hashes(copy)["t"].sha256 != sample.sha256


def test_text_that_is_not_utf8_and_tables_named_like_sqlite_are_sampled(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    with sqlite3.connect(path) as connection:
        connection.executescript(
            "CREATE TABLE legacy (id INTEGER PRIMARY KEY, name TEXT);"
            "CREATE TABLE SQLiteUsers (id INTEGER PRIMARY KEY, name TEXT);"
            "INSERT INTO SQLiteUsers VALUES (1, 'ann');"
        )
        connection.executemany(
            "INSERT INTO legacy VALUES (?, CAST(? AS TEXT))",
            [(i, f"M\xfcller {i}".encode("latin-1")) for i in range(200)],
        )
    copy = tmp_path / "copy.db"
    shutil.copy(path, copy)
    hashes = _hashes(path)
    assert set(hashes) == {"legacy", "SQLiteUsers"} and hashes["SQLiteUsers"].rows == 1
    assert _hashes(copy) == hashes
    with sqlite3.connect(copy) as connection:  # one byte of every name: Latin-1 ü to Latin-1 ö
        connection.execute(
            "UPDATE legacy SET name = CAST(replace(CAST(name AS BLOB), x'fc', x'f6') AS TEXT)"
        )
    assert _hashes(copy)["legacy"].sha256 != hashes["legacy"].sha256


def test_sampling_a_large_table_reads_a_few_rows_not_the_table(tmp_path: Path) -> None:
    path = tmp_path / "large.db"
    rows = 200_000
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        connection.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
            "INSERT INTO t SELECT i, 'row ' || i FROM n",
            (rows,),
        )
    with sqlite3.connect(path) as connection:
        steps = [0]

        def counted() -> int:
            steps[0] += 1
            return 0  # go on

        # Called every 100 virtual machine instructions: a scan of the table takes thousands.
        connection.set_progress_handler(counted, 100)
        sample = sqlite_sample_hashes(connection, SPEC)["t"]
    assert sample.rows == 10
    assert steps[0] < rows // 100, steps[0]  # 10 seeks and the two ends: no scan


def test_the_seed_decides_which_rows_are_sampled(db: Path) -> None:
    other = SampleSpec("99887766ffeeddcc", 10, SQLITE_METHOD)
    assert _hashes(db, other)["t"] != _hashes(db)["t"]
    assert _hashes(db, other) == _hashes(db, other)


def test_an_emptied_or_missing_table_is_named(db: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.db"
    shutil.copy(db, copy)
    with sqlite3.connect(copy) as connection:
        connection.execute("DELETE FROM t")
        connection.execute("CREATE TABLE extra (id INTEGER PRIMARY KEY)")
    found = _hashes(copy)
    assert found["t"].rows == 0
    assert compare_samples(_hashes(db), found, SPEC.seed) == (
        f"table t: sample hash differs (seed {SPEC.seed}): restored 0 sampled rows hashing to "
        f"{found['t'].sha256[:16]}, the backup recorded {_hashes(db)['t'].rows} rows hashing to "
        f"{_hashes(db)['t'].sha256[:16]}",
        "table extra: restored but not in the backup's sample hashes",
    )
    assert compare_samples({"gone": found["t"]}, {}, SPEC.seed) == (
        "table gone: in the backup's sample hashes, not restored",
    )


def test_sample_records_round_trip_and_unreadable_ones_are_refused() -> None:
    record = SampleHashes(SPEC, {"t": TableSample(3, "ab" * 32)})
    assert SampleHashes.from_json(record.to_json(), "here") == record
    broken = {**record.to_json(), "seed": "not hex"}
    with pytest.raises(BackupDamaged, match="^here: unreadable sample hashes"):
        SampleHashes.from_json(broken, "here")
    with pytest.raises(BackupDamaged, match="^here: unreadable sample hashes"):
        SampleHashes.from_json({"seed": SPEC.seed}, "here")
