"""The database review on real SQLite files: the demo's deliberate orphans with exact counts,
composite and implicit keys, logical relations, growth kept between reviews, a statement cut off
by the timeout, a broken script reported while the others run, the file left untouched, and a
path that holds no database (an empty file, a FIFO, a symlink loop) named, not reviewed."""

from __future__ import annotations

import hashlib
import json
import os
import random
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from upkeep.config import Database
from upkeep.config.database_review import DatabaseReview, LogicalRelation
from upkeep.dbreview.audit import audit_relations
from upkeep.dbreview.interface import QueryTimeout
from upkeep.dbreview.sqlite import SQLiteReview
from upkeep.demo import DEFECTS
from upkeep.demo.database import build_database
from upkeep.procedures.database_review import STATE_FOLDER, orphan_message, review_database
from upkeep.records import Status


@pytest.fixture
def demo_db(tmp_path: Path) -> Path:
    path = tmp_path / "app.db"
    build_database(path, random.Random(11), datetime.now(UTC))
    return path


def app(path: Path) -> Database:
    return Database(name="app", engine="sqlite", path=path)


def test_the_demo_orphans_are_found_with_exact_counts_and_stable_keys(
    demo_db: Path, tmp_path: Path
) -> None:
    result = review_database(app(demo_db), DatabaseReview(), tmp_path / "state")
    assert result.audit is not None
    assert result.audit.coverage == "5/5 relations checked (5 declared, 0 logical)"
    found = {a.relation.label: a.orphans for a in result.audit.relations}
    expected = {d.key.removeprefix("orphans:"): d.count for d in DEFECTS if "orphans" in d.key}
    assert expected == {"orders.customer_id": 12, "user_roles.user_id": 3}
    assert found == {
        **expected,
        "user_roles.role_id": 0,
        "sessions.user_id": 0,
        "audit_log.user_id": 0,
    }
    orders = next(a for a in result.audit.relations if a.relation.label == "orders.customer_id")
    with sqlite3.connect(demo_db) as db:  # the demo's own defect query: its missing ids
        missing = {row[1] for row in db.execute(DEFECTS[0].query)}
    assert len(orders.samples) == 5 and set(orders.samples) <= missing


def test_the_review_leaves_the_file_byte_for_byte_as_it_was(demo_db: Path, tmp_path: Path) -> None:
    before = (hashlib.sha256(demo_db.read_bytes()).hexdigest(), demo_db.stat().st_mtime_ns)
    result = review_database(app(demo_db), DatabaseReview(), tmp_path / "state")
    assert result.audit is not None and result.audit.orphans == 15
    after = (hashlib.sha256(demo_db.read_bytes()).hexdigest(), demo_db.stat().st_mtime_ns)
    assert after == before
    assert sorted(p.name for p in demo_db.parent.iterdir() if p.name.startswith("app.db")) == [
        "app.db"
    ]


SCHEMA = """
CREATE TABLE regions (country TEXT, code TEXT, PRIMARY KEY (country, code));
CREATE TABLE shops (id INTEGER PRIMARY KEY, country TEXT, region TEXT, owner_id INTEGER,
    FOREIGN KEY (country, region) REFERENCES regions ON DELETE SET NULL);
CREATE TABLE owners (id INTEGER PRIMARY KEY);
INSERT INTO regions VALUES ('DE', 'BY'), ('FR', 'IDF');
INSERT INTO owners VALUES (1), (2);
INSERT INTO shops VALUES (1, 'DE', 'BY', 1), (2, 'FR', 'XX', 2), (3, 'IT', 'LAZ', 7),
    (4, NULL, 'BY', 9), (5, 'FR', 'IDF', NULL);
"""


def test_composite_implicit_and_logical_keys_and_their_cleanup(tmp_path: Path) -> None:
    path = tmp_path / "shops.db"
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA)
    owners = LogicalRelation("app", None, "shops", "owner_id", None, "owners", "id", "cascade")
    settings = DatabaseReview(relations=(owners,))
    result = review_database(app(path), settings, tmp_path / "state")
    assert result.audit is not None
    audits = {a.relation.label: a for a in result.audit.relations}
    assert set(audits) == {"shops.(country, region)", "shops.owner_id"}
    composite = audits["shops.(country, region)"]
    assert composite.relation.parent_columns == ("country", "code")  # REFERENCES regions: its key
    assert composite.orphans == 2 and sorted(composite.samples) == [["FR", "XX"], ["IT", "LAZ"]]
    assert audits["shops.owner_id"].orphans == 2 and not audits["shops.owner_id"].relation.declared
    with sqlite3.connect(path) as db:
        db.execute(composite.cleanup_sql)
        db.execute(audits["shops.owner_id"].cleanup_sql)
        rows = db.execute("SELECT id, country, region, owner_id FROM shops ORDER BY id").fetchall()
    # SET NULL nulls the key of shops 2 and 3; the logical CASCADE rule deletes shops 3 and 4.
    assert rows == [(1, "DE", "BY", 1), (2, None, None, 2), (5, "FR", "IDF", None)]


