"""The compliance audit and the data-subject lookup on a real PostgreSQL database: columns of
ordinary and partitioned tables in two schemas read from the catalog (partitions and system
schemas left out), an undeclared personal column found by its values, rows past retention
counted on a timestamptz column with a DELETE that deletes exactly them, the synthetic subject's
rows all found, and the yearly runbook end to end through the CLI; nothing of the database
changes."""

# ruff: noqa: F811  (the session fixture is imported, then named by the tests that use it)

from __future__ import annotations

import itertools
import os
import shutil
import textwrap
from pathlib import Path

import pytest
from helpers.owner_traps import (
    CAST_TRAP,
    JSON_CAST_TRAP,
    plant_owner_traps,
    spring_by_hand,
    sprung,
)
from helpers.pg_cluster import PostgresServer
from helpers.project import REPO, Project
from helpers.recorder import Recorder

from upkeep.compliance.dialects.postgresql import PostgreSQLDialect
from upkeep.compliance.subject_lookup import find_subject_rows
from upkeep.config import Config, load_config
from upkeep.dbreview.postgresql import PostgreSQLReview
from upkeep.procedures import compliance_audit

pytestmark = pytest.mark.slow
_names = itertools.count(1)
SUBJECT = "pat.subject-9@dsr-test.example"
SCHEMA = f"""
CREATE SCHEMA crm;
CREATE TABLE customers (id serial PRIMARY KEY, email text NOT NULL, phone text, photo bytea,
                        created_at timestamptz NOT NULL);
INSERT INTO customers (email, phone, created_at) VALUES
  ('{SUBJECT}', '+44 20 7946 0123', now() - interval '10 days'),
  ('old.one@mail.example', NULL, now() - interval '800 days'),
  ('old.two@mail.example', NULL, now() - interval '731 days'),
  ('new.one@mail.example', NULL, now());
CREATE TABLE crm.notes (id bigint PRIMARY KEY, customer_id int, body text, contact_ip inet);
INSERT INTO crm.notes VALUES (1, 1, 'asked about {SUBJECT}', '198.51.100.7'),
                             (2, 2, 'parcel late', '203.0.113.9');
CREATE TABLE events (at timestamptz NOT NULL, kind text) PARTITION BY RANGE (at);
CREATE TABLE events_old PARTITION OF events FOR VALUES FROM ('2000-01-01') TO ('2026-01-01');
CREATE TABLE events_new PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2100-01-01');
INSERT INTO events VALUES ('2020-05-01', 'login'), (now(), 'login');
CREATE TABLE visits (id int PRIMARY KEY, at bigint);
INSERT INTO visits VALUES (1, extract(epoch FROM now() - interval '40 days')::bigint),
                          (2, extract(epoch FROM now())::bigint);
CREATE TABLE clicks (id int PRIMARY KEY, at text);
INSERT INTO clicks VALUES (1, '2020-01-01T10:00:00Z'), (2, now()::text), (3, '2019-02-02');
CREATE TABLE imports (id int PRIMARY KEY, at text);
INSERT INTO imports VALUES (1, 'last Tuesday');
"""
RECORD = """\
controller: {name: Shop Ltd, contact: privacy@shop.example}
categories:
  - {name: contact, description: e-mail addresses and phones}
  - {name: correspondence, description: notes}
activities:
  - name: shop
    title: Shop
    purposes: [selling]
    lawful_basis: contract
    data_subjects: [customers]
    categories: [contact, correspondence]
    retention: 2 years
    security_measures: [access by role]
databases:
  shop:
    customers:
      activity: shop
      retention: {column: created_at, days: 730}
      columns:
        id: not personal
        email: contact
        phone: contact
        photo: not personal
        created_at: not personal
    crm.notes:
      activity: shop
      columns: {id: not personal, customer_id: not personal, body: correspondence}
    events:
      activity: shop
      retention: {column: at, days: 365}
      columns: {at: not personal, kind: not personal}
    visits:
      activity: shop
      retention: {column: at, days: 30}
      columns: {id: not personal, at: not personal}
    clicks:
      activity: shop
      retention: {column: at, days: 30}
      columns: {id: not personal, at: not personal}
    imports:
      activity: shop
      retention: {column: at, days: 30}
      columns: {id: not personal, at: not personal}
"""


def make_system(
    server: PostgresServer, root: Path, *, superuser: bool = False
) -> tuple[Config, str]:
    """A project whose database `shop` the test role owns; read as that role, or as the
    server's superuser over the socket when `superuser`."""
    dbname = f"compliance_{os.getpid()}_{next(_names)}"
    server.create_database(dbname)
    server.psql(f"SET ROLE {server.role};\n{SCHEMA}", dbname=dbname)
    (root / "record-of-processing.yml").write_text(RECORD)
    login = (
        [f'host: "{server.socket_dir}"', "user: postgres"]
        if superuser
        else [
            f"host: {server.host}",
            f"user: {server.role}",
            f"password: file:{server.password_file}",
        ]
    )
    (root / "upkeep.yml").write_text(
        textwrap.dedent(f"""\
        version: 1
        evidence_dir: evidence
        state_dir: var/state
        databases:
          - name: shop
            engine: postgresql
            port: {server.port}
            dbname: {dbname}
            {(chr(10) + " " * 12).join(login)}
        compliance:
          test_subject:
            identifier: {SUBJECT}
            rows: {{shop.customers: 1, shop.crm.notes: 1}}
        """)
    )
    return load_config(root / "upkeep.yml"), dbname


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder()
    monkeypatch.setattr(compliance_audit, "report", recorder)
    return recorder


