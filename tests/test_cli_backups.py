"""`upkeep backups` and `upkeep restore`: the store listed, a backup restored and checked."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from upkeep.config import load_config
from upkeep.procedures.backup import back_up_all

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def _upkeep(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "upkeep.cli", "--config", str(root / "upkeep.yml"), *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
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
    assert missing.returncode != 0 and "no-such-id" in missing.stderr
    assert not (system / "y.db").exists()
