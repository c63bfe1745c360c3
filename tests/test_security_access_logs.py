"""The security review's access logs, from real log fixtures: an auth log in syslog format with
rotated copies (one of them gzipped), journalctl short-iso and json exports, an nginx combined
access log (one vhost-prefixed line); tallied per month, compared with the months before, and judged
for failed logins, new sources and keys, 401/403 bursts and admin paths."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from helpers.recorder import Recorder

from upkeep.config import load_config
from upkeep.config.security import AccessLog
from upkeep.logs.line_times import line_time
from upkeep.procedures import security
from upkeep.security.access_logs import Login, read_access_logs

FIXTURES = Path(__file__).parent / "data" / "security"
NOW = datetime(2026, 12, 20, 12, 0, tzinfo=UTC)
ADMIN = ("/admin", "/wp-admin", "/.env")


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    folder = tmp_path / "log"
    folder.mkdir()
    for name in ("auth.log", "auth.log.1", "access.log", "journal.txt", "journal.json"):
        shutil.copy(FIXTURES / name, folder / name)
    october = (
        b"Oct  3 03:00:00 web-1 sshd[1]: Failed password for root from 203.0.113.1 port 1 ssh2\n"
    )
    (folder / "auth.log.2.gz").write_bytes(gzip.compress(october))
    config = {
        "version": 1,
        "timezone": "UTC",
        "state_dir": "state",
        "security": {
            "listening": False,
            "lynis": False,
            "failed_login_warn": 5,
            "burst_warn": 20,
            "burst_window_s": 60,
            "admin_paths": list(ADMIN),
            "access_logs": [
                {"name": "auth", "path": "log/auth.log", "format": "auth"},
                {"name": "journal", "path": "log/journal.txt", "format": "auth"},
                {"name": "journal-json", "path": "log/journal.json", "format": "auth"},
                {"name": "web", "path": "log/access.log", "format": "web"},
            ],
        },
    }
    (tmp_path / "upkeep.yml").write_text(yaml.safe_dump(config))
    return tmp_path


def test_lines_are_tallied_per_month_across_rotated_copies(logs: Path) -> None:
    config = load_config(logs / "upkeep.yml")
    months = read_access_logs(config.security.access_logs, ADMIN, NOW, UTC)
    assert sorted(months) == ["2026-10", "2026-11", "2026-12"]
    assert months["2026-10"].counts()["failed_logins"] == 1  # from the gzipped copy
    december = months["2026-12"]
    assert december.failed[("admin", "203.0.113.50")] == 1
    assert december.failed[("root", "203.0.113.50")] == 2
    assert sum(n for (_, s), n in december.failed.items() if s == "203.0.113.50") == 6
    assert (
        Login(
            "ann",
            "198.51.100.99",
            "publickey",
            "SHA256:newkeyBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB",
        )
        in december.logins
    )
    assert Login("bob", "192.0.2.11", "password") in december.logins  # journalctl short-iso
    assert december.sudo == {("ann", "root"): 1, ("bob", "app"): 1, ("carol", "root"): 1}
    assert december.failed[("pi", "203.0.113.60")] == 1  # journalctl -o json
    assert december.worst_burst("198.51.100.7", 60) == 25
    assert december.worst_burst("192.0.2.20", 60) == 1
    assert december.admin == {
        ("203.0.113.9", "/wp-admin/install.php"): 1,
        ("203.0.113.9", "/.env"): 1,
    }
    assert months["2026-11"].admin == {("192.0.2.21", "/admin/"): 1}  # a vhost-prefixed line


def test_the_month_is_judged_against_what_was_seen_before(
    logs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorded = Recorder()
    monkeypatch.setattr(security, "report", recorded)
    config = load_config(logs / "upkeep.yml")
    # a review before: the November sources and keys are known
    (logs / "state/security").mkdir(parents=True)
    (logs / "state" / security.ACCESS_STATE).write_text(
        json.dumps({"months": {"2026-09": {"failed_logins": 1}}, "sources": [], "keys": []})
    )
    security.record_access(security.review_access(config, NOW), config)
    checks, findings = recorded.checks(), recorded.findings()
    assert checks["access:logs"]["status"] == "ok"
    assert checks["access:failed-logins"]["status"] == "warn"
    assert [k for k in findings if k.startswith("access:failed:")] == [
        "access:failed:" + security._hashed("203.0.113.50")
    ]
    # ann from 192.0.2.10 with the old key was seen in November: not new
    new_sources = sorted(k for k in findings if k.startswith("access:new-source:"))
    assert new_sources == sorted(
        [
            f"access:new-source:ann:{security._hashed('198.51.100.99')}",
            f"access:new-source:bob:{security._hashed('192.0.2.11')}",
        ]
    )
    assert checks["access:new-sources"]["status"] == "warn"
    assert [k for k in findings if k.startswith("access:new-key:")] == [
        f"access:new-key:ann:{security._hashed('SHA256:newkeyBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB')}"
    ]
    assert checks["access:http-denied"]["status"] == "warn"
    assert checks["access:admin-paths"]["status"] == "warn"
    assert checks["access:sudo"]["value"] == 3
    assert checks["access:trend"]["status"] == "warn"  # 7 failed logins against about 1
    kept = json.loads((logs / "state" / security.ACCESS_STATE).read_text())
    assert set(kept["months"]) == {"2026-09", "2026-10", "2026-11", "2026-12"}
    assert "ann@198.51.100.99" in kept["sources"]

    # the next review, same logs: nothing is new any more
    recorded.records.clear()
    security.record_access(security.review_access(load_config(logs / "upkeep.yml"), NOW), config)
    assert recorded.checks()["access:new-sources"]["status"] == "ok"
    assert recorded.checks()["access:new-keys"]["status"] == "ok"


def test_the_first_review_learns_sources_without_judging_them(
    logs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorded = Recorder()
    monkeypatch.setattr(security, "report", recorded)
    config = load_config(logs / "upkeep.yml")
    security.record_access(security.review_access(config, NOW), config)
    assert recorded.checks()["access:new-sources"]["status"] == "ok"
    assert all(f["severity"] == "info" for k, f in recorded.findings().items() if "new-" in k)


def test_a_missing_log_warns_and_none_configured_warns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorded = Recorder()
    monkeypatch.setattr(security, "report", recorded)
    (tmp_path / "upkeep.yml").write_text(yaml.safe_dump({"version": 1, "state_dir": "state"}))
    config = load_config(tmp_path / "upkeep.yml")
    security.record_access(security.review_access(config, NOW), config)
    assert recorded.checks()["access:logs"]["status"] == "warn"
    log = AccessLog("auth", tmp_path / "missing.log", "auth")
    assert read_access_logs((log,), ADMIN, NOW, UTC) == {}


def test_a_log_or_copy_that_cannot_be_read_is_named_and_warns(
    logs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A damaged gzip copy, a log path that is a directory and a copy that is a FIFO (opening it
    # would wait for a writer forever): each is named, the rest is still read.
    folder = logs / "log"
    (folder / "auth.log.2.gz").write_bytes(b"not gzip at all\n")
    truncated = gzip.compress(
        b"".join(
            b"Oct  4 03:00:00 web-1 sshd[%d]: Failed password for root from 203.0.113.%d port"
            b" %d ssh2\n" % (n, n % 250, n * 7919 % 65536)
            for n in range(5000)
        )
    )
    (folder / "auth.log.3.gz").write_bytes(truncated[: len(truncated) // 2])
    (folder / "web-dir").mkdir()
    os.mkfifo(folder / "web-dir.1")
    config = yaml.safe_load((logs / "upkeep.yml").read_text())
    logs_config = config["security"]["access_logs"]
    logs_config.append({"name": "dir", "path": "log/web-dir", "format": "web"})
    (logs / "upkeep.yml").write_text(yaml.safe_dump(config))
    recorded = Recorder()
    monkeypatch.setattr(security, "report", recorded)
    config = load_config(logs / "upkeep.yml")

    review = security.review_access(config, NOW)
    security.record_access(review, config)

    check = recorded.checks()["access:logs"]
    assert check["status"] == "warn"
    for name in (
        "auth.log.2.gz",
        "auth.log.3.gz",
        "web-dir: a directory, not a regular file",
        "web-dir.1: a FIFO, not a regular file",
    ):
        assert name in check["message"]
    assert review.tally.counts()["failed_logins"] > 0  # the readable logs were still read
    # the truncated copy counts up to where it breaks off
    assert 0 < review.history["2026-10"]["failed_logins"] < 5000


def test_a_log_that_is_a_symlink_loop_is_named_as_one_not_as_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # It was "not found: auth", naming the log and calling the loop missing.
    recorded = Recorder()
    monkeypatch.setattr(security, "report", recorded)
    (tmp_path / "auth.log").symlink_to("auth.log")
    (tmp_path / "upkeep.yml").write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "state_dir": "state",
                "security": {
                    "access_logs": [
                        {"name": "auth", "path": "auth.log", "format": "auth"},
                        {"name": "web", "path": "gone.log", "format": "web"},
                    ]
                },
            }
        )
    )
    config = load_config(tmp_path / "upkeep.yml")
    security.record_access(security.review_access(config, NOW), config)
    check = recorded.checks()["access:logs"]
    assert check["status"] == "warn"
    assert check["message"] == (
        f"not found: web ({tmp_path / 'gone.log'}); "
        f"not read: {tmp_path / 'auth.log'}: a symlink loop, not a regular file"
    )


def test_a_journal_stamp_past_year_9999_is_no_stamp() -> None:
    line = b'{"__REALTIME_TIMESTAMP":"99999999999999999999","MESSAGE":"sshd[1]: x"}'
    assert line_time(line, NOW) is None


def test_a_password_typed_as_the_user_name_is_not_in_the_finding(
    logs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `users tried: Tr0ub4dor&3xyzPW`: someone typed their password at the user prompt.
    with (logs / "log/auth.log").open("a") as auth:
        for port in range(5):
            auth.write(
                f"Dec 19 09:00:0{port} web-1 sshd[9]: Failed password for invalid user "
                f"Tr0ub4dor&3xyzPW from 198.51.100.7 port {port} ssh2\n"
            )
    recorded = Recorder()
    monkeypatch.setattr(security, "report", recorded)
    config = load_config(logs / "upkeep.yml")
    security.record_access(security.review_access(config, NOW), config)
    finding = recorded.findings()["access:failed:" + security._hashed("198.51.100.7")]
    assert finding["message"] == (
        "5 failed logins from 198.51.100.7 this month (users tried: «not-a-user-name»)"
    )
    assert "Tr0ub4dor" not in json.dumps(recorded.records)
    assert "Tr0ub4dor" not in (logs / "state" / security.ACCESS_STATE).read_text()
    admin = recorded.findings()["access:failed:" + security._hashed("203.0.113.50")]
    assert "admin" in admin["message"] and "root" in admin["message"]  # user names stay
