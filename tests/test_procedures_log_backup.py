"""Tests for upkeep.procedures.log_backup and the log parts of `upkeep backups` and `upkeep
restore`: what a run records (a damaged gzipped copy fails and cleaning keeps it), wildcard logs,
copies still being written, a dry run's plan, the weekly sample, and bad input at the CLI."""

from __future__ import annotations

import gzip
import os
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers.project import Project
from helpers.recorder import Recorder

from upkeep.backup.logs.archive import CopyState, archive_logs
from upkeep.backup.logs.store import LogArchiveStore
from upkeep.config import load_config
from upkeep.config.log_backup import LogBackup
from upkeep.procedures import log_backup, logrotate

NOW = datetime.now(UTC)


def _stamped(tag: str, count: int, start: datetime) -> bytes:
    return b"".join(
        f"{(start + timedelta(seconds=i)).isoformat()} INFO {tag} {i}\n".encode()
        for i in range(count)
    )


def _system(tmp_path: Path, extra: str = "") -> Path:
    (tmp_path / "logs").mkdir()
    (tmp_path / "upkeep.yml").write_text(
        textwrap.dedent("""\
        logs:
          - name: app
            path: logs/app.log
            rotate: {max_bytes: 10, keep: 1, method: copytruncate, compress: false}
          - {name: web, path: "logs/*.access"}
        log_backup: {dir: log-backups, settle_s: 0}
        """)
        + extra
    )
    return tmp_path


