"""Tests for upkeep.demo.database and its health scripts under scripts/db-health/sqlite/: a real
demo app.db, and databases of the same schema made by hand."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.demo import load_demo_config
from helpers.project import REPO

from upkeep.config import Config
from upkeep.demo import DEFECTS, SCHEMA, build_demo
from upkeep.sql import load_sql


def config_at(directory: Path, port: int = 8765) -> Config:
    directory.mkdir(parents=True, exist_ok=True)
    return load_demo_config(directory, port)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One demo built for the read-only tests of this module."""
    return build_demo(config_at(tmp_path_factory.mktemp("demo")))


@pytest.fixture
def empty_app_db() -> Iterator[sqlite3.Connection]:
    """An in-memory database of the demo's schema, with no rows."""
    db = sqlite3.connect(":memory:")
    db.executescript(SCHEMA)
    yield db
    db.close()


def test_database_has_exactly_12_orphaned_orders(built: Path) -> None:
    db = sqlite3.connect(built / "app.db")
    orphans = db.execute(
        "SELECT count(*) FROM orders WHERE customer_id NOT IN (SELECT id FROM customers)"
    ).fetchone()[0]
    assert orphans == 12


def test_every_declared_defect_is_present_in_the_stated_number(built: Path) -> None:
    db = sqlite3.connect(built / "app.db")
    for defect in DEFECTS:
        assert defect.query.startswith("SELECT"), defect.key
        assert len(db.execute(defect.query).fetchall()) == defect.count, defect.key


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


def test_tables_hold_a_few_hundred_rows_and_declare_foreign_keys(built: Path) -> None:
    db = sqlite3.connect(built / "app.db")
    for table in ("customers", "orders", "users", "user_roles", "sessions", "audit_log"):
        assert 100 <= db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] <= 1000, table
    targets = {row[2] for row in db.execute("PRAGMA foreign_key_list(orders)")}
    assert targets == {"customers"}
    assert {r[0] for r in db.execute("SELECT name FROM roles")} >= {"admin", "support"}


def test_each_defect_has_its_own_script_with_a_header_that_states_its_limits() -> None:
    assert len({defect.script for defect in DEFECTS}) == len(DEFECTS)
    shipped = sorted((REPO / "scripts" / "db-health" / "sqlite").glob("*.sql"))
    assert {f"db-health/sqlite/{path.name}" for path in shipped} >= {d.script for d in DEFECTS}
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
    for defect in DEFECTS:
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
