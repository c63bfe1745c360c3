"""Tests for upkeep.compliance.log_retention and upkeep.compliance.evidence_scan, with their
recording: log files (live, numbered and dated copies, gzipped ones, wildcard logs) last written
before their log's retention are found, newer ones are not; the evidence scan finds personal
data by kind and counts it without keeping it, and leaves loopback addresses and masking markers
alone. A log whose age cannot be told (a FIFO, a device, a symlink loop, no timestamps) is
named as such, never counted as in time."""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers.files import aged, make_config
from helpers.recorder import Recorder

from upkeep.compliance.evidence_scan import scan_evidence
from upkeep.compliance.log_retention import logs_past_retention
from upkeep.procedures import compliance_audit

CANARY = "canary.52ab@leak-test.example"


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder()
    monkeypatch.setattr(compliance_audit, "report", recorder)
    return recorder


def _log_file(path: Path, days: float, text: str | None = None) -> Path:
    """A log file last written `days` ago, its first line stamped then unless `text` is given."""
    if text is None:
        text = f"{datetime.now(UTC) - timedelta(days=days):%Y-%m-%d %H:%M:%S} a line\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return aged(path, days)


def test_live_and_rotated_copies_past_retention_are_found(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    _log_file(logs / "app.log", 0)
    _log_file(logs / "app.log.1", 20)
    _log_file(logs / "app.log.2.gz", 40)
    _log_file(logs / "app.log-20240101.gz", 400)
    _log_file(logs / "other.log.1", 400)  # another log's copy
    _log_file(logs / "web-a.log", 45)
    _log_file(logs / "web-b.log.1", 10)
    config = make_config(
        tmp_path,
        """
        logs:
          - {name: app, path: logs/app.log, retention_days: 30}
          - {name: web, path: logs/web-*.log, retention_days: 30}
          - {name: kept, path: logs/other.log}
        """,
    )
    found = {entry.log: entry for entry in logs_past_retention(config.logs, datetime.now(UTC))}
    assert set(found) == {"app", "web"}
    assert [p.name for p in found["app"].files] == ["app.log-20240101.gz", "app.log.2.gz"]
    assert round(found["app"].oldest_days) == 400
    assert [p.name for p in found["web"].files] == ["web-a.log"]


def test_a_log_written_today_whose_first_lines_are_old_is_past_retention(tmp_path: Path) -> None:
    # A log never rotated (dpkg.log) was judged by when it was last written: "0 files past
    # retention" while its first line was 530 days old.
    now = datetime.now(UTC)
    old = (now - timedelta(days=530)).strftime("%Y-%m-%d %H:%M:%S")
    recent = (now - timedelta(days=2)).strftime("%Y-%m-%d %H:%M:%S")
    _log_file(tmp_path / "logs" / "dpkg.log", 0, f"{old} startup archives unpack\n{recent} x\n")
    _log_file(tmp_path / "logs" / "fresh.log", 0, f"{recent} status installed\n")
    config = make_config(
        tmp_path,
        """
        logs:
          - {name: dpkg, path: logs/dpkg.log, retention_days: 365}
          - {name: fresh, path: logs/fresh.log, retention_days: 365}
        """,
    )
    found = {entry.log: entry for entry in logs_past_retention(config.logs, now)}
    assert list(found) == ["dpkg"]
    assert round(found["dpkg"].oldest_days) == 530


def test_logs_past_retention_are_findings_and_logs_without_a_rule_are_named(
    tmp_path: Path, recorded: Recorder
) -> None:
    _log_file(tmp_path / "app.log", 0)
    _log_file(tmp_path / "app.log.3.gz", 100)
    config = make_config(
        tmp_path,
        """
        logs:
          - {name: app, path: app.log, retention_days: 90}
          - {name: worker, path: worker.log}
        """,
    )
    compliance_audit.record_logs(config)
    finding = recorded.findings()["compliance:log-retention:app"]["message"]
    assert "1 file" in finding and "more than 90 days ago" in finding
    assert "app.log.3.gz" in finding
    check = recorded.checks()["compliance:logs:retention"]
    assert (check["status"], check["value"]) == ("warn", 1)
    assert "without a retention rule: worker" in check["message"]


def test_logs_within_retention_are_ok(tmp_path: Path, recorded: Recorder) -> None:
    _log_file(tmp_path / "app.log", 0)
    _log_file(tmp_path / "app.log.1", 80)
    config = make_config(tmp_path, "logs:\n  - {name: app, path: app.log, retention_days: 90}\n")
    compliance_audit.record_logs(config)
    assert recorded.findings() == {}
    assert recorded.checks()["compliance:logs:retention"]["status"] == "ok"


def _evidence(root: Path) -> Path:
    runs = root / "evidence" / "runs" / "2026" / "12" / "r1"
    runs.mkdir(parents=True)
    (runs / "run.json").write_text('{"message": "service http://127.0.0.1:8765/health up"}\n')
    (runs / "report.html").write_text("<p>masked: «email», «ip», «card»</p>\n")
    (root / "evidence" / "ledger.jsonl").write_text('{"seq": 1}\n')
    staging = root / "evidence" / ".staging" / "r2"  # a run still being written: not scanned
    staging.mkdir(parents=True)
    (staging / "notebook.ipynb").write_text("someone@mail.example\n")
    return runs


def test_clean_evidence_is_ok(tmp_path: Path, recorded: Recorder) -> None:
    _evidence(tmp_path)
    config = make_config(tmp_path, "evidence_dir: evidence\n")
    compliance_audit.record_evidence(config)
    check = recorded.checks()["compliance:evidence"]
    assert (check["status"], check["value"]) == ("ok", 0)
    assert check["message"] == "0 files of 3 evidence files scanned hold personal data"


def test_personal_data_in_evidence_fails_naming_file_and_kind_never_the_value(
    tmp_path: Path, recorded: Recorder
) -> None:
    runs = _evidence(tmp_path)
    (runs / "notebook.ipynb").write_text(
        f'["customer {CANARY} wrote", "IBAN DE89 3704 0044 0532 0130 00"]\n'
    )
    config = make_config(tmp_path, "evidence_dir: evidence\n")
    scanned, hits = scan_evidence(config.evidence_dir)
    assert scanned == 4
    assert [(h.path, h.kinds) for h in hits] == [
        ("runs/2026/12/r1/notebook.ipynb", (("email", 1), ("iban", 1)))
    ]
    compliance_audit.record_evidence(config)
    assert recorded.checks()["compliance:evidence"]["status"] == "fail"
    finding = recorded.findings()["compliance:evidence:runs/2026/12/r1/notebook.ipynb"]
    assert finding["severity"] == "fail"
    assert "1 line with e-mail addresses, 1 line with IBANs" in finding["message"]
    assert CANARY not in repr(recorded.records) and "DE89" not in repr(recorded.records)


def test_ip_addresses_alone_in_evidence_warn(tmp_path: Path, recorded: Recorder) -> None:
    runs = _evidence(tmp_path)
    (runs / "notebook.ipynb").write_text('"12 failed logins from 203.0.113.50"\n')
    config = make_config(tmp_path, "evidence_dir: evidence\n")
    compliance_audit.record_evidence(config)
    check = recorded.checks()["compliance:evidence"]
    assert check["status"] == "warn" and "(IP addresses only)" in check["message"]
    assert (
        recorded.findings()["compliance:evidence:runs/2026/12/r1/notebook.ipynb"]["severity"]
        == "warn"
    )


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _loop(path: Path) -> None:
    path.symlink_to(path.name)


def _dev_zero(path: Path) -> None:
    path.symlink_to("/dev/zero")


def _no_timestamps(path: Path) -> None:
    path.write_text("starting worker\nready\n")


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (_fifo, "a FIFO, not a regular file"),
        (_dev_zero, "a character device, not a regular file"),
        (_loop, "a symlink loop, not a regular file"),
        (_no_timestamps, "no timestamp known in its first line"),
    ],
    ids=["fifo", "dev-zero", "symlink-loop", "no-timestamps"],
)
def test_a_log_whose_age_cannot_be_told_is_not_called_in_time(
    tmp_path: Path, recorded: Recorder, make: Callable[[Path], None], why: str
) -> None:
    # Each was "0 log files past retention": read nothing (or nothing datable), said ok.
    make(tmp_path / "app.log")
    config = make_config(tmp_path, "logs:\n  - {name: app, path: app.log, retention_days: 90}\n")
    compliance_audit.record_logs(config)
    check = recorded.checks()["compliance:logs:retention"]
    assert (check["status"], check["value"]) == ("warn", 0)
    assert f"could not check {tmp_path / 'app.log'}: {why}" in check["message"]