def test_a_logical_relation_naming_a_missing_table_fails_the_coverage(
    demo_db: Path, tmp_path: Path
) -> None:
    typo = LogicalRelation("app", None, "orders", "customer_id", None, "customer", "id")
    result = review_database(app(demo_db), DatabaseReview(relations=(typo,)), tmp_path / "s")
    assert result.audit is not None
    assert result.audit.coverage == "5/6 relations checked (5 declared, 1 logical)"
    (unchecked,) = [a for a in result.audit.relations if not a.checked]
    assert unchecked.problem == "no such table: customer" and not unchecked.timed_out


def test_keys_sqlite_cannot_check_itself_are_counted_by_query(tmp_path: Path) -> None:
    path = tmp_path / "odd.db"
    with sqlite3.connect(path) as db:
        db.executescript("""
            CREATE TABLE teams (id INTEGER PRIMARY KEY, code TEXT);  -- code is not unique
            CREATE TABLE members (name TEXT PRIMARY KEY, team_code TEXT REFERENCES teams(code),
                team_id INTEGER REFERENCES teams(id)) WITHOUT ROWID;
            INSERT INTO teams VALUES (1, 'red'), (2, 'blue');
            INSERT INTO members VALUES ('ann', 'red', 1), ('bob', 'green', 2), ('cy', 'red', 9);
        """)
        with pytest.raises(sqlite3.OperationalError, match="foreign key mismatch"):
            db.execute("PRAGMA foreign_key_check(members)").fetchall()
    result = review_database(app(path), DatabaseReview(), tmp_path / "state")
    assert result.audit is not None
    assert {a.relation.label: (a.orphans, a.samples) for a in result.audit.relations} == {
        "members.team_code": (1, ("green",)),
        "members.team_id": (1, (9,)),
    }


def test_orphans_of_a_table_with_a_column_named_rowid_are_sampled_by_their_real_rowid(
    tmp_path: Path,
) -> None:
    path = tmp_path / "legacy.db"
    with sqlite3.connect(path) as db:
        db.executescript("""
            CREATE TABLE customers (id INTEGER PRIMARY KEY);
            CREATE TABLE orders (rowid TEXT, customer_id INTEGER REFERENCES customers(id));
            INSERT INTO customers VALUES (1);
            INSERT INTO orders VALUES ('A-1', 1), ('A-2', 7), ('A-3', 8);
        """)
    result = review_database(app(path), DatabaseReview(), tmp_path / "state")
    assert result.audit is not None
    (audit,) = result.audit.relations
    assert (audit.orphans, audit.samples) == (2, (7, 8))


def test_page_count_growth_is_measured_against_the_previous_review(
    demo_db: Path, tmp_path: Path
) -> None:
    state_dir = tmp_path / "state"
    first = review_database(app(demo_db), DatabaseReview(), state_dir)
    growth = {o.script.name: o for o in first.health}["page-count-growth"]
    assert growth.status is Status.OK and "first measurement" in growth.message
    saved = json.loads((state_dir / STATE_FOLDER / "app.json").read_text())
    pages = saved["page-count-growth"]
    with sqlite3.connect(demo_db) as db:
        db.execute("CREATE TABLE filler (blob BLOB)")
        db.executemany("INSERT INTO filler VALUES (?)", [(b"x" * 4000,)] * int(pages * 1.2))
    second = review_database(app(demo_db), DatabaseReview(), state_dir)
    growth = {o.script.name: o for o in second.health}["page-count-growth"]
    assert growth.status is Status.WARN and growth.value is not None and growth.value > 100
    assert f"previously {pages:g}" in growth.message


def test_a_query_past_the_statement_timeout_is_cut_off(demo_db: Path) -> None:
    endless = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT max(i) FROM n"
    with SQLiteReview(demo_db, timeout_s=0.3) as connection:
        started = time.monotonic()
        with pytest.raises(QueryTimeout, match="statement timeout of 0.3 s"):
            connection.rows(endless)
        assert time.monotonic() - started < 3
        assert connection.rows("SELECT 1 AS one") == [{"one": 1}]  # the connection still works


