"""Tests for upkeep.compliance.database_audit and the recording of
upkeep.procedures.compliance_audit, on real SQLite files: each finding kind (unclassified
columns and coverage, undeclared personal columns by name and by values, columns marked not
personal that hold personal values, rows past retention with a DELETE that deletes exactly
them, stale tables, columns and categories), and the values sampled never reaching what is
recorded (a canary)."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import textwrap
from pathlib import Path

import pytest
from helpers.recorder import Recorder

from upkeep.compliance.database_audit import without_values
from upkeep.config import Config, load_config
from upkeep.procedures import compliance_audit

CANARY = "canary.7d1f@leak-test.example"
ODD = '"odd ""table"""'  # the table 'odd "table"', quoted as SQL writes it
RECORD = """\
controller: {name: Shop Ltd, contact: privacy@shop.example}
categories:
  - {name: contact, description: e-mail addresses}
  - {name: identity, description: names}
  - {name: health, description: allergies, special: true}
activities:
  - name: shop
    title: Shop
    purposes: [selling]
    lawful_basis: contract
    data_subjects: [customers]
    categories: [contact, identity, health]
    retention: 1 year
    security_measures: [access by role]
databases:
  app:
    customers:
      activity: shop
      retention: {column: created_at, days: 365}
      columns:
        id: not personal
        name: identity
        email: contact
        note: not personal
        created_at: not personal
    'odd "table"':
      activity: shop
      retention: {column: at, days: 30}
      columns: {id: not personal, at: not personal}
    gone:
      activity: shop
      columns: {id: not personal}
    empty_contacts:
      activity: shop
      columns: {id: not personal, fax: contact, ghost: contact}
"""


def make_system(tmp_path: Path, record: str = RECORD) -> Config:
    db = sqlite3.connect(tmp_path / "app.db")
    db.executescript(
        f"""
        CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, email TEXT, note TEXT,
                                created_at TEXT, referrer TEXT, phone_2 TEXT, colour TEXT);
        INSERT INTO customers VALUES
          (1, 'Ada', 'ada@mail.example', 'likes tea', datetime('now', '-400 days'),
           '{CANARY}', NULL, 'red'),
          (2, 'Ben', 'ben@mail.example', 'call +44 20 7946 0188', datetime('now', '-10 days'),
           NULL, NULL, 'blue'),
          (3, 'Cy', 'cy@mail.example', NULL, datetime('now', '-366 days'), NULL, NULL, 'red');
        CREATE TABLE {ODD} (id INTEGER PRIMARY KEY, at TEXT);
        INSERT INTO {ODD} VALUES (1, datetime('now', '-31 days')),
                                 (2, datetime('now', '-29 days'));
        CREATE TABLE empty_contacts (id INTEGER PRIMARY KEY, fax TEXT);
        INSERT INTO empty_contacts VALUES (1, NULL), (2, '');
        """
    )
    db.commit()
    db.close()
    (tmp_path / "record-of-processing.yml").write_text(record)
    (tmp_path / "upkeep.yml").write_text(
        textwrap.dedent("""\
        version: 1
        state_dir: state
        databases:
          - {name: app, engine: sqlite, path: app.db}
        """)
    )
    return load_config(tmp_path / "upkeep.yml")


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder()
    monkeypatch.setattr(compliance_audit, "report", recorder)
    return recorder


def audit(config: Config) -> compliance_audit.DatabaseAuditResult:
    [result] = compliance_audit.audit_databases(config)
    assert result.problem is None, result.problem
    return result


def test_coverage_counts_every_column_and_names_the_unclassified(tmp_path: Path) -> None:
    result = audit(make_system(tmp_path))
    assert result.audit is not None
    assert result.audit.columns == 5 + 3 + 2 + 2
    assert set(result.audit.unclassified) == {
        "customers.referrer",
        "customers.phone_2",
        "customers.colour",
    }
    assert result.audit.coverage == "9/12 columns classified"


