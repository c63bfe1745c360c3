"""Lynis's machine report, from a recorded `lynis-report.dat`: the hardening index, warnings and
suggestions become a metric, findings and a check; without Lynis the review says so."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
import yaml
from helpers.recorder import Recorder

from upkeep.config import Config, load_config
from upkeep.procedures import security
from upkeep.security.lynis import parse_lynis_report

REPORT = Path(__file__).parent / "data" / "security" / "lynis-report.dat"


def test_the_recorded_report_is_parsed() -> None:
    parsed = parse_lynis_report(REPORT.read_text())
    assert parsed.hardening_index == 64
    assert parsed.version == "3.0.8"
    assert parsed.ended == "2026-12-01 02:03:41"
    assert [w.test for w in parsed.warnings] == ["SSH-7408", "FIRE-4512"]
    assert parsed.warnings[0].text == "SSH option PermitRootLogin is set to yes"
    assert [s.test for s in parsed.suggestions] == ["AUTH-9230", "PKGS-7346", "SSH-7408"]
    assert parsed.suggestions[1].detail == "4 packages"


def test_the_report_becomes_a_metric_findings_and_a_warning_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorded = Recorder()
    monkeypatch.setattr(security, "report", recorded)
    security.record_lynis(parse_lynis_report(REPORT.read_text()))
    assert recorded.metrics()["lynis_hardening_index"]["value"] == 64
    assert recorded.checks()["lynis:report"]["status"] == "warn"
    assert recorded.findings()["lynis:FIRE-4512"]["severity"] == "warn"
    assert recorded.findings()["lynis:AUTH-9230"]["severity"] == "info"


def test_a_report_without_index_or_warnings() -> None:
    parsed = parse_lynis_report("lynis_version=3.0.8\nhardening_index=\n")
    assert parsed.hardening_index is None and parsed.warnings == ()


def test_switched_off_the_review_says_so_and_records_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    recorded = Recorder()
    monkeypatch.setattr(security, "report", recorded)
    security.record_lynis(None)
    assert recorded.records == []
    assert "switched off" in capsys.readouterr().out


def _lynis_config(root: Path) -> Config:
    settings = {"lynis": True, "lynis_report": "lynis-report.dat", "listening": False}
    (root / "upkeep.yml").write_text(yaml.safe_dump({"version": 1, "security": settings}))
    return load_config(root / "upkeep.yml")


def _last_month(path: Path) -> None:
    month_ago = time.time() - 30 * 86400
    os.utime(path, (month_ago, month_ago))


def test_lynis_asked_for_but_not_installed_warns_and_never_reads_an_old_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only a printed line said so, and an old report at lynis_report was read as this month's.
    config = _lynis_config(tmp_path)
    shutil.copy(REPORT, config.security.lynis_report)
    _last_month(config.security.lynis_report)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))  # no lynis there
    recorded = Recorder()
    monkeypatch.setattr(security, "report", recorded)
    security.record_lynis(security.review_lynis(config))
    check = recorded.checks()["lynis:report"]
    assert check["status"] == "warn"
    assert check["message"].startswith("no Lynis audit this month: Lynis is not installed")
    assert recorded.metrics() == {} and recorded.findings() == {}


def test_a_lynis_that_writes_no_new_report_warns_and_the_old_one_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _lynis_config(tmp_path)
    shutil.copy(REPORT, config.security.lynis_report)
    _last_month(config.security.lynis_report)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    lynis = bin_dir / "lynis"
    lynis.write_text("#!/bin/sh\necho 'lynis: cannot audit' >&2\nexit 1\n")
    lynis.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    recorded = Recorder()
    monkeypatch.setattr(security, "report", recorded)
    security.record_lynis(security.review_lynis(config))
    check = recorded.checks()["lynis:report"]
    assert check["status"] == "warn" and "wrote no new report" in check["message"]
    assert recorded.metrics() == {}

    # a Lynis that writes its report: that one is read
    lynis.write_text(f'#!/bin/sh\n/bin/cp {REPORT} "$6"\n')
    recorded.records.clear()
    security.record_lynis(security.review_lynis(config))
    assert recorded.metrics()["lynis_hardening_index"]["value"] == 64
