"""End-to-end: the real weekly backup verification runbook, run by the real CLI against the
demo's SQLite database, before and after the daily backup runbook has taken backups."""

from __future__ import annotations

import shutil
import sqlite3
import textwrap
from pathlib import Path

import pytest
from helpers.backup import backup_folders, work_folders
from helpers.project import REPO, Project

pytestmark = pytest.mark.slow

NAME = "backup-verification"


@pytest.fixture
def project(tmp_path: Path) -> Project:
    for cadence, name in (("daily", "backup"), ("weekly", NAME)):
        (tmp_path / "runbooks" / cadence).mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "runbooks" / cadence / f"{name}.ipynb", tmp_path / "runbooks" / cadence)
    (tmp_path / "upkeep.yml").write_text(
        textwrap.dedent("""\
        version: 1
        evidence_dir: evidence
        state_dir: var/state
        demo: {root: var/demo, http_port: 1}
        databases:
          - {name: app, engine: sqlite, path: var/demo/app.db}
        backup: {dir: var/backups, mode: incremental, full_every: 7}
        backup_verification: {verify_every_weeks: 2}
    """)
    )
    return Project(tmp_path)


def _run(project: Project, name: str, *args: str) -> tuple[int, dict]:
    result = project.upkeep("run", name, "--no-demo-service", *args)
    runs = [r for r in project.records() if r["runbook"]["name"] == name]
    assert runs, result.text
    return result.code, max(runs, key=lambda r: r["started_at"])


def _checks(record: dict) -> dict[str, dict]:
    return {c["name"]: c for c in record["checks"]}


def test_before_any_backup_it_warns_plainly_then_verifies_the_daily_backups(
    project: Project,
) -> None:
    code, first = _run(project, NAME)
    assert code == 0 and first["status"] == "warn", first
    age = _checks(first)["backup-verification:app:newest-verified-age"]
    assert age["status"] == "warn" and "no sqlite backup of database 'app'" in age["message"]

    db = project.root / "var" / "demo" / "app.db"
    for n in range(3):
        with sqlite3.connect(db) as connection:
            connection.execute(f"UPDATE customers SET name = name || ' v{n}' WHERE id % 5 = 0")
        assert _run(project, "backup")[0] == 0
    code, record = _run(project, NAME)
    assert code == 0 and record["status"] == "ok", record
    checks = _checks(record)
    assert checks["backup-verification:app:restore"]["status"] == "ok"
    assert "sample hashes match" in checks["backup-verification:app:restore"]["message"]
    assert checks["backup-verification:app:coverage"]["message"].startswith("3/3 retained")
    metrics = {m["name"]: m for m in record["metrics"]}
    assert metrics["backup_restore_seconds"]["labels"] == {"database": "app"}
    assert metrics["backup_newest_verified_age_seconds"]["value"] < 600
    assert "app: restored 2 of 3 (all passed" in record["summary"]
    assert work_folders(project.root / "var" / "backups") == []

    code, everything = _run(project, NAME, "-p", "verify_all=true")
    assert code == 0 and "restored 3 of 3" in everything["summary"], everything
    assert project.upkeep("verify").code == 0


def test_a_corrupt_old_piece_fails_the_run_naming_it(project: Project) -> None:
    assert _run(project, "backup")[0] == 0
    assert _run(project, "backup")[0] == 0
    root = backup_folders(project.root / "var" / "backups")[0]
    piece = root / "p000000.zst"
    data = bytearray(piece.read_bytes())
    data[len(data) // 3] ^= 0x10
    piece.write_bytes(bytes(data))

    code, record = _run(project, NAME)
    assert code == 1 and record["status"] == "fail", record
    restore = _checks(record)["backup-verification:app:restore"]
    assert f"backup piece {root.name}/p000000.zst is corrupt" in restore["message"]
    failed = {f["key"]: f for f in record["findings"] if f["severity"] == "fail"}
    assert f"backup-verification:{root.name}" in failed  # the old backup itself, by its id
