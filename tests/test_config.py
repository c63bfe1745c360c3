"""upkeep.yml loading: every mistake is one ConfigError naming the file, key and expectation."""

from __future__ import annotations

from pathlib import Path

import pytest

from upkeep.config import Limit, load_config
from upkeep.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent


def _load(tmp_path: Path, text: str):
    path = tmp_path / "upkeep.yml"
    path.write_text(text)
    return load_config(path)


def test_shipped_config_points_at_the_demo() -> None:
    config = load_config(REPO / "upkeep.yml")
    assert config.demo is not None and config.demo.root == REPO / "var" / "demo"
    assert {s.kind for s in config.services} == {"http", "tcp", "process"}
    assert config.logs[0].path == REPO / "var" / "demo" / "logs" / "app.log"


def test_paths_resolve_against_the_config_directory(tmp_path: Path) -> None:
    config = _load(tmp_path, "evidence_dir: ev\nlogs:\n  - {name: a, path: logs/a.log}\n")
    assert config.evidence_dir == tmp_path / "ev"
    assert config.logs[0].path == tmp_path / "logs" / "a.log"
    assert config.state_dir == tmp_path / "var" / "state"


def test_thresholds_override_only_what_is_given(tmp_path: Path) -> None:
    config = _load(tmp_path, "thresholds:\n  disk_percent: {warn: 70}\n")
    assert config.thresholds.disk_percent == Limit(70, 90)
    assert config.thresholds.cpu_percent == Limit(85, 95)
    assert Limit(70, 90).grade(69.9) == "ok"
    assert Limit(70, 90).grade(70) == "warn"
    assert Limit(70, 90).grade(90) == "fail"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("timezone: Mars/Olympus\n", "timezone: expected an IANA time zone"),
        ("evidence: x\n", "evidence: unknown key"),
        ("defaults:\n  timeout_s: -5\n", "defaults.timeout_s: expected an integer >= 1, got -5"),
        (
            "defaults:\n  timeout_s: '10'\n",
            "defaults.timeout_s: expected an integer, got '10' (str)",
        ),
        (
            "services:\n  - {name: web, kind: smoke}\n",
            "services[0].kind: expected one of http, tcp, process, got 'smoke'",
        ),
        (
            "services:\n  - {name: web, kind: tcp, host: h}\n",
            "services[0].port: required for a service of kind tcp",
        ),
        (
            "services:\n  - {name: web, kind: http, url: ftp://x}\n",
            "services[0].url: expected an http:// or https:// URL",
        ),
        (
            "services:\n  - {name: web, kind: http, url: 'http://x/', port: 80}\n",
            "services[0].port: unknown key",
        ),
        (
            "services:\n  - {name: a, kind: process, process: x}\n"
            "  - {name: a, kind: process, process: y}\n",
            "name 'a' is used twice",
        ),
        (
            "logs:\n  - {name: a, path: a.log, error_patterns: ['(unclosed']}\n",
            "is not a valid regular expression",
        ),
        (
            "thresholds:\n  cpu_percent: {warn: 90, fail: 80}\n",
            "expected fail (80.0) >= warn (90.0)",
        ),
        (
            "thresholds:\n  cpu_percent: {warn: true}\n",
            "thresholds.cpu_percent.warn: expected a number",
        ),
        (
            "databases:\n  - {name: pg, engine: postgresql, dbname: app, password: hunter2}\n",
            "databases[0].password: expected a secret reference",
        ),
        (
            "logs:\n  - {name: a, path: a.log, rotate: {keep: 3}}\n",
            "logs[0].rotate: expected max_bytes, max_age_days or both",
        ),
        (
            "logs:\n  - {name: a, path: a.log, rotate: {max_bytes: 10, method: move}}\n",
            "logs[0].rotate.method: expected one of rename, copytruncate, got 'move'",
        ),
        (
            "logs:\n  - {name: a, path: a.log, rotate: {max_bytes: 10, signal: SIGNOPE}}\n",
            "logs[0].rotate.signal: expected a signal name",
        ),
        (
            "logs:\n  - {name: a, path: a.log, rotate: {max_bytes: 10, period: fortnightly}}\n",
            "logs[0].rotate.period: expected one of hourly, daily, weekly, monthly",
        ),
        ("backup: {mode: differential}\n", "backup.mode: expected one of full, incremental"),
        ("backup: {compression_level: 0}\n", "backup.compression_level: expected an integer >= 1"),
        ("- just\n- a list\n", "top level: expected a mapping"),
        ("key: [unclosed\n", "not valid YAML"),
    ],
)
def test_mistakes_are_named(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text)
    assert message in str(caught.value)
    assert str(tmp_path / "upkeep.yml") in str(caught.value)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yml")


def test_config_is_frozen(tmp_path: Path) -> None:
    config = _load(tmp_path, "")
    with pytest.raises(AttributeError):
        config.timezone = "x"  # type: ignore[misc]


def test_log_rotation_section(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        "logs:\n  - name: a\n    path: a.log\n"
        "    rotate: {max_bytes: 1024, keep: 3, pid_file: run/a.pid, signal: SIGUSR1}\n"
        "  - {name: b, path: b.log}\n",
    )
    rotation = config.logs[0].rotate
    assert rotation is not None
    assert (rotation.max_bytes, rotation.max_age_days, rotation.keep) == (1024, None, 3)
    assert rotation.pid_file == tmp_path / "run" / "a.pid"
    assert (rotation.method, rotation.signal, rotation.compress) == ("rename", "SIGUSR1", True)
    assert config.logs[1].rotate is None


def test_cleanup_and_backup_sections(tmp_path: Path) -> None:
    (tmp_path / "tmp").mkdir()
    config = _load(
        tmp_path,
        "cleanup:\n  temp_roots:\n    - {path: tmp, max_age_days: 3}\n"
        "  protect: ['*.keep']\nbackup: {dir: backups, mode: incremental}\n",
    )
    assert config.cleanup.temp_roots[0].path == tmp_path / "tmp"
    assert config.cleanup.temp_roots[0].max_age_days == 3
    assert config.cleanup.protect == ("*.keep",)
    assert config.backup.mode == "incremental" and config.backup.dir == tmp_path / "backups"


@pytest.mark.parametrize(
    ("root", "what"),
    [
        ("/", "the filesystem root"),
        ("/home", "/home"),
        ("~", "the user's home directory"),
        (".", "the project"),
        ("evidence", "the evidence directory"),
        ("..", "the project"),  # a parent of the project contains it
    ],
)
def test_dangerous_cleanup_roots_are_refused(tmp_path: Path, root: str, what: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, f"cleanup:\n  temp_roots:\n    - {{path: '{root}'}}\n")
    assert "cleanup.temp_roots[0].path" in str(caught.value) and what in str(caught.value)


def test_symlinked_cleanup_root_is_refused(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(ConfigError, match="is a symlink"):
        _load(tmp_path, "cleanup:\n  cache_roots:\n    - {path: link}\n")


def test_a_symlinked_log_path_is_kept_as_written(tmp_path: Path) -> None:
    # Rotation must see the symlink (and refuse it), not the file it points at.
    (tmp_path / "real.log").write_text("x\n")
    (tmp_path / "app.log").symlink_to(tmp_path / "real.log")
    config = _load(tmp_path, "logs:\n  - {name: a, path: ./logs/../app.log}\n")
    assert config.logs[0].path == tmp_path / "app.log"
