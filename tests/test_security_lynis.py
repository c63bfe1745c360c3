"""Lynis's machine report, from a recorded `lynis-report.dat`: the hardening index, warnings and
suggestions become a metric, findings and a check; without Lynis the review says so."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.recorder import Recorder

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


def test_without_lynis_the_review_says_so_and_records_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    recorded = Recorder()
    monkeypatch.setattr(security, "report", recorded)
    security.record_lynis("Lynis is not installed: no hardening index this month")
    assert recorded.records == []
    assert "Lynis is not installed" in capsys.readouterr().out
