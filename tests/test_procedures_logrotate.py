"""Tests for upkeep.procedures.logrotate: recording real rotations as checks, metrics and
findings."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

import pytest

from upkeep import report
from upkeep.config import LogRotation, LogSource, load_config
from upkeep.procedures import logrotate


def test_record_rotations_checks_metrics_and_findings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    records: list[dict[str, Any]] = []
    for name in ("check", "metric", "finding"):
        real = getattr(report, name)
        monkeypatch.setattr(
            logrotate.report, name, lambda *a, _real=real, **k: records.append(_real(*a, **k))
        )
    config_path = tmp_path / "upkeep.yml"
    config_path.write_text(
        textwrap.dedent(
            """
            version: 1
            logs:
              - name: app
                path: app.log
                rotate: {max_bytes: 1, method: copytruncate}
              - name: web
                path: web.log
                rotate: {max_bytes: 1, pid_file: web.pid}
              - name: quiet
                path: quiet.log
                rotate: {max_bytes: 1000, method: copytruncate}
            """
        )
    )
    config = load_config(config_path)
    for log in config.logs:
        log.path.write_text("ERROR x\n")
    results = logrotate.rotate_logs(config.logs, state_dir=tmp_path / "state", dry_run=False)
    logrotate.record_rotations(results)
    checks = {r["name"]: r for r in records if r["kind"] == "check"}
    assert checks["logrotate:app"]["status"] == "ok"
    assert "between copy and truncate are lost" in checks["logrotate:app"]["message"]
    assert checks["logrotate:web"]["status"] == "warn"
    assert checks["logrotate:quiet"]["message"] == "not rotated: not due"
    findings = [r for r in records if r["kind"] == "finding"]
    assert [f["key"] for f in findings] == ["logrotate:web:pid-file"]
    metrics = {
        (r["name"], r["labels"]["log"]): r["value"] for r in records if r["kind"] == "metric"
    }
    assert metrics[("log_rotated", "app")] == 1 and metrics[("log_rotated", "quiet")] == 0
    assert ("log_copytruncate_window_s", "app") in metrics
    assert "app: copytruncate app.log -> app.log.1" in capsys.readouterr().out


def test_the_summary_gives_the_bytes_freed_in_human_units(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("x\n")
    for index in (1, 2, 3):
        (tmp_path / f"app.log.{index}").write_bytes(b"y" * 1536)
        os.utime(tmp_path / f"app.log.{index}", (1_700_000_000, 1_700_000_000))  # rotated long ago
    policy = LogRotation(max_bytes=10**9, keep=1, method="copytruncate", compress=False)
    [result] = logrotate.rotate_logs(
        [LogSource("app", log, rotate=policy)], state_dir=tmp_path / "state", dry_run=False
    )
    assert logrotate.summary(result) == "not rotated: not due; 2 old copies deleted, 3.0 KiB freed"
