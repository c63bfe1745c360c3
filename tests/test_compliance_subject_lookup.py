"""Tests for the data-subject lookup (upkeep.compliance.subject_lookup) and `upkeep subject find`
on real SQLite files: every row holding the identifier in any text column, ignoring case, named
by its primary key (or every column without one), the matching columns listed; the command's
table and JSON (with the rows' values on request); bad input exits 2."""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import textwrap
from pathlib import Path

import pytest
from helpers.project import Project

from upkeep.compliance.dialects import dialect_for
from upkeep.compliance.subject_lookup import find_subject_rows
from upkeep.dbreview.sqlite import SQLiteReview

SUBJECT = "Jo.Subject@Mail.example"
ODD = '"odd ""name"""'  # the table 'odd "name"', quoted as SQL writes it


def make_db(path: Path) -> Path:
    db = sqlite3.connect(path)
    db.executescript(
        f"""
        CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT, note TEXT, photo BLOB);
        INSERT INTO customers VALUES (1, 'jo.subject@mail.example', NULL, x'00'),
                                     (2, 'other@mail.example', 'friend of {SUBJECT}', NULL),
                                     (3, 'third@mail.example', 'nothing', NULL);
        CREATE TABLE events (at TEXT, detail TEXT);
        INSERT INTO events VALUES ('2026-01-01', '{{"by": "JO.SUBJECT@MAIL.EXAMPLE"}}'),
                                  ('2026-01-02', 'someone else');
        CREATE TABLE {ODD} (k INTEGER PRIMARY KEY, "e mail" TEXT);
        INSERT INTO {ODD} VALUES (7, 'jo.subject@mail.example'), (8, 'it''s me');
        """
    )
    db.commit()
    db.close()
    return path


def test_every_row_holding_the_identifier_is_found_ignoring_case(tmp_path: Path) -> None:
    with SQLiteReview(make_db(tmp_path / "app.db"), 5) as connection:
        rows = find_subject_rows(connection, dialect_for("sqlite"), SUBJECT)
    found = [(row.table, row.key, row.columns) for row in rows]
    assert found == [
        ("customers", {"id": 1}, ("email",)),
        ("customers", {"id": 2}, ("note",)),
        (
            "events",
            {"at": "2026-01-01", "detail": '{"by": "JO.SUBJECT@MAIL.EXAMPLE"}'},
            ("detail",),
        ),
        ('odd "name"', {"k": 7}, ("e mail",)),
    ]


def test_tables_named_like_sqlite_and_text_that_is_not_utf8_are_searched(tmp_path: Path) -> None:
    """Only `sqlite_...` names are SQLite's own; and SQLite keeps TEXT as the bytes it was given
    (a Latin-1 legacy import), which must not stop the search."""
    path = tmp_path / "app.db"
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.executescript(
            f"""
            CREATE TABLE SQLiteUsers (id INTEGER PRIMARY KEY, email TEXT);
            INSERT INTO SQLiteUsers VALUES (1, '{SUBJECT}');
            CREATE TABLE legacy (id INTEGER PRIMARY KEY, name TEXT, email TEXT);
            INSERT INTO legacy VALUES (4, CAST(x'4dfc6c6c6572' AS TEXT), '{SUBJECT}');
            """
        )
        db.commit()
    with SQLiteReview(path, 5) as connection:
        rows = find_subject_rows(connection, dialect_for("sqlite"), SUBJECT, with_rows=True)
    assert [(row.table, row.key, row.columns) for row in rows] == [
        ("SQLiteUsers", {"id": 1}, ("email",)),
        ("legacy", {"id": 4}, ("email",)),
    ]
    assert rows[1].row["name"] == "M\ufffdller"


def test_quotes_in_the_identifier_are_data_not_sql(tmp_path: Path) -> None:
    with SQLiteReview(make_db(tmp_path / "app.db"), 5) as connection:
        rows = find_subject_rows(connection, dialect_for("sqlite"), "it's me")
        assert [(row.table, row.key) for row in rows] == [('odd "name"', {"k": 8})]
        assert find_subject_rows(connection, dialect_for("sqlite"), "') OR 1=1 --") == []


def _project(tmp_path: Path) -> Project:
    make_db(tmp_path / "app.db")
    (tmp_path / "upkeep.yml").write_text(
        textwrap.dedent("""\
        version: 1
        state_dir: state
        databases:
          - {name: app, engine: sqlite, path: app.db}
        """)
    )
    return Project(tmp_path)


def test_upkeep_subject_find_lists_the_rows_and_changes_nothing(tmp_path: Path) -> None:
    project = _project(tmp_path)
    before = hashlib.sha256((tmp_path / "app.db").read_bytes()).hexdigest()
    result = project.upkeep("subject", "find", SUBJECT)
    assert result.code == 0, result.text
    lines = result.out.splitlines()
    assert lines[0].split() == ["DATABASE", "TABLE", "ROW", "COLUMNS"]
    assert lines[1].split() == ["app", "customers", "id=1", "email"]
    assert lines[-1] == "4 rows in 3 tables"
    assert hashlib.sha256((tmp_path / "app.db").read_bytes()).hexdigest() == before


@pytest.mark.parametrize("seconds", ["nan", "inf", "-inf", "0"])
def test_a_statement_timeout_that_is_no_number_of_seconds_is_refused(
    tmp_path: Path, seconds: str
) -> None:
    # nan passed click's range check (it compares false with anything) and the lookup ran.
    result = _project(tmp_path).upkeep_in_process(
        "subject", "find", SUBJECT, "--statement-timeout", seconds
    )
    assert result.code == 2, result.text
    assert "--statement-timeout" in result.err and not result.out


def test_upkeep_subject_find_json_with_the_rows_for_an_access_request(tmp_path: Path) -> None:
    result = _project(tmp_path).upkeep("subject", "find", SUBJECT, "--json", "--rows")
    assert result.code == 0, result.text
    found = json.loads(result.out)
    assert len(found) == 4
    first = found[0]
    assert (first["database"], first["table"], first["key"], first["columns"]) == (
        "app",
        "customers",
        {"id": 1},
        ["email"],
    )
    assert first["row"]["email"] == "jo.subject@mail.example"
    assert (first["row"]["id"], first["row"]["note"], first["row"]["photo"]) == (1, None, "\\x00")


def test_no_row_found_says_so(tmp_path: Path) -> None:
    result = _project(tmp_path).upkeep("subject", "find", "nobody@mail.example")
    assert (result.code, result.out.strip()) == (0, "no row of app holds the identifier")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ab"], "expected an identifier of 3 characters or more"),
        ([SUBJECT, "--rows"], "--rows prints the rows' values as JSON: add --json"),
        ([SUBJECT, "--database", "shop"], "no database named 'shop'; expected one of app"),
        ([SUBJECT, "--statement-timeout", "0"], "--statement-timeout"),
    ],
)
def test_bad_input_exits_2_with_one_message(tmp_path: Path, args: list[str], message: str) -> None:
    result = _project(tmp_path).upkeep("subject", "find", *args)
    assert result.code == 2
    assert message in result.err
