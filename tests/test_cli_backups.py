"""`upkeep backups` and `upkeep restore`: the store listed, a backup restored and checked."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from upkeep.backup.stores.directory import DirectoryStore
from upkeep.config import load_config
from upkeep.procedures.backup import back_up_all

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def _upkeep(
    root: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "upkeep.cli", "--config", str(root / "upkeep.yml"), *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def _rows(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT id, name FROM items ORDER BY id").fetchall()


@pytest.fixture
def system(tmp_path: Path) -> Path:
    db = tmp_path / "app.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
        conn.executemany("INSERT INTO items (name) VALUES (?)", [(f"n{i}",) for i in range(500)])
    (tmp_path / "upkeep.yml").write_text(
        "databases:\n  - {name: app, engine: sqlite, path: app.db}\n"
        "backup: {dir: backups, mode: incremental, full_every: 3}\n"
    )
    return tmp_path


def test_backups_lists_the_chain_and_restore_brings_back_each_point(system: Path) -> None:
    config = load_config(system / "upkeep.yml")
    back_up_all(config, now=T0)
    first = _rows(system / "app.db")
    with sqlite3.connect(system / "app.db") as conn:
        conn.execute("UPDATE items SET name = 'changed' WHERE id <= 10")
    back_up_all(config, now=T0 + timedelta(days=1))

    listed = _upkeep(system, "backups", "--json")
    assert listed.returncode == 0, listed.stderr
    manifests = json.loads(listed.stdout)
    assert [m["kind"] for m in manifests] == ["full", "incremental"]
    assert manifests[1]["base"] == manifests[0]["id"]
    table = _upkeep(system, "backups", "app")
    assert manifests[1]["id"] in table.stdout and "incremental" in table.stdout

    newest = _upkeep(system, "restore", "app", "newest.db")
    assert newest.returncode == 0, newest.stderr
    assert "all checks passed" in newest.stdout
    assert _rows(system / "newest.db") == _rows(system / "app.db")
    older = _upkeep(system, "restore", "app", "older.db", "--backup", manifests[0]["id"])
    assert older.returncode == 0, older.stderr
    assert _rows(system / "older.db") == first != _rows(system / "app.db")


def test_restore_refuses_what_it_must_not_touch(system: Path) -> None:
    back_up_all(load_config(system / "upkeep.yml"), now=T0)
    (system / "taken.db").write_text("precious")
    exists = _upkeep(system, "restore", "app", "taken.db")
    assert exists.returncode == 2 and "exists" in exists.stderr
    assert (system / "taken.db").read_text() == "precious"
    unknown = _upkeep(system, "restore", "nope", "x.db")
    assert unknown.returncode == 2 and "no database named 'nope'" in unknown.stderr
    assert not (system / "x.db").exists()
    missing = _upkeep(system, "restore", "app", "y.db", "--backup", "no-such-id")
    assert missing.returncode == 2, missing.stderr  # bad input, like an existing target
    assert "holds no backup 'no-such-id' of database 'app'" in missing.stderr
    assert "Traceback" not in missing.stderr
    assert not (system / "y.db").exists()
    # An empty TARGET was the current folder (for PostgreSQL: a database without a name).
    for args in (("app", ""), ("app", " "), ("--log", "app", "")):
        empty = _upkeep(system, "restore", *args)
        assert empty.returncode == 2, empty.stderr
        assert "Invalid value for TARGET: expected a new file (SQLite, or with --log)" in (
            empty.stderr
        )


def test_a_corrupt_piece_is_a_failed_check_naming_the_piece(system: Path) -> None:
    [taken] = back_up_all(load_config(system / "upkeep.yml"), now=T0).backups
    backup_id = taken.result.manifest.id
    piece = system / "backups" / backup_id / "p000000.zst"
    data = bytearray(piece.read_bytes())
    data[len(data) // 2] ^= 0x01
    piece.write_bytes(bytes(data))

    corrupt = _upkeep(system, "restore", "app", "r.db")

    assert corrupt.returncode == 1, corrupt.stderr  # a failed check, not an error of upkeep's
    assert f"backup piece {backup_id}/p000000.zst is corrupt" in corrupt.stderr
    assert "FAILED: the backup is damaged; nothing was restored" in corrupt.stdout
    assert not (system / "r.db").exists()


def test_backups_shows_whether_each_backup_is_verified_in_the_configured_time_zone(
    system: Path,
) -> None:
    config_text = (system / "upkeep.yml").read_text()
    (system / "upkeep.yml").write_text("timezone: Europe/Paris\n" + config_text)
    config = load_config(system / "upkeep.yml")
    [checked] = back_up_all(config, now=T0).backups
    [unchecked] = back_up_all(config, verify=False, now=T0 + timedelta(hours=1)).backups

    table = _upkeep(system, "backups")
    listed = _upkeep(system, "backups", "--json")

    assert table.returncode == 0, table.stderr
    lines = {line.split()[0]: line for line in table.stdout.splitlines()[1:]}
    assert "VERIFIED" in table.stdout.splitlines()[0]
    assert lines[checked.result.manifest.id].endswith("yes")
    assert lines[unchecked.result.manifest.id].endswith("no (not checked yet)")
    assert "2026-11-20 03:00 CET" in lines[checked.result.manifest.id]  # 02:00 UTC, in Paris
    verdicts = {m["id"]: m["verified"] for m in json.loads(listed.stdout)}
    assert verdicts[checked.result.manifest.id]["ok"] is True
    assert verdicts[unchecked.result.manifest.id] is None

    restored = _upkeep(system, "restore", "app", "r.db")
    assert restored.returncode == 0, restored.stderr
    assert f"restored backup {checked.result.manifest.id} of app" in restored.stdout
    assert "the newest verified backup" in restored.stdout
    assert f"passed over 1 newer unverified backup(s): {unchecked.result.manifest.id}" in (
        restored.stdout
    )


def test_an_incremental_whose_base_is_gone_is_not_shown_verified_nor_restored(
    system: Path,
) -> None:
    config = load_config(system / "upkeep.yml")
    [full] = back_up_all(config, now=T0).backups
    [incremental] = back_up_all(config, now=T0 + timedelta(days=1)).backups
    full_id, incremental_id = full.result.manifest.id, incremental.result.manifest.id
    assert incremental.result.manifest.base == full_id
    assert _upkeep(system, "backups").stdout.count(" yes") == 2  # both checked and sound
    shutil.rmtree(system / "backups" / full_id)  # deleted by hand

    table = _upkeep(system, "backups")
    listed = _upkeep(system, "backups", "--json")
    restored = _upkeep(system, "restore", "app", "r.db")

    assert table.returncode == 0, table.stderr
    [row] = [line for line in table.stdout.splitlines() if line.startswith(incremental_id)]
    assert row.endswith(f"no (base {full_id} missing)")
    [entry] = json.loads(listed.stdout)
    assert entry["verified"]["ok"] is True  # what its check said then, kept as it was
    assert entry["missing_base"] == full_id
    assert restored.returncode == 2, restored.stderr
    assert f"the newest, {incremental_id}, is based on {full_id}, which is not in the store" in (
        restored.stderr
    )
    assert not (system / "r.db").exists()


def test_an_unreadable_check_record_is_not_taken_for_a_verified_backup(system: Path) -> None:
    [checked] = back_up_all(load_config(system / "upkeep.yml"), now=T0).backups
    backup_id = checked.result.manifest.id
    record = system / "backups" / backup_id / "verified.json"
    assert json.loads(record.read_text())["ok"] is True
    record.write_text('{"ok": tru')  # cut short by a crash of the disk beneath it

    table = _upkeep(system, "backups")
    listed = _upkeep(system, "backups", "--json")
    restored = _upkeep(system, "restore", "app", "r.db")

    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[1].endswith("no (check record unreadable)")
    [entry] = json.loads(listed.stdout)
    assert entry["verified"]["ok"] is False
    assert entry["verified"]["readable"] is False
    assert restored.returncode == 2, restored.stderr
    assert f"the newest, {backup_id}, is not known to be sound: its check record {record}" in (
        restored.stderr
    )
    assert f"--backup {backup_id}" in restored.stderr


def test_a_damaged_folder_is_named_and_the_rest_is_listed_and_restored(system: Path) -> None:
    back_up_all(load_config(system / "upkeep.yml"), now=T0)
    (system / "backups" / "app-20261119T020000Z-dead").mkdir()  # a backup without its manifest

    listed = _upkeep(system, "backups")
    restored = _upkeep(system, "restore", "app", "r.db")

    assert listed.returncode == 0, listed.stderr
    assert "app-20261119T020000Z-dead: no manifest.json" in listed.stderr
    assert listed.stdout.count("app-20261120T020000Z") == 1
    assert restored.returncode == 0, restored.stderr
    assert "damaged, skipped: app-20261119T020000Z-dead" in restored.stderr
    named = _upkeep(system, "restore", "app", "s.db", "--backup", "app-20261119T020000Z-dead")
    assert named.returncode == 1, named.stderr  # it is there, and it does not check out
    assert "damaged backup app-20261119T020000Z-dead: no manifest.json" in named.stderr


def test_a_restored_database_is_as_private_as_the_store(system: Path) -> None:
    back_up_all(load_config(system / "upkeep.yml"), now=T0)
    previous = os.umask(0o022)  # the usual umask: new files would be readable by everyone
    try:
        restored = _upkeep(system, "restore", "app", "r.db")
    finally:
        os.umask(previous)

    assert restored.returncode == 0, restored.stderr
    assert (system / "r.db").stat().st_mode & 0o777 == 0o600
    assert (system / "backups").stat().st_mode & 0o777 == 0o700


@pytest.fixture
def tmpdir_elsewhere(tmp_path: Path) -> Iterator[Path]:
    """An empty folder for $TMPDIR, on another filesystem than the target when there is one."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK) and shm.stat().st_dev != tmp_path.stat().st_dev:
        folder = Path(tempfile.mkdtemp(dir=shm))
    else:
        folder = tmp_path / "tmpdir"
        folder.mkdir()
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _mid_assembly(system: Path, process: subprocess.Popen[str]) -> None:
    """Stop `process` (SIGSTOP) once the snapshot it assembles in its hidden folder has bytes,
    before it is whole: polled every millisecond, while assembling 35 MB takes far longer."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        if any(f.is_file() and f.stat().st_size for f in system.glob(".upkeep-restore-*/*")):
            process.send_signal(signal.SIGSTOP)
            return
        time.sleep(0.001)
    raise AssertionError("the restore never began its snapshot")


def test_a_killed_restore_leaves_no_target_nor_rows_elsewhere_and_the_next_one_clears_up(
    system: Path, tmpdir_elsewhere: Path
) -> None:
    # Enough rows that assembling the snapshot takes a while: the restore is killed in the
    # middle of it, once the snapshot in its hidden folder has some of its bytes.
    with sqlite3.connect(system / "app.db") as conn:
        conn.executemany(
            "INSERT INTO items (name) VALUES (?)", [(f"{i:08d}" * 12,) for i in range(300_000)]
        )
    back_up_all(load_config(system / "upkeep.yml"), now=T0)
    env = {**os.environ, "TMPDIR": str(tmpdir_elsewhere)}
    command = [sys.executable, "-m", "upkeep.cli", "--config", str(system / "upkeep.yml")]
    restoring = subprocess.Popen(
        [*command, "restore", "app", "r.db"], cwd=system, env=env, text=True
    )
    _mid_assembly(system, restoring)
    with DirectoryStore(system / "backups").deleting() as alone:
        assert not alone  # the restore holds the store: retention would delete nothing now
    restoring.send_signal(signal.SIGKILL)
    restoring.wait(timeout=60)
    with DirectoryStore(system / "backups").deleting() as alone:
        assert alone  # its lock went with it

    assert not (system / "r.db").exists()
    assert list(tmpdir_elsewhere.iterdir()) == []  # no copy of the rows in $TMPDIR
    [left] = system.glob(".upkeep-restore-*")
    assert left.stat().st_mode & 0o777 == 0o700

    again = _upkeep(system, "restore", "app", "r.db", env=env)
    assert again.returncode == 0, again.stderr
    assert f"note: removed {left}: left by a restore that was stopped" in again.stdout
    assert _rows(system / "r.db") == _rows(system / "app.db")
    assert sorted(p.name for p in system.iterdir()) == ["app.db", "backups", "r.db", "upkeep.yml"]
    assert list(tmpdir_elsewhere.iterdir()) == []


def test_a_restore_onto_a_full_disk_names_where_it_was_writing(
    system: Path, tmp_path: Path
) -> None:
    # "upkeep: error: No space left on device (errno 28, ENOSPC)" said nothing of where.
    from helpers.tiny_fs import tiny_filesystem

    with sqlite3.connect(system / "app.db") as conn:
        conn.executemany("INSERT INTO items (name) VALUES (?)", [("x" * 200,)] * 20_000)
    back_up_all(load_config(system / "upkeep.yml"), now=T0)
    with tiny_filesystem(tmp_path / "small", "1m") as small:
        result = _upkeep(system, "restore", "app", str(small / "r.db"))
        left = sorted(p.name for p in small.iterdir())
    assert result.returncode == 3, result.stderr
    assert re.search(
        rf"upkeep: error: {small}/\.upkeep-restore-[^/]+/\S+: No space left on device "
        r"\(errno 28, ENOSPC\)",
        result.stderr,
    ), result.stderr
    assert left == []  # nothing half-written left behind