def test_the_audit_on_postgresql(
    postgres_server: PostgresServer, tmp_path: Path, recorded: Recorder
) -> None:
    config, dbname = make_system(postgres_server, tmp_path)
    before = postgres_server.psql("SELECT count(*) FROM customers", dbname=dbname)
    [result] = compliance_audit.audit_databases(config)
    assert result.audit is not None, result.problem
    audit = result.audit
    assert audit.columns == 5 + 4 + 2 + 2 + 2 + 2  # events' partitions are not counted again
    assert audit.unclassified == ("crm.notes.contact_ip",)
    [undeclared] = audit.personal
    assert (undeclared.label, undeclared.by_name, undeclared.by_values) == (
        "crm.notes.contact_ip",
        "ip",
        (("ip", 2),),
    )
    counts = {c.table: c for c in audit.retention}
    assert (counts["customers"].rows, counts["events"].rows) == (2, 1)
    assert (counts["visits"].rows, counts["clicks"].rows) == (1, 2)  # epoch seconds, text
    assert counts["customers"].delete_sql == (
        'DELETE FROM "public"."customers" WHERE "created_at" < now() - interval \'730 days\';'
    )
    assert audit.stale == ()
    [problem] = audit.problems  # a date PostgreSQL cannot read: that table is not counted
    assert problem.startswith("counting rows past retention in imports: ")
    assert "invalid input syntax" in problem and "«value»" in problem
    assert "last Tuesday" not in problem and "imports" not in counts  # no value of a row
    compliance_audit.record_databases([result], config.compliance)
    compliance_audit.record_subject_lookup(config)
    checks = recorded.checks()
    coverage = checks["compliance:shop:coverage"]
    assert coverage["status"] == "warn"
    assert coverage["message"] == (
        "16/17 columns classified; not in the record: crm.notes.contact_ip; 1 query failed"
    )
    assert "compliance:shop:query" in recorded.findings()
    assert checks["compliance:subject-lookup"]["status"] == "ok", checks[
        "compliance:subject-lookup"
    ]["message"]
    assert postgres_server.psql("SELECT count(*) FROM customers", dbname=dbname) == before
    # The proposed statement, run in a transaction that is rolled back, deletes exactly them.
    left = postgres_server.psql(
        f"BEGIN; {counts['customers'].delete_sql} SELECT string_agg(email, ',' ORDER BY id) "
        "FROM customers; ROLLBACK;",
        dbname=dbname,
    )
    assert left == f"{SUBJECT},new.one@mail.example"


