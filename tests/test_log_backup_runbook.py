"""End-to-end: the real log-backup, cleaning and weekly backup verification runbooks, run by the
real CLI in one `upkeep run --due` (in parallel), on real rotated logs; then `upkeep backups`,
`upkeep restore --log`, and the weekly sampling of a corrupted archive."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers.project import REPO, Project
from helpers.runbook_docs import covers, load_notebook, triage_rows

pytestmark = pytest.mark.slow

RUNBOOKS = ("daily/log-backup.ipynb", "daily/cleaning.ipynb", "weekly/backup-verification.ipynb")


def _lines(tag: str, count: int, start: datetime) -> bytes:
    return b"".join(
        f"{(start + timedelta(seconds=i)).isoformat()} INFO {tag} {i}\n".encode()
        for i in range(count)
    )


@pytest.fixture
def project(tmp_path: Path) -> Project:
    for runbook in RUNBOOKS:
        (tmp_path / "runbooks" / runbook).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "runbooks" / runbook, tmp_path / "runbooks" / runbook)
    (tmp_path / "upkeep.yml").write_text(
        textwrap.dedent("""\
        version: 1
        evidence_dir: evidence
        state_dir: var/state
        logs:
          - name: app
            path: logs/app.log
            first_scan: whole
            retention_days: 90
            rotate: {max_bytes: 100, keep: 1, method: copytruncate, compress: false}
        log_backup: {dir: var/log-backups, settle_s: 0}
    """)
    )
    (tmp_path / "logs").mkdir()
    return Project(tmp_path)


def _archives(project: Project) -> list[dict]:
    listed = project.upkeep("backups", "--logs", "--json")
    assert listed.code == 0, listed.err
    return json.loads(listed.out)


def test_cleaning_in_the_same_due_never_deletes_an_unarchived_copy(project: Project) -> None:
    now = datetime.now(UTC)
    old = _lines("old", 300, now - timedelta(days=1))
    live = _lines("live", 200, now - timedelta(hours=1))
    (project.root / "logs/app.log.1").write_bytes(old)  # never archived; keep 1 deletes it
    yesterday = (now - timedelta(days=1)).timestamp()
    os.utime(project.root / "logs/app.log.1", (yesterday, yesterday))  # rotated yesterday
    (project.root / "logs/app.log").write_bytes(live)

    due = project.upkeep("run", "--due", timeout=600)
    records = {r["runbook"]["name"]: r for r in project.records()}
    assert set(records) == {"log-backup", "cleaning", "backup-verification"}, due.err
    assert due.code == 0, due.err
    assert records["cleaning"]["status"] == "ok", records["cleaning"]["checks"]
    # Rotated: the old copy is gone from disk, the live lines are the new .1.
    assert (project.root / "logs/app.log.1").read_bytes() == live
    assert (project.root / "logs/app.log").read_bytes() == b""
    # Whichever of the two ran first, the old copy was archived, exactly once.
    archived = [a["content_sha256"] for a in _archives(project)]
    assert archived.count(hashlib.sha256(old).hexdigest()) == 1
    assert len(archived) == len(set(archived))

    again = project.upkeep("run", "log-backup")
    assert again.code == 0, again.err
    archives = _archives(project)
    assert sorted(a["content_sha256"] for a in archives) == sorted(
        hashlib.sha256(content).hexdigest() for content in (old, live)
    )
    latest = max(project.records(), key=lambda r: r["started_at"])
    checks = {c["name"]: c for c in latest["checks"]}
    assert checks["log-backup:app"]["status"] == "ok"
    assert "1 already archived" in checks["log-backup:app"]["message"]
    rows = triage_rows(load_notebook(project.root / "runbooks/daily/log-backup.ipynb"))
    for record in project.records():
        if record["runbook"]["name"] in ("log-backup", "backup-verification"):
            nb = project.root / "runbooks" / record["runbook"]["path"].split("runbooks/")[-1]
            rows = triage_rows(load_notebook(nb))
            assert [c["name"] for c in record["checks"] if not covers(rows, c["name"])] == []

    # Restored by hand to a new file, checked on the way; never over an existing one.
    oldest = next(a for a in archives if a["content_sha256"] == hashlib.sha256(old).hexdigest())
    restored = project.upkeep("restore", "--log", "app", "old.log", "--backup", oldest["id"])
    assert restored.code == 0, restored.err
    assert (project.root / "old.log").read_bytes() == old and "all checks passed" in restored.out
    assert project.upkeep("restore", "--log", "app", "old.log").code == 2
    assert project.upkeep("restore", "--log", "app", "x.log", "--backup", "nope").code == 2
    table = project.upkeep("backups")
    assert table.code == 0 and oldest["id"] in table.out and "300" in table.out

    # The weekly verification samples the archives; a corrupted one fails it and is named.
    weekly = project.upkeep("run", "backup-verification")
    assert weekly.code == 0, weekly.err
    piece = project.root / "var/log-backups" / oldest["id"] / "content.gz"
    data = bytearray(piece.read_bytes())
    data[20] ^= 0x55
    piece.write_bytes(bytes(data))
    weekly = project.upkeep("run", "backup-verification", "-p", "verify_all=true")
    assert weekly.code == 1, weekly.err
    latest = max(project.records(), key=lambda r: r["started_at"])
    [check] = [c for c in latest["checks"] if c["name"] == "backup-verification:logs"]
    assert check["status"] == "fail" and oldest["id"] in check["message"]
    damaged = project.upkeep("restore", "--log", "app", "bad.log", "--backup", oldest["id"])
    assert damaged.code == 1 and not (project.root / "bad.log").exists()


def test_the_cleaning_run_itself_archives_a_copy_the_log_backup_leaves(project: Project) -> None:
    # The log backup leaves copies modified in the last two hours (settle_s); an hourly rotation
    # deletes the one rotated an hour ago: only cleaning's own archive step can keep its lines.
    config = project.root / "upkeep.yml"
    config.write_text(
        config.read_text()
        .replace("compress: false}", "compress: false, period: hourly}")
        .replace("settle_s: 0", "settle_s: 7200")
    )
    now = datetime.now(UTC)
    old = _lines("old", 120, now - timedelta(hours=2))
    (project.root / "logs/app.log.1").write_bytes(old)
    an_hour_ago = (now - timedelta(minutes=61)).timestamp()
    os.utime(project.root / "logs/app.log.1", (an_hour_ago, an_hour_ago))
    (project.root / "logs/app.log").write_bytes(_lines("live", 50, now))

    due = project.upkeep("run", "--due", timeout=600)
    assert due.code == 0, due.err
    records = {r["runbook"]["name"]: r for r in project.records()}
    rotation = next(c for c in records["cleaning"]["checks"] if c["name"] == "logrotate:app")
    assert rotation["status"] == "ok" and "(1 archived first)" in rotation["message"]
    backup = next(c for c in records["log-backup"]["checks"] if c["name"] == "log-backup:app")
    assert not re.search(r"\d+ archived", backup["message"])  # the log backup archived nothing
    [archive] = _archives(project)
    assert archive["content_sha256"] == hashlib.sha256(old).hexdigest()
    assert archive["lines"] == 120 and archive["source"].endswith("logs/app.log.1")
