"""End-to-end: the real backup runbook, run by the real CLI, against the demo's SQLite database."""

from __future__ import annotations

import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers.backup import KILLED_BACKUP
from helpers.project import REPO, Project
from helpers.tiny_fs import tiny_filesystem

from upkeep.backup.stores.directory import BACKUPS, STAGING
from upkeep.config import load_config
from upkeep.procedures import backup

pytestmark = pytest.mark.slow


@pytest.fixture
def backup_project(tmp_path: Path) -> Project:
    (tmp_path / "runbooks" / "daily").mkdir(parents=True)
    shutil.copy(REPO / "runbooks" / "daily" / "backup.ipynb", tmp_path / "runbooks" / "daily")
    (tmp_path / "upkeep.yml").write_text(
        textwrap.dedent("""\
        version: 1
        evidence_dir: evidence
        state_dir: var/state
        demo: {root: var/demo, http_port: 1}
        databases:
          - {name: app, engine: sqlite, path: var/demo/app.db}
        backup: {dir: var/backups, mode: incremental, full_every: 3}
    """)
    )
    return Project(tmp_path)


def _run(project: Project, *args: str) -> tuple[int, dict]:
    result = project.upkeep("run", "backup", "--no-demo-service", *args)
    latest = max(project.records(), key=lambda r: r["started_at"])
    return result.code, latest


def _checks(record: dict) -> dict[str, dict]:
    return {c["name"]: c for c in record["checks"]}


def _backup_dirs(project: Project) -> list[Path]:
    root = project.root / "var" / "backups" / BACKUPS
    return sorted(root.iterdir()) if root.is_dir() else []


def test_daily_backups_full_then_incremental_and_they_restore(backup_project: Project) -> None:
    project = backup_project
    code, first = _run(project)
    assert code == 0, first
    checks = _checks(first)
    assert first["status"] == "ok"
    assert checks["backup:app:created"]["message"].startswith("full backup")
    assert checks["backup:app:restore"]["status"] == "ok"
    assert checks["backup-store:pieces"]["status"] == "ok"
    # The demo's deliberate orphans are reported as findings, faithfully, not as a bad restore.
    assert any("orders reference missing customers" in f["message"] for f in first["findings"])

    db = project.root / "var" / "demo" / "app.db"
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE customers SET name = name || ' (changed)' WHERE id % 7 = 0")
    kinds, kept = [], []
    for _ in range(3):
        code, record = _run(project)
        assert code == 0 and record["status"] == "ok", record
        kinds.append(_checks(record)["backup:app:created"]["message"].split()[0])
        kept.append(len(_backup_dirs(project)))
    assert kinds == ["incremental", "incremental", "full"]  # full_every: 3
    # Retention keeps the newest backup of the day and what it depends on: the whole chain
    # while the newest is an incremental, only the new full once one is taken.
    assert kept == [2, 3, 1]
    metrics = {m["name"]: m for m in record["metrics"]}
    assert metrics["backup_size_bytes"]["value"] == db.stat().st_size
    assert {"backup_stored_bytes", "backup_duration_seconds", "backup_throughput_mb_per_s"} <= set(
        metrics
    )
    assert project.upkeep("verify").code == 0

    config = load_config(project.config)
    outcome = backup.restore(config, "app", str(project.root / "restored.db"))
    assert outcome.ok, outcome.problems
    with sqlite3.connect(project.root / "restored.db") as restored:
        changed = restored.execute("SELECT count(*) FROM customers WHERE name LIKE '%(changed)'")
        assert changed.fetchone()[0] > 0


@pytest.mark.parametrize("damage", ["flip a byte", "delete the piece"])
def test_a_damaged_stored_backup_fails_the_run_naming_the_piece(
    backup_project: Project, damage: str
) -> None:
    project = backup_project
    assert _run(project)[0] == 0
    [first] = _backup_dirs(project)
    piece = first / "p000000.zst"
    if damage == "flip a byte":
        data = bytearray(piece.read_bytes())
        data[len(data) // 2] ^= 0x40
        piece.write_bytes(bytes(data))
    else:
        piece.unlink()

    code, record = _run(project)

    assert code == 1 and record["status"] == "fail"
    checks = _checks(record)
    named = f"{first.name}/p000000.zst"
    assert checks["backup:app:chain"]["status"] == "fail"
    assert named in checks["backup:app:chain"]["message"]
    assert checks["backup-store:pieces"]["status"] == "fail"
    assert named in checks["backup-store:pieces"]["message"]
    # Never built on a broken chain: today's backup is a full one, and it restores.
    assert checks["backup:app:created"]["message"].startswith("full backup")
    assert checks["backup:app:restore"]["status"] == "ok"
    assert any("retention not applied" in f["message"] for f in record["findings"])


def test_a_full_disk_ends_the_run_in_error_and_leaves_nothing(backup_project: Project) -> None:
    project = backup_project
    with tiny_filesystem(project.root / "var" / "backups", "64k") as store:
        code, record = _run(project)
        assert code == 3 and record["status"] == "error"
        assert record["error"]["ename"] == "BackupError"
        assert "No space left" in record["error"]["evalue"] or "full" in record["error"]["evalue"]
        assert [p for p in store.rglob("*") if p.is_file()] == []
        assert _checks(record)["backup:app:created"]["status"] == "fail"


def test_the_next_run_cleans_up_after_a_backup_killed_mid_way(
    backup_project: Project, tmp_path: Path
) -> None:
    project = backup_project
    assert _run(project)[0] == 0  # builds the demo, takes a first backup
    big = tmp_path / "big.db"
    with sqlite3.connect(big) as connection:
        connection.execute("CREATE TABLE b (data BLOB)")
        connection.execute(
            "INSERT INTO b SELECT randomblob(1000) FROM generate_series(1, 12000)"
            if sqlite3.sqlite_version_info >= (3, 43)
            else "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 12000) "
            "INSERT INTO b SELECT randomblob(1000) FROM n"
        )
    store_root = project.root / "var" / "backups"
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_BACKUP, str(big), str(store_root)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdout.readline().startswith("piece")
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert any((store_root / STAGING).iterdir())  # the killed backup's partial pieces

    code, record = _run(project)

    assert code == 0 and record["status"] == "ok", record
    assert not any((store_root / STAGING).iterdir())
    assert len(_backup_dirs(project)) == 2  # the first run's and this run's, nothing partial
