"""Tests for upkeep.demo and upkeep.demo_service: a real demo tree, SQLite file and sockets, and
the demo's health scripts under scripts/db-health/sqlite/."""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from upkeep import demo
from upkeep.config import Config, load_config
from upkeep.sql import load_sql

REPO = Path(__file__).resolve().parent.parent
ERROR_LINE = re.compile(r"\b(?:ERROR|CRITICAL|FATAL)\b")
WARNING_LINE = re.compile(r"\bWARN(?:ING)?\b")
DAY = 86_400


def make_config(tmp_path: Path, port: int | None = None) -> Config:
    path = tmp_path / "upkeep.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"version: 1\ndemo:\n  root: var/demo\n  http_port: {port or 8765}\n")
    return load_config(path)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One demo built for the read-only tests of this module."""
    return demo.build_demo(make_config(tmp_path_factory.mktemp("demo")))


def get(url: str) -> tuple[int, dict]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=2) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


# ---------------------------------------------------------------- database


def test_database_has_exactly_12_orphaned_orders(built: Path) -> None:
    db = sqlite3.connect(built / "app.db")
    orphans = db.execute(
        "SELECT count(*) FROM orders WHERE customer_id NOT IN (SELECT id FROM customers)"
    ).fetchone()[0]
    assert orphans == 12


def test_every_declared_defect_is_present_in_the_stated_number(built: Path) -> None:
    db = sqlite3.connect(built / "app.db")
    for defect in demo.DEFECTS:
        assert defect.query.startswith("SELECT"), defect.key
        assert len(db.execute(defect.query).fetchall()) == defect.count, defect.key


def test_tables_hold_a_few_hundred_rows_and_declare_foreign_keys(built: Path) -> None:
    db = sqlite3.connect(built / "app.db")
    for table in ("customers", "orders", "users", "user_roles", "sessions", "audit_log"):
        assert 100 <= db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] <= 1000, table
    targets = {row[2] for row in db.execute("PRAGMA foreign_key_list(orders)")}
    assert targets == {"customers"}
    assert {r[0] for r in db.execute("SELECT name FROM roles")} >= {"admin", "support"}


def test_data_is_deterministic_across_builds(tmp_path: Path) -> None:
    first = demo.build_demo(make_config(tmp_path / "a"))
    second = demo.build_demo(make_config(tmp_path / "b"))
    query = "SELECT id, customer_id, status, total_cents FROM orders ORDER BY id"
    rows = [sqlite3.connect(root / "app.db").execute(query).fetchall() for root in (first, second)]
    assert rows[0] == rows[1]
    # Log lines equal once the build-time-relative timestamp (first 23 characters) is cut off.
    messages = [
        [line[23:] for line in (root / "logs/app.log").read_text().splitlines()]
        for root in (first, second)
    ]
    assert messages[0] == messages[1]


@pytest.fixture
def empty_app_db() -> Iterator[sqlite3.Connection]:
    """An in-memory database of the demo's schema, with no rows."""
    db = sqlite3.connect(":memory:")
    db.executescript(demo.SCHEMA)
    yield db
    db.close()


def test_orphan_scripts_find_what_sqlite_foreign_key_check_finds(built: Path) -> None:
    db = sqlite3.connect(built / "app.db")
    violations = db.execute("PRAGMA foreign_key_check").fetchall()
    order_rowids = sorted(row[1] for row in violations if row[:3:2] == ("orders", "customers"))
    orphaned_orders = db.execute(load_sql("db-health/sqlite/orphaned-orders.sql").query)
    assert [row[0] for row in orphaned_orders] == order_rowids
    assert len(order_rowids) == 12
    grants = [row for row in violations if row[:3:2] == ("user_roles", "users")]
    orphaned_grants = db.execute(load_sql("db-health/sqlite/orphaned-role-grants.sql").query)
    assert len(orphaned_grants.fetchall()) == len(grants) == 3
    assert {row[0] for row in violations} == {"orders", "user_roles"}


def test_each_defect_has_its_own_script_with_a_header_that_states_its_limits() -> None:
    assert len({defect.script for defect in demo.DEFECTS}) == len(demo.DEFECTS)
    shipped = sorted((REPO / "scripts" / "db-health" / "sqlite").glob("*.sql"))
    assert {f"db-health/sqlite/{path.name}" for path in shipped} >= {d.script for d in demo.DEFECTS}
    for path in shipped:
        script = load_sql(f"db-health/sqlite/{path.name}")
        assert "Limits:" in script.header, script.name
        assert script.query.count(";") == 1 and script.query.endswith(";"), script.name