def test_virtual_tables_are_audited_unless_sqlite_lacks_their_module(tmp_path: Path) -> None:
    config = make_system(tmp_path)
    with contextlib.closing(sqlite3.connect(config.databases[0].path)) as connection:
        connection.execute("CREATE VIRTUAL TABLE notes USING fts5(body)")
        # What a SpatiaLite database's spatial index is to a SQLite without the extension.
        connection.execute("PRAGMA writable_schema = ON")
        connection.execute(
            "INSERT INTO sqlite_schema (type, name, tbl_name, rootpage, sql) VALUES ('table',"
            " 'idx_geom', 'idx_geom', 0, 'CREATE VIRTUAL TABLE idx_geom\n  USING"
            " VirtualSpatialIndex()')"
        )
        connection.commit()
    result = audit(config)
    assert result.audit is not None
    unclassified = set(result.audit.unclassified)
    assert "notes.body" in unclassified  # the FTS5 table's own column, by its name
    assert "notes_content.c0" in unclassified  # where FTS5 keeps the text
    assert not [c for c in unclassified if c.startswith("idx_geom")]


def test_generated_columns_are_audited_like_the_others(tmp_path: Path) -> None:
    config = make_system(tmp_path)
    with contextlib.closing(sqlite3.connect(config.databases[0].path)) as connection:
        connection.execute(
            "CREATE TABLE people (first TEXT, last TEXT,"
            " full_name TEXT AS (first || ' ' || last) STORED,"
            " mail TEXT AS (lower(first) || '@mail.example') VIRTUAL)"
        )
        connection.commit()
    result = audit(config)
    assert result.audit is not None
    assert {c for c in result.audit.unclassified if c.startswith("people.")} == {
        "people.first",
        "people.last",
        "people.full_name",
        "people.mail",
    }


def test_upkeeps_own_canary_table_counts_as_classified_not_personal(tmp_path: Path) -> None:
    config = make_system(tmp_path)
    # The disaster drill's heartbeat table, as a backup or drill writes it into the database.
    with sqlite3.connect(config.databases[0].path) as connection:
        connection.execute(
            "CREATE TABLE upkeep_canary (id INTEGER PRIMARY KEY, written_at TEXT, written_by TEXT)"
        )
        connection.execute("INSERT INTO upkeep_canary VALUES (1, '2026-12-05T03:00:00Z', 'drill')")
    connection.close()
    result = audit(config)
    assert result.audit is not None
    assert result.audit.coverage == "12/15 columns classified"
    assert not [c for c in result.audit.unclassified if c.startswith("upkeep_canary")]


def test_undeclared_columns_looking_personal_are_found_by_name_and_by_values(
    tmp_path: Path, recorded: Recorder
) -> None:
    config = make_system(tmp_path)
    compliance_audit.record_databases([audit(config)], config.compliance)
    findings = recorded.findings()
    by_values = findings["compliance:undeclared:app:customers.referrer"]["message"]
    assert "1 of 1 sampled values hold e-mail addresses" in by_values
    by_name = findings["compliance:undeclared:app:customers.phone_2"]["message"]
    assert "its name says phone numbers" in by_name
    assert "compliance:undeclared:app:customers.colour" not in findings  # unclassified only
    marked = findings["compliance:not-personal:app:customers.note"]["message"]
    assert "1 of 2 sampled values hold phone numbers" in marked
    assert "marks it not personal" in marked
    checks = recorded.checks()
    assert checks["compliance:app:coverage"]["status"] == "warn"
    assert checks["compliance:app:personal-columns"]["value"] == 3


def test_rows_past_retention_are_counted_with_the_delete_that_removes_exactly_them(
    tmp_path: Path, recorded: Recorder
) -> None:
    config = make_system(tmp_path)
    before = (tmp_path / "app.db").read_bytes()
    result = audit(config)
    assert result.audit is not None
    counts = {c.table: c for c in result.audit.retention}
    assert counts["customers"].rows == 2
    assert counts['odd "table"'].rows == 1
    delete = counts['odd "table"'].delete_sql
    assert delete.startswith(f'DELETE FROM {ODD} WHERE julianday("at")')
    assert (tmp_path / "app.db").read_bytes() == before  # proposed, never run
    # Run on a copy, the proposed statements delete exactly the counted rows.
    shutil.copy(tmp_path / "app.db", tmp_path / "copy.db")
    with sqlite3.connect(tmp_path / "copy.db") as db:
        assert db.execute(counts["customers"].delete_sql).rowcount == 2
        assert db.execute(delete).rowcount == 1
        assert [row[0] for row in db.execute("SELECT id FROM customers")] == [2]
    compliance_audit.record_databases([result], config.compliance)
    finding = recorded.findings()["compliance:retention:app:customers"]["message"]
    assert finding.startswith("2 rows of customers older than its retention of 365 days")
    assert counts["customers"].delete_sql in finding
    assert recorded.checks()["compliance:app:retention"]["value"] == 3