def _old(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    yesterday = (NOW - timedelta(days=1)).timestamp()
    os.utime(path, (yesterday, yesterday))


def test_a_damaged_gzipped_copy_fails_the_run_and_cleaning_keeps_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _system(tmp_path)
    good = _stamped("good", 10, NOW - timedelta(days=2))
    _old(root / "logs/app.log.1", b"\x1f\x8b not gzip at all")
    (root / "logs/app.log.1").rename(root / "logs/app.log.1.gz")
    (root / "logs/app.log").write_bytes(_stamped("live", 10, NOW))
    _old(root / "logs/site.access.1", good)
    (root / "logs/site.access").write_bytes(b"live\n")
    config = load_config(root / "upkeep.yml")
    recorder = Recorder()
    monkeypatch.setattr(log_backup, "report", recorder)

    run = log_backup.archive_logs(config, now=NOW)
    log_backup.record_log_backups(run)
    checks = recorder.checks()
    assert checks["log-backup:app"]["status"] == "fail"
    assert "app.log.1.gz" in checks["log-backup:app"]["message"]
    assert recorder.findings()["log-backup:app:failed"]["severity"] == "fail"
    # The wildcard log's file is archived under `<name>:<file>`, graded under its name.
    assert checks["log-backup:web"]["status"] == "ok"
    [archive] = LogArchiveStore(root / "log-backups").archives()
    assert archive.log == "web:site.access" and archive.lines == 10
    assert checks["log-backup-store:folders"]["status"] == "ok"
    store = LogArchiveStore(root / "log-backups")
    assert log_backup.choose_log_archive(store, "web", None) == archive
    assert log_backup.choose_log_archive(store, "web:site.access", archive.id) == archive
    assert recorder.metrics()["log_backup_archived_copies"]["value"] == 1
    assert "1 FAILED" in recorder.summaries()[0]

    # keep 1 would delete the damaged copy: it is not archived, so it is kept, and nothing rotates.
    [result] = logrotate.rotate_logs(
        config.logs, state_dir=root / "state", dry_run=False, now=NOW, log_backup=config.log_backup
    )
    assert not result.rotated and (root / "logs/app.log.1.gz").exists()
    assert result.problems[0].kind == "unarchived"


def test_a_dry_run_plans_the_archive_step_and_archives_nothing(tmp_path: Path) -> None:
    root = _system(tmp_path)
    _old(root / "logs/app.log.1", _stamped("old", 5, NOW - timedelta(days=1)))
    (root / "logs/app.log").write_bytes(_stamped("live", 10, NOW))
    config = load_config(root / "upkeep.yml")
    [result] = logrotate.rotate_logs(
        config.logs, state_dir=root / "state", dry_run=True, now=NOW, log_backup=config.log_backup
    )
    assert [step.action for step in result.steps][:2] == ["archive", "delete"]
    assert LogArchiveStore(root / "log-backups").archives() == []
    assert "1 old copy deleted (1 archived first)" in logrotate.summary(result)
    # Without log backups configured, rotation plans as before.
    [plain] = logrotate.rotate_logs(config.logs, state_dir=root / "state", dry_run=True, now=NOW)
    assert "archive" not in [step.action for step in plain.steps]


def test_a_copy_still_being_written_waits_for_the_next_run(tmp_path: Path) -> None:
    root = _system(tmp_path)
    config = load_config(root / "upkeep.yml")
    settings = LogBackup(dir=root / "log-backups", settle_s=600)
    (root / "logs/app.log.1").write_bytes(b"just rotated\n")  # modified now
    _old(root / "logs/app.log.2.gz", gzip.compress(b"old\n"))
    run = archive_logs(settings, config.logs, datetime.now(UTC))
    states = {c.path.name: c.state for c in run.copies}
    assert states == {"app.log.1": CopyState.SETTLING, "app.log.2.gz": CopyState.ARCHIVED}
    later = datetime.now(UTC) + timedelta(seconds=601)
    states = {c.path.name: c.state for c in archive_logs(settings, config.logs, later).copies}
    assert states["app.log.1"] is CopyState.ARCHIVED


def test_the_weekly_sample_checks_the_newest_of_each_log_and_others_in_turn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _system(tmp_path)
    for n in range(1, 7):
        _old(root / f"logs/app.log.{n}", _stamped(f"c{n}", 5, NOW - timedelta(days=n)))
    config = load_config(root / "upkeep.yml")
    log_backup.archive_logs(config, now=NOW)
    store = LogArchiveStore(root / "log-backups")
    newest = store.archives()[-1]
    weeks = [NOW + timedelta(weeks=w) for w in range(6)]
    samples = [log_backup.verify_log_archives(config, per_log=3, now=week) for week in weeks]
    assert all(len(s) == 3 and s[-1].archive == newest and all(c.ok for c in s) for s in samples)
    assert len({c.archive.id for s in samples for c in s}) == 6  # every archive comes round
    everything = log_backup.verify_log_archives(config, verify_all=True, now=NOW)
    assert len(everything) == 6
    recorder = Recorder()
    monkeypatch.setattr(log_backup, "report", recorder)
    log_backup.record_log_archive_checks(everything)
    assert recorder.checks()["backup-verification:logs"]["status"] == "ok"
    (root / "other.yml").write_text("logs: []\n")
    log_backup.record_log_archive_checks(
        log_backup.verify_log_archives(load_config(root / "other.yml"))
    )
    assert "not configured" in recorder.checks()["backup-verification:logs"]["message"]


def test_bad_input_at_the_command_line_is_refused_with_exit_2(tmp_path: Path) -> None:
    project = Project(_system(tmp_path))
    unknown = project.upkeep_in_process("backups", "--logs", "nope")
    assert unknown.code == 2 and "no log named 'nope'" in unknown.err
    empty = project.upkeep_in_process("restore", "--log", "app", "out.log")
    assert empty.code == 2 and "holds no archive of log 'app'" in empty.err
    (tmp_path / "upkeep.yml").write_text("logs: [{name: app, path: logs/app.log}]\n")
    unconfigured = project.upkeep_in_process("restore", "--log", "app", "out.log")
    assert unconfigured.code == 2 and "log_backup.dir" in unconfigured.err
    assert not (tmp_path / "out.log").exists()


def test_an_archive_retention_cannot_delete_fails_the_retention_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _system(tmp_path, "")
    _old(root / "logs/app.log.1", _stamped("old", 5, NOW - timedelta(days=30)))
    config = load_config(root / "upkeep.yml")
    log_backup.archive_logs(config, now=NOW)
    [archive] = LogArchiveStore(root / "log-backups").archives()
    # Where the deletion moves it first is taken (root deletes whatever a mode forbids).
    blocked = root / "log-backups" / f".deleting-{os.getpid()}-{archive.id}"
    blocked.mkdir()
    (blocked / "in-the-way").write_text("x")
    recorder = Recorder()
    monkeypatch.setattr(log_backup, "report", recorder)
    (root / "logs/app.log.1").unlink()
    later = NOW + timedelta(days=400)  # past keep_days 365
    log_backup.record_log_backups(log_backup.archive_logs(config, now=later))
    check = recorder.checks()["log-backup:retention"]
    assert check["status"] == "fail" and f"NOT deleted: {archive.id}" in check["message"]
    assert LogArchiveStore(root / "log-backups").archives() == [archive]


def test_a_copy_is_judged_by_its_newest_line_and_one_past_retention_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _system(tmp_path)
    config_text = (
        (root / "upkeep.yml")
        .read_text()
        .replace(
            "log_backup: {dir: log-backups, settle_s: 0}",
            "log_backup: {dir: log-backups, settle_s: 0, keep_days: 30}",
        )
    )
    (root / "upkeep.yml").write_text(config_text)
    # Lines of yesterday, then one quoting a date long past: the copy is a day old.
    recent = _stamped("recent", 5, NOW - timedelta(days=1)) + b"1999-01-01T00:00:00 INFO quoted\n"
    _old(root / "logs/app.log.5", recent)
    _old(root / "logs/app.log.6", _stamped("ancient", 5, NOW - timedelta(days=90)))
    (root / "logs/app.log").write_bytes(_stamped("live", 10, NOW))
    config = load_config(root / "upkeep.yml")
    recorder = Recorder()
    monkeypatch.setattr(log_backup, "report", recorder)

    run = log_backup.archive_logs(config, now=NOW)
    log_backup.record_log_backups(run)

    states = {c.path.name: c.state for c in run.copies}
    assert states == {"app.log.5": CopyState.ARCHIVED, "app.log.6": CopyState.EXPIRED}
    message = recorder.checks()["log-backup:app"]["message"]
    assert "past retention, not archived: app.log.6 (newest line " in message