def test_health_scripts_find_nothing_in_a_healthy_database(
    empty_app_db: sqlite3.Connection,
) -> None:
    db = empty_app_db
    db.executescript("""
        INSERT INTO customers VALUES (1, 'Ada Novak', 'ada@example.com', '2020-01-01 00:00:00');
        INSERT INTO orders VALUES
            (1, 1, 'pending', 1200, datetime('now', '-2 days'), datetime('now', '-2 days')),
            (2, 1, 'shipped', 900, '2020-02-01 00:00:00', '2020-02-02 00:00:00');
        INSERT INTO users VALUES
            (1, 'anovak', 'ada@corp.example', '2020-01-01 00:00:00', datetime('now', '-1 day')),
            (2, 'bnew', 'ben@corp.example', datetime('now', '-10 days'), NULL);
        INSERT INTO roles VALUES (1, 'admin', 'full access');
        INSERT INTO user_roles VALUES (1, 1, '2020-01-01 00:00:00');
        INSERT INTO sessions VALUES ('token', 1, datetime('now', '-1 day'), datetime('now'));
    """)
    for defect in demo.DEFECTS:
        assert db.execute(defect.query).fetchall() == [], defect.key


def test_an_old_account_that_never_logged_in_is_stale(empty_app_db: sqlite3.Connection) -> None:
    db = empty_app_db
    db.executescript("""
        INSERT INTO users VALUES
            (1, 'never', 'n@corp.example', datetime('now', '-400 days'), NULL),
            (2, 'newcomer', 'c@corp.example', datetime('now', '-3 days'), NULL),
            (3, 'active', 'a@corp.example', datetime('now', '-900 days'), datetime('now'));
        INSERT INTO roles VALUES (1, 'admin', 'full access');
        INSERT INTO user_roles VALUES (1, 1, datetime('now', '-400 days')),
                                      (3, 1, datetime('now', '-900 days'));
    """)
    stale = db.execute(load_sql("db-health/sqlite/stale-users.sql").query).fetchall()
    assert [row[0] for row in stale] == [1]
    admins = db.execute(load_sql("db-health/sqlite/stale-admin-accounts.sql").query).fetchall()
    assert [row[0] for row in admins] == [1]


def test_stale_sessions_check_leaves_the_session_token_out(built: Path) -> None:
    db = sqlite3.connect(built / "app.db")
    cursor = db.execute(load_sql("db-health/sqlite/stale-sessions.sql").query)
    rows = cursor.fetchall()
    assert [column[0] for column in cursor.description] == ["user_id", "created_at", "last_seen_at"]
    tokens = {row[0] for row in db.execute("SELECT id FROM sessions")}
    assert rows and not tokens & {value for row in rows for value in row}


# ---------------------------------------------------------------- logs


def test_log_error_and_warning_counts_are_as_declared(built: Path) -> None:
    for name in ("app", "worker"):
        lines = (built / "logs" / f"{name}.log").read_text().splitlines()
        assert sum(bool(ERROR_LINE.search(line)) for line in lines) == demo.LOG_ERRORS[name]
        warnings = [line for line in lines if WARNING_LINE.search(line)]
        assert len(warnings) == demo.LOG_WARNINGS[name]
    assert demo.LOG_ERRORS == {"app": 14, "worker": 0}


def test_shipped_thresholds_grade_the_demo_logs_warn_not_fail() -> None:
    shipped = load_config(REPO / "upkeep.yml")
    grades = {
        name: shipped.thresholds.log_errors.grade(count) for name, count in demo.LOG_ERRORS.items()
    }
    assert grades == {"app": "warn", "worker": "ok"}


def test_log_lines_are_timestamped_and_in_order(built: Path) -> None:
    stamp = re.compile(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3}) (DEBUG|INFO|WARNING|ERROR) ")
    stamps = [
        m.group(1)
        for line in (built / "logs/app.log").read_text().splitlines()
        if (m := stamp.match(line))
    ]
    assert len(stamps) > 1000
    assert stamps == sorted(stamps)


def test_repeating_errors_differ_only_in_numbers(built: Path) -> None:
    timeouts = [
        line
        for line in (built / "logs/app.log").read_text().splitlines()
        if "timeout after" in line
    ]
    assert len(timeouts) == 6
    assert len({re.sub(r"\d+", "N", line.split("ERROR", 1)[1]) for line in timeouts}) == 1
    assert len(set(timeouts)) == 6


# ---------------------------------------------------------------- temp and cache trees