def test_stale_entries_name_missing_tables_columns_empty_columns_and_categories(
    tmp_path: Path, recorded: Recorder
) -> None:
    config = make_system(tmp_path)
    compliance_audit.record_databases([audit(config)], config.compliance)
    findings = recorded.findings()
    assert "no such table" in findings["compliance:stale:app:gone"]["message"]
    assert "no such column" in findings["compliance:stale:app:empty_contacts.ghost"]["message"]
    assert "holds no value" in findings["compliance:stale:app:empty_contacts.fax"]["message"]
    assert "compliance:stale-category:health" in findings
    assert "compliance:stale-category:contact" not in findings
    assert recorded.checks()["compliance:app:stale"]["value"] == 3
    assert recorded.checks()["compliance:categories"]["status"] == "warn"


def test_a_record_that_matches_the_data_is_all_ok(tmp_path: Path, recorded: Recorder) -> None:
    config = make_system(tmp_path, RECORD.split("databases:\n")[0] + "databases: {}\n")
    db = sqlite3.connect(tmp_path / "app.db")
    db.executescript(f"DROP TABLE customers; DROP TABLE {ODD}; DROP TABLE empty_contacts;")
    db.executescript(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, email TEXT, name TEXT, at TEXT);"
        "INSERT INTO t VALUES (1, 'a@mail.example', 'Ada', datetime('now')), (2, NULL, NULL, NULL);"
    )
    db.close()
    (tmp_path / "record-of-processing.yml").write_text(
        RECORD.split("databases:\n")[0]
        .replace(", health]", "]")
        .replace("  - {name: health, description: allergies, special: true}\n", "")
        + "databases:\n  app:\n    t:\n      activity: shop\n"
        "      retention: {column: at, days: 30}\n"
        "      columns: {id: not personal, email: contact, name: identity, at: not personal}\n"
    )
    config = load_config(tmp_path / "upkeep.yml")
    compliance_audit.record_databases([audit(config)], config.compliance)
    statuses = {name: check["status"] for name, check in recorded.checks().items()}
    assert statuses == {
        "compliance:app:coverage": "ok",
        "compliance:app:personal-columns": "ok",
        "compliance:app:retention": "ok",
        "compliance:app:stale": "ok",
        "compliance:categories": "ok",
    }
    assert recorded.checks()["compliance:app:coverage"]["message"] == "4/4 columns classified"
    assert recorded.findings() == {}


def test_no_sampled_value_reaches_what_is_recorded(tmp_path: Path, recorded: Recorder) -> None:
    config = make_system(tmp_path)
    results = compliance_audit.audit_databases(config)
    compliance_audit.record_databases(results, config.compliance)
    compliance_audit.summarize(results)
    shown = repr(recorded.records)
    assert recorded.findings()  # it did find the canary's column
    for value in (CANARY, "ada@mail.example", "7946 0188", "likes tea"):
        assert value not in shown


def test_a_database_that_cannot_be_opened_fails_its_connect_check(
    tmp_path: Path, recorded: Recorder
) -> None:
    config = make_system(tmp_path)
    (tmp_path / "app.db").unlink()
    results = compliance_audit.audit_databases(config)
    compliance_audit.record_databases(results, config.compliance)
    check = recorded.checks()["compliance:app:connect"]
    assert check["status"] == "fail" and "no such database file" in check["message"]
    assert "compliance:categories" not in recorded.checks()  # not known without the data


