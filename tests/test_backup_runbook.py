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
from helpers.backup import KILLED_BACKUP, KILLED_VERIFICATION, backup_folders, work_folders
from helpers.project import REPO, Project
from helpers.tiny_fs import tiny_filesystem

from upkeep.backup.stores.directory import DirectoryStore
from upkeep.config import load_config
from upkeep.procedures import restore

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
    return backup_folders(project.root / "var" / "backups")


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
    outcome = restore.restore(config, "app", str(project.root / "restored.db")).outcome
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
    assert work_folders(store_root)  # the killed backup's partial pieces

    code, record = _run(project)

    assert code == 0 and record["status"] == "ok", record
    assert work_folders(store_root) == []
    assert len(_backup_dirs(project)) == 2  # the first run's and this run's, nothing partial


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_a_run_stopped_during_verification_leaves_an_unverified_backup_the_next_run_checks(
    backup_project: Project, stop: signal.Signals
) -> None:
    project = backup_project
    assert _run(project)[0] == 0  # builds the demo, takes a first backup and verifies it
    [verified] = _backup_dirs(project)
    store_root = project.root / "var" / "backups"
    # Ctrl-C on `upkeep run` SIGKILLs the run's kernel; on a notebook run by hand it is SIGINT.
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_VERIFICATION, str(project.config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert child.stdout is not None and child.stdout.readline() == "verifying\n"
    child.send_signal(stop)
    assert child.wait() != 0

    # The new backup is published and unverified; no .trash, no backups/backups/.
    first, unchecked = (store_root / m.id for m in DirectoryStore(store_root).manifests())
    assert first == verified and not (unchecked / "verified.json").exists()
    assert not (store_root / ".trash").exists() and not (store_root / "backups").exists()
    if stop == signal.SIGINT:  # interrupted: it cleaned up after itself
        assert work_folders(store_root) == []
    else:  # killed: its restore is left, private to the store, until the store is next opened
        [scratch] = work_folders(store_root)
        assert scratch.name == f".scratch-{child.pid}-{unchecked.name}"
    listed = project.upkeep("backups", "app")
    rows = {line.split()[0]: line for line in listed.out.splitlines()[1:]}
    assert rows[verified.name].endswith("yes")
    assert rows[unchecked.name].endswith("no (not checked yet)")
    assert work_folders(store_root) == []  # what the killed check left, gone on next open
    restored = project.upkeep("restore", "app", str(project.root / "r.db"))
    assert restored.code == 0, restored.text
    assert f"restored backup {verified.name} of app" in restored.out
    assert f"newer unverified backup(s): {unchecked.name}" in restored.out

    code, record = _run(project)

    assert code == 0 and record["status"] == "ok", record
    checks = _checks(record)
    assert checks["backup:app:unverified"]["status"] == "ok"
    assert unchecked.name in checks["backup:app:unverified"]["message"]
    assert f"incremental on {unchecked.name}" in checks["backup:app:created"]["message"]
    assert sorted(p.name for p in store_root.iterdir()) == [
        p.name for p in _backup_dirs(project)
    ]  # nothing else in the store: every backup folder, and only those