def test_tmp_and_cache_hold_old_and_fresh_files(built: Path) -> None:
    now = time.time()
    for tree in ("tmp", "cache"):
        ages = [(now - p.stat().st_mtime) / DAY for p in (built / tree).rglob("*") if p.is_file()]
        assert sum(age > demo.OLD_FILE_AGE_DAYS for age in ages) == demo.OLD_FILES[tree]
        assert sum(age < 3 for age in ages) == demo.FRESH_FILES[tree]
    assert (built / "tmp/exports/2025").is_dir()
    empty = built / "tmp/exports/2024-q3"
    assert not any(empty.iterdir()) and (now - empty.stat().st_mtime) / DAY > 365


# ---------------------------------------------------------------- building safely


def test_build_is_skipped_when_built_and_redone_with_force(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    assert not demo.demo_is_built(config)
    root = demo.build_demo(config)
    assert demo.demo_is_built(config)
    (root / "sentinel").write_text("kept")
    demo.build_demo(config)
    assert (root / "sentinel").exists()
    demo.build_demo(config, force=True)
    assert not (root / "sentinel").exists() and demo.demo_is_built(config)
    assert [p.name for p in root.parent.iterdir() if p.name.startswith(".demo.")] == [".demo.lock"]


def test_half_built_root_is_not_built_and_gets_replaced(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    root = tmp_path / "var/demo"
    (root / "logs").mkdir(parents=True)
    (root / "app.db").write_bytes(b"half")
    assert not demo.demo_is_built(config)
    demo.build_demo(config)
    assert demo.demo_is_built(config)
    assert sqlite3.connect(root / "app.db").execute("SELECT count(*) FROM orders").fetchone()[0]


def test_interrupted_build_keeps_the_previous_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_config(tmp_path)
    root = demo.build_demo(config)
    (root / "sentinel").write_text("previous build")

    def killed(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(demo, "_build_file_trees", killed)
    with pytest.raises(KeyboardInterrupt):
        demo.build_demo(config, force=True)
    assert (root / "sentinel").read_text() == "previous build"
    assert demo.demo_is_built(config)
    assert not list(root.parent.glob(".demo.building-*"))


def test_leftovers_of_a_killed_build_are_removed(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    leftover = tmp_path / "var/.demo.building-dead"
    (leftover / "logs").mkdir(parents=True)
    demo.build_demo(config)
    assert not leftover.exists()


def test_config_without_demo_section_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "upkeep.yml").write_text("version: 1\n")
    with pytest.raises(demo.DemoError, match="no `demo:` section"):
        demo.build_demo(load_config(tmp_path / "upkeep.yml"))


# ---------------------------------------------------------------- HTTP service


def test_service_answers_health_and_404_and_stops_on_exit(tmp_path: Path) -> None:
    port = demo.free_port()
    with demo.DemoService(make_config(tmp_path, port)) as service:
        assert service.process is not None
        status, body = get(f"http://127.0.0.1:{port}/health")
        assert status == 200 and body["status"] == "ok"
        assert isinstance(body["uptime_s"], float) and body["uptime_s"] >= 0
        assert get(f"http://127.0.0.1:{port}/nothing-here")[0] == 404
        process = service.process
    assert process.poll() is not None
    assert not demo.health_answers("127.0.0.1", port)


def test_service_already_answering_is_left_alone(tmp_path: Path) -> None:
    config = make_config(tmp_path, demo.free_port())
    with demo.DemoService(config) as outer:
        with demo.DemoService(config) as inner:
            assert inner.process is None
        assert demo.health_answers(outer.host, outer.port)
    assert not demo.health_answers(outer.host, outer.port)


def test_port_taken_by_something_else_fails_with_the_reason(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        config = make_config(tmp_path, squatter.getsockname()[1])
        started = time.monotonic()
        with pytest.raises(demo.DemoError, match="cannot listen"):
            demo.DemoService(config, startup_timeout_s=8).__enter__()
        assert time.monotonic() - started < 8  # the dead child was noticed, not waited out


def test_service_module_is_quiet_and_exits_cleanly_on_sigterm() -> None:
    port = demo.free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "upkeep.demo_service", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while not demo.health_answers("127.0.0.1", port):
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.05)
        assert get(f"http://127.0.0.1:{port}/missing")[0] == 404
    finally:
        process.terminate()
        out, err = process.communicate(timeout=10)
    assert (out, err) == (b"", b"")
    assert process.returncode == 0


def test_serve_forever_refuses_a_taken_port(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 0)
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        config = make_config(tmp_path, squatter.getsockname()[1])
        with pytest.raises(demo.DemoError, match="demo.http_port"):
            demo.serve_forever(config)


def test_built_demo_files_are_readable_by_others(built: Path) -> None:
    assert built.stat().st_mode & 0o755 == 0o755
    assert os.access(built / "logs/app.log", os.R_OK)