def test_the_runbook_and_the_lookup_command_on_postgresql(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    config, dbname = make_system(postgres_server, tmp_path)
    (tmp_path / "runbooks" / "yearly").mkdir(parents=True)
    shutil.copy(
        REPO / "runbooks" / "yearly" / "compliance-audit.ipynb", tmp_path / "runbooks" / "yearly"
    )
    project = Project(tmp_path)
    found = project.upkeep("subject", "find", SUBJECT.upper())
    assert found.code == 0, found.text
    assert found.out.splitlines()[1:3] == [
        line
        for line in found.out.splitlines()[1:3]
        if line.split()[:2] in (["shop", "customers"], ["shop", "crm.notes"])
    ]
    assert found.out.splitlines()[-1] == "2 rows in 2 tables"

    result = project.upkeep("run", "compliance-audit")
    assert result.code == 0, result.text
    (record,) = project.records()
    assert record["status"] == "warn"
    checks = {c["name"]: c for c in record["checks"]}
    assert checks["compliance:shop:retention"]["value"] == 6
    assert checks["compliance:subject-lookup"]["status"] == "ok"
    assert checks["compliance:evidence"]["status"] == "ok"
    for path in project.evidence_files():
        text = path.read_text(errors="replace")
        assert "198.51.100.7" not in text and "old.one@mail.example" not in text, path
        assert postgres_server.password not in text, path


def _standard_strings_off(server: PostgresServer, dbname: str) -> None:
    """What the database's owner may do: its sessions read a backslash in '...' as an escape."""
    server.psql(
        f"SET ROLE {server.role}; ALTER DATABASE {dbname} SET standard_conforming_strings = off",
        dbname=dbname,
    )


def test_a_backslash_and_quote_in_the_identifier_are_data_where_standard_strings_are_off(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    config, dbname = make_system(postgres_server, tmp_path)
    postgres_server.psql(
        "INSERT INTO crm.notes VALUES (3, 1, 'wrote from back\\slash@dsr-test.example', NULL)",
        dbname=dbname,
    )
    _standard_strings_off(postgres_server, dbname)
    marker = tmp_path / "pwned"
    review = PostgreSQLReview(config.database("shop"), timeout_s=30)
    try:
        # Read as `'x\'' \! touch ...`, the quote would end the literal and psql run the shell.
        injected = find_subject_rows(review, PostgreSQLDialect(), f"x\\' \\! touch {marker} #")
        found = find_subject_rows(review, PostgreSQLDialect(), "BACK\\SLASH@dsr-test.example")
        setting = review.rows("SELECT current_setting('standard_conforming_strings') AS s")
    finally:
        review.close()
    assert injected == [] and not marker.exists()
    assert [(row.table, row.key) for row in found] == [("crm.notes", {"id": 3})]
    assert setting == [{"s": "on"}]  # the review's session turns them on again


def test_a_postgresql_literal_reads_the_same_whatever_standard_conforming_strings_says(
    postgres_server: PostgresServer,
) -> None:
    text = "a\\b\\'c'' \\\\ d\\"
    for setting in ("on", "off"):
        read = postgres_server.psql(
            f"SET standard_conforming_strings = {setting};\n"
            f"SELECT {PostgreSQLDialect().literal(text)};"
        )
        assert read == text, setting


def test_functions_the_database_owner_planted_never_run_as_the_superuser_auditing_it(
    postgres_server: PostgresServer, tmp_path: Path, recorded: Recorder
) -> None:
    """The owner's `lower` and `<>` on text fit the audit's and the lookup's calls better than
    the built-in ones (public first in the database's search path): run by the superuser they
    would make the owner a superuser and turn the session's transactions read-write."""
    config, dbname = make_system(postgres_server, tmp_path, superuser=True)
    [before] = compliance_audit.audit_databases(config)
    owner = plant_owner_traps(postgres_server, dbname)

    [after] = compliance_audit.audit_databases(config)
    compliance_audit.record_subject_lookup(config)
    with PostgreSQLReview(config.database("shop"), timeout_s=30) as review:
        found = find_subject_rows(review, PostgreSQLDialect(), SUBJECT)

    assert sprung(postgres_server, dbname, owner) == set()
    assert after.audit is not None and after.audit == before.audit
    assert recorded.checks()["compliance:subject-lookup"]["status"] == "ok"
    assert sorted((row.table, row.columns) for row in found) == [
        ("crm.notes", ("body",)),
        ("customers", ("email",)),
    ]
    # The traps are real: a superuser's session that searches public springs every one.
    assert spring_by_hand(postgres_server, dbname, owner) == {"superuser", "write", "program"}


def test_a_cast_the_database_owner_gave_its_own_type_never_runs_as_the_superuser_auditing_it(
    postgres_server: PostgresServer, tmp_path: Path, recorded: Recorder
) -> None:
    config, dbname = make_system(postgres_server, tmp_path, superuser=True)
    owner = plant_owner_traps(postgres_server, dbname)
    postgres_server.psql(f"SET ROLE {owner};\n{CAST_TRAP}", dbname=dbname)

    [result] = compliance_audit.audit_databases(config)
    with PostgreSQLReview(config.database("shop"), timeout_s=30) as review:
        found = find_subject_rows(review, PostgreSQLDialect(), "CROSS")

    assert sprung(postgres_server, dbname, owner) == set()
    assert result.audit is not None and "moods.mood" in result.audit.unclassified
    assert [(row.table, row.key, row.columns) for row in found] == [("moods", {"id": 2}, ("mood",))]
    # The trap is real: a superuser's cast of the column to text springs it.
    cast = "SET search_path = pg_catalog; SELECT mood::text FROM public.moods"
    assert spring_by_hand(postgres_server, dbname, owner, cast) == {"superuser", "write", "program"}


def test_a_cast_to_json_the_owner_gave_its_type_never_runs_when_rows_are_read_back(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    # An access request's answer reads every column of a row back as JSON: a value of the
    # owner's own type called the owner's cast to json, as the superuser.
    config, dbname = make_system(postgres_server, tmp_path, superuser=True)
    owner = plant_owner_traps(postgres_server, dbname)
    postgres_server.psql(f"SET ROLE {owner};\n{CAST_TRAP}{JSON_CAST_TRAP}", dbname=dbname)

    with PostgreSQLReview(config.database("shop"), timeout_s=30) as review:
        found = find_subject_rows(review, PostgreSQLDialect(), "CROSS", with_rows=True)

    assert sprung(postgres_server, dbname, owner) == set()
    assert [(row.table, row.row) for row in found] == [("moods", {"id": 2, "mood": "cross"})]
    # The trap is real: a superuser's to_json of the column springs it.
    read = "SET search_path = pg_catalog; SELECT to_json(mood) FROM public.moods"
    assert spring_by_hand(postgres_server, dbname, owner, read) == {"superuser", "write", "program"}