def test_an_empty_file_is_not_audited_as_a_database(tmp_path: Path, recorded: Recorder) -> None:
    # SQLite opens an empty file as a new database: the audit found no table and said so only
    # as stale entries of the record.
    config = make_system(tmp_path)
    (tmp_path / "app.db").write_bytes(b"")
    results = compliance_audit.audit_databases(config)
    compliance_audit.record_databases(results, config.compliance)
    check = recorded.checks()["compliance:app:connect"]
    assert check["status"] == "fail"
    assert check["message"] == (
        f"cannot be audited: {tmp_path / 'app.db'}: an empty file, not a SQLite database"
    )
    assert "compliance:app:stale" not in recorded.checks()


def test_without_a_record_the_record_check_fails(tmp_path: Path, recorded: Recorder) -> None:
    config = make_system(tmp_path)
    (tmp_path / "record-of-processing.yml").unlink()
    config = load_config(tmp_path / "upkeep.yml")
    assert compliance_audit.record_record(config.compliance, len(config.databases)) is False
    check = recorded.checks()["compliance:record"]
    assert check["status"] == "fail" and "no record of processing" in check["message"]


def test_without_a_record_or_a_database_the_record_check_warns(
    tmp_path: Path, recorded: Recorder
) -> None:
    (tmp_path / "upkeep.yml").write_text("version: 1\n")
    config = load_config(tmp_path / "upkeep.yml")
    assert compliance_audit.record_record(config.compliance, len(config.databases)) is False
    check = recorded.checks()["compliance:record"]
    assert check["status"] == "warn"
    assert check["message"].endswith(
        "record-of-processing.yml: no database configured (see the runbook, section 1)"
    )


def test_with_no_database_and_no_test_subject_each_check_says_so(
    tmp_path: Path, recorded: Recorder
) -> None:
    (tmp_path / "upkeep.yml").write_text("version: 1\n")
    config = load_config(tmp_path / "upkeep.yml")
    results = compliance_audit.audit_databases(config)
    compliance_audit.record_databases(results, config.compliance)
    compliance_audit.record_subject_lookup(config)
    compliance_audit.summarize(results)
    checks = recorded.checks()
    assert checks["compliance:databases"]["message"] == "no database configured"
    lookup = checks["compliance:subject-lookup"]
    assert lookup["status"] == "warn" and lookup["message"].startswith("not configured")
    assert recorded.summaries() == ["no database configured"]


def test_retention_on_seconds_since_1970_and_on_iso_text(tmp_path: Path) -> None:
    record = RECORD.split("databases:\n")[0] + textwrap.dedent("""\
        databases:
          app:
            visits:
              activity: shop
              retention: {column: at, days: 30}
              columns: {id: not personal, at: not personal}
            clicks:
              activity: shop
              retention: {column: at, days: 30}
              columns: {id: not personal, at: not personal}
        """)
    config = make_system(tmp_path, record)
    with sqlite3.connect(tmp_path / "app.db") as db:
        db.executescript(
            "CREATE TABLE visits (id INTEGER PRIMARY KEY, at INTEGER);"
            "INSERT INTO visits VALUES (1, CAST(strftime('%s', 'now', '-31 days') AS INTEGER)),"
            " (2, CAST(strftime('%s', 'now', '-29 days') AS INTEGER)),"
            " (3, CAST(strftime('%s', 'now', '-400 days') AS INTEGER));"
            "CREATE TABLE clicks (id INTEGER PRIMARY KEY, at TEXT);"
            "INSERT INTO clicks VALUES (1, '2020-01-01T10:00:00'), (2, datetime('now'));"
        )
    result = audit(config)
    assert result.audit is not None
    counts = {c.table: c.rows for c in result.audit.retention}
    assert counts == {"visits": 2, "clicks": 1}


def test_a_database_error_loses_the_row_values_and_query_text_it_quotes() -> None:
    assert (
        without_values(
            'db: ERROR:  invalid input syntax for type date: "1990-13-45 Ada"\nLINE 1: SELECT ...'
        )
        == "db: ERROR:  invalid input syntax for type date: «value»"
    )
    assert (
        without_values(
            "db: ERROR:  duplicate key\nDETAIL:  Key (email)=(ada@mail.example) already exists."
        )
        == "db: ERROR:  duplicate key"
    )