def test_a_relation_past_the_timeout_is_reported_as_not_checked(tmp_path: Path) -> None:
    path = tmp_path / "big.db"
    with sqlite3.connect(path) as db:
        db.executescript("""
            CREATE TABLE parent (id INTEGER PRIMARY KEY);
            CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id));
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000)
            INSERT INTO child SELECT i, i FROM n;
        """)
    with SQLiteReview(path, timeout_s=0.001) as connection:
        audit = audit_relations(connection, "big", [], 5)
    (only,) = audit.relations
    assert only.timed_out and not only.checked and only.orphans is None
    assert audit.coverage == "0/1 relations checked (1 declared, 0 logical)"


def test_a_slow_or_broken_script_fails_its_own_check_and_the_others_still_run(
    demo_db: Path, tmp_path: Path
) -> None:
    own = tmp_path / "scripts"
    (own / "sqlite").mkdir(parents=True)
    (own / "app").mkdir()
    (own / "sqlite" / "endless.sql").write_text(
        "-- Check: a query that never ends\n-- Warn: 1\n"
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT max(i) FROM n;\n"
    )
    (own / "sqlite" / "typo.sql").write_text("-- Check: a typo\n-- Warn: 1\nSELEC 1;\n")
    (own / "app" / "no-header.sql").write_text("SELECT 1;\n")
    (own / "app" / "big-orders.sql").write_text(
        "-- Check: orders over 900.00\n-- Warn: 1\n-- Fail: 1000\n"
        "SELECT id, total_cents FROM orders WHERE total_cents > 90000;\n"
    )
    settings = DatabaseReview(statement_timeout_s=0.3, scripts_dir=own)
    result = review_database(app(demo_db), settings, tmp_path / "state")
    health = {o.script.name: o for o in result.health}
    assert health["endless"].status is Status.FAIL and health["endless"].timed_out
    assert (
        health["endless"].message == "endless.sql: cancelled after the statement timeout of 0.3 s"
    )
    assert health["typo"].status is Status.FAIL
    assert health["typo"].message.startswith('typo.sql failed: near "SELEC": syntax error')
    assert health["no-header"].status is Status.FAIL
    assert "no-header.sql: the header has no `-- Check:" in health["no-header"].message
    with sqlite3.connect(demo_db) as db:
        big = db.execute("SELECT count(*) FROM orders WHERE total_cents > 90000").fetchone()[0]
    assert health["big-orders"].value == big
    assert health["big-orders"].status is (Status.WARN if big else Status.OK)
    assert health["integrity-check"].status is Status.OK
    assert result.audit is not None and result.audit.checked == 5


def test_a_missing_file_is_reported_not_created(tmp_path: Path) -> None:
    result = review_database(app(tmp_path / "gone.db"), DatabaseReview(), tmp_path / "state")
    assert result.audit is None and result.problem is not None
    assert "gone.db: no such database file" in result.problem
    assert not (tmp_path / "gone.db").exists()


@pytest.mark.parametrize(
    ("make", "what"),
    [
        (lambda path: path.write_bytes(b""), "an empty file, not a SQLite database"),
        (
            lambda path: path.write_text("id,name\n1,x\n"),
            "not a SQLite database (it does not start with its header)",
        ),
        (os.mkfifo, "a FIFO, not a database file"),
        (lambda path: path.symlink_to(path.name), "a symlink loop, not a database file"),
        (lambda path: path.symlink_to("/dev/zero"), "a character device, not a database file"),
    ],
    ids=["empty", "csv", "fifo", "symlink-loop", "dev-zero"],
)
def test_a_file_that_is_no_database_is_named_not_reviewed(
    tmp_path: Path, make: Callable[[Path], object], what: str
) -> None:
    # An empty file passed as "0/0 relations checked" and 4 health checks ok; a FIFO was "no
    # such database file", a file of another kind "file is not a database", without its path.
    path = tmp_path / "app.db"
    make(path)
    result = review_database(app(path), DatabaseReview(), tmp_path / "state")
    assert result.audit is None and result.health == ()
    assert result.problem == f"cannot be reviewed: {path}: {what}"


def test_an_orphan_finding_quotes_any_kind_of_key(tmp_path: Path) -> None:
    path = tmp_path / "blobs.db"
    with sqlite3.connect(path) as db:
        db.executescript("""
            CREATE TABLE files (digest BLOB PRIMARY KEY);
            CREATE TABLE chunks (id INTEGER PRIMARY KEY, digest BLOB REFERENCES files);
        """)
        db.execute("INSERT INTO chunks VALUES (1, ?)", (b"\x00\xff",))
    result = review_database(app(path), DatabaseReview(), tmp_path / "state")
    assert result.audit is not None
    (relation_audit,) = result.audit.relations
    message = orphan_message(relation_audit)
    assert message.startswith("1 row of chunks.digest name no files.digest (declared relation")
    assert "sample keys: \"b'\\\\x00\\\\xff'\"" in message