def test_rotated_copies_whose_age_cannot_be_told_are_named(tmp_path: Path) -> None:
    _log_file(tmp_path / "app.log", 0)
    _log_file(tmp_path / "app.log.1", 10, "no stamp\n")
    _log_file(tmp_path / "app.log.2.gz", 20, "no stamp either\n")
    os.mkfifo(tmp_path / "app.log.3")
    _loop(tmp_path / "app.log.4")
    (tmp_path / "app.log.5").symlink_to(tmp_path / "app.log.1")  # a link to one is read
    _log_file(tmp_path / "app.log.6", 10, "")  # empty: nothing in it to keep
    config = make_config(tmp_path, "logs:\n  - {name: app, path: app.log, retention_days: 90}\n")
    unchecked: list[str] = []
    assert logs_past_retention(config.logs, datetime.now(UTC), unchecked) == []
    assert sorted(unchecked) == [
        f"{tmp_path / 'app.log.1'}: no timestamp known in its first line",
        f"{tmp_path / 'app.log.2.gz'}: no timestamp known in its first line",
        f"{tmp_path / 'app.log.3'}: a FIFO, not a regular file",
        f"{tmp_path / 'app.log.4'}: a symlink loop, not a regular file",
        f"{tmp_path / 'app.log.5'}: no timestamp known in its first line",
    ]
