"""The database review against a real PostgreSQL cluster (see pg_cluster.py): declared, NOT
VALID and logical relations with known orphans, an invalid index, a table without a primary key,
a sequence near its limit, amcheck, a statement that hits the timeout; and read-only throughout."""

# ruff: noqa: F811  (the session fixture is imported, then named by the tests that use it)

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

import pytest
from helpers.owner_traps import (
    CAST_TRAP,
    JSON_CAST_TRAP,
    plant_owner_traps,
    spring_by_hand,
    sprung,
)
from helpers.pg_cluster import PostgresServer, free_port
from helpers.recorder import Recorder

from upkeep.config import Database
from upkeep.config.database_review import DatabaseReview, LogicalRelation
from upkeep.dbreview import postgresql
from upkeep.dbreview.interface import QueryError
from upkeep.dbreview.postgresql import SUPERUSER_NOTE, PostgreSQLReview
from upkeep.procedures import database_review
from upkeep.procedures.database_review import DatabaseReviewResult, review_database
from upkeep.records import Status

pytestmark = pytest.mark.slow  # a real PostgreSQL cluster

_names = itertools.count(1)

# Run as the test role (SET ROLE), after the superuser part below.
SCHEMA = """
CREATE TABLE customers (id integer PRIMARY KEY, name text NOT NULL);
CREATE TABLE coupons (code text PRIMARY KEY);
CREATE TABLE orders (
    id bigserial PRIMARY KEY,
    customer_id integer REFERENCES customers(id) ON DELETE CASCADE,
    coupon text);
CREATE TABLE invoices (id integer PRIMARY KEY, order_id bigint);
CREATE TABLE event_log (at timestamptz NOT NULL, what text);
CREATE INDEX orders_coupon ON orders (coupon);
CREATE SEQUENCE ticket_numbers AS integer;
SELECT setval('ticket_numbers', 2000000000);
INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(1, 50) g;
INSERT INTO coupons VALUES ('SPRING'), ('SUMMER');
INSERT INTO orders (customer_id, coupon)
  SELECT 1 + g % 50, CASE g % 10 WHEN 0 THEN 'SPRING' WHEN 1 THEN 'SUMMER' END
  FROM generate_series(1, 500) g;
INSERT INTO orders (customer_id, coupon) VALUES (NULL, 'WINTER'), (3, 'AUTUMN');
INSERT INTO invoices SELECT g, g FROM generate_series(1, 100) g;
INSERT INTO invoices VALUES (901, 99901), (902, 99902), (903, 99903), (904, 99904);
ALTER TABLE invoices ADD CONSTRAINT invoices_order FOREIGN KEY (order_id)
  REFERENCES orders(id) ON DELETE SET NULL NOT VALID;
INSERT INTO event_log VALUES (now(), 'created');
CREATE INDEX invoices_by_order ON invoices (order_id);
CREATE INDEX invoices_order_again ON invoices (order_id);
CREATE TABLE readings (id integer PRIMARY KEY, sensor integer NOT NULL);
INSERT INTO readings SELECT g, g * 7 FROM generate_series(1, 70000) g;
CREATE INDEX readings_sensor ON readings (sensor);
CREATE TABLE bloated (id integer PRIMARY KEY, payload text NOT NULL);
INSERT INTO bloated SELECT g, repeat('x', 100) FROM generate_series(1, 100000) g;
DELETE FROM bloated WHERE id % 5 <> 0;
CREATE TABLE visits (id integer, day date, PRIMARY KEY (id, day)) PARTITION BY RANGE (day);
CREATE TABLE visits_2026 PARTITION OF visits FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO visits SELECT g, date '2026-01-01' + g % 300 FROM generate_series(1, 1000) g;
ANALYZE;
"""

# As the superuser: orders of customers that do not exist (a declared, validated key bypassed,
# as a restore with triggers off or a replica role would), an index marked invalid as a failed
# CREATE INDEX CONCURRENTLY leaves it, and amcheck available to the test role.
SUPERUSER = """
SET session_replication_role = replica;
INSERT INTO orders (customer_id) VALUES (777), (778);
RESET session_replication_role;
UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'orders_coupon'::regclass;
CREATE EXTENSION amcheck;
GRANT EXECUTE ON FUNCTION bt_index_check(regclass) TO {role};
"""

COUPONS = LogicalRelation("pg", None, "orders", "coupon", None, "coupons", "code", "set null")


def new_database(server: PostgresServer, amcheck: bool = True) -> str:
    name = f"review_{os.getpid()}_{next(_names)}"
    server.create_database(name)
    server.psql(f"SET ROLE {server.role};\n{SCHEMA}", dbname=name)
    superuser = SUPERUSER.format(role=server.role)
    if not amcheck:
        superuser = superuser.split("CREATE EXTENSION")[0]
    server.psql(superuser, dbname=name)
    return name


def review(server: PostgresServer, dbname: str, tmp_path: Path, **settings) -> DatabaseReviewResult:
    database = server.database(dbname, name="pg")
    return review_database(
        database, DatabaseReview(relations=(COUPONS,), **settings), tmp_path / "state"
    )


def snapshot(server: PostgresServer, dbname: str) -> str:
    """Every table's row count and the md5 of its rows: equal means unchanged."""
    return server.psql(
        "SELECT string_agg(format('%s %s', t, (xpath('/row/c/text()', query_to_xml(format("
        "'SELECT count(*) || md5(coalesce(string_agg(x::text, '','' ORDER BY x::text), '''')) "
        "AS c FROM %s x', t), false, true, '')))[1]), E'\\n' ORDER BY t) "
        "FROM (SELECT oid::regclass::text AS t FROM pg_class WHERE relkind = 'r' "
        "AND relnamespace = 'public'::regnamespace) AS tables",
        dbname=dbname,
    )


def test_every_relation_is_audited_with_exact_orphans_samples_and_cleanup(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    dbname = new_database(postgres_server)
    result = review(postgres_server, dbname, tmp_path)
    assert result.problem is None and result.audit is not None
    audit = {a.relation.label: a for a in result.audit.relations}
    assert result.audit.coverage == "3/3 relations checked (2 declared, 1 logical)"
    assert {label: a.orphans for label, a in audit.items()} == {
        "orders.customer_id": 2,
        "invoices.order_id": 4,
        "orders.coupon": 2,
    }
    assert sorted(audit["orders.customer_id"].samples) == [777, 778]
    assert sorted(audit["invoices.order_id"].samples) == [99901, 99902, 99903, 99904]
    assert sorted(audit["orders.coupon"].samples) == ["AUTUMN", "WINTER"]
    assert audit["invoices.order_id"].relation.not_valid
    assert not audit["orders.customer_id"].relation.not_valid
    assert not audit["orders.coupon"].relation.declared
    # Cleanup follows ON DELETE: CASCADE deletes, SET NULL (declared or logical) updates.
    # ONLY: a key holds for its own table's rows, not for those of an inheritance child.
    assert audit["orders.customer_id"].cleanup_sql.startswith('DELETE FROM ONLY "public"."orders"')
    assert audit["invoices.order_id"].cleanup_sql.startswith(
        'UPDATE ONLY "public"."invoices" SET "order_id" = NULL WHERE'
    )
    assert audit["orders.coupon"].cleanup_sql.startswith('UPDATE "orders" SET "coupon" = NULL')


def test_rows_of_an_inheritance_child_are_not_orphans_of_its_parents_key(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    """A foreign key holds for the rows of the table it is declared on: an archive table that
    inherits the columns (old-style partitioning) has rows the key never covered."""
    dbname = f"review_{os.getpid()}_{next(_names)}"
    postgres_server.create_database(dbname)
    postgres_server.psql(
        f"SET ROLE {postgres_server.role};\n"
        "CREATE TABLE customers (id integer PRIMARY KEY);\n"
        "CREATE TABLE orders (id integer PRIMARY KEY, customer_id integer REFERENCES customers);\n"
        "CREATE TABLE orders_archive () INHERITS (orders);\n"
        "INSERT INTO customers VALUES (1);\n"
        "INSERT INTO orders VALUES (1, 1);\n"
        "INSERT INTO orders_archive VALUES (2, 99), (3, 98);  -- customers long deleted\n",
        dbname=dbname,
    )
    result = review(postgres_server, dbname, tmp_path)
    assert result.audit is not None
    (audit,) = [a for a in result.audit.relations if a.relation.declared]
    assert (audit.relation.label, audit.orphans) == ("orders.customer_id", 0)
    postgres_server.psql(audit.cleanup_sql, dbname=dbname)
    assert postgres_server.psql("SELECT count(*) FROM orders_archive", dbname=dbname) == "2"


def test_the_proposed_cleanup_removes_exactly_the_orphans(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    dbname = new_database(postgres_server)
    first = review(postgres_server, dbname, tmp_path)
    assert first.audit is not None
    for relation_audit in first.audit.relations:
        postgres_server.psql(relation_audit.cleanup_sql, dbname=dbname)
    again = review(postgres_server, dbname, tmp_path)
    assert again.audit is not None and again.audit.orphans == 0
    remaining = postgres_server.psql("SELECT count(*) FROM orders", dbname=dbname)
    assert int(remaining) == 504 - 2  # the two orders of missing customers, nothing else


def test_health_scripts_find_each_planted_problem(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    dbname = new_database(postgres_server)
    health = {o.script.name: o for o in review(postgres_server, dbname, tmp_path).health}
    assert health["invalid-indexes"].status is Status.WARN
    assert "public.orders_coupon" in health["invalid-indexes"].message
    assert health["tables-without-primary-key"].status is Status.WARN
    assert "table=public.event_log" in health["tables-without-primary-key"].message
    assert health["tables-without-primary-key"].value == 1
    sequence = health["sequences-near-max"]
    assert sequence.status is Status.FAIL and sequence.value == pytest.approx(93.13, abs=0.01)
    assert "public.ticket_numbers" in sequence.message
    assert health["foreign-keys-without-index"].status is Status.WARN
    assert "orders_customer_id_fkey" in health["foreign-keys-without-index"].message
    assert health["amcheck"].status is Status.OK
    # Every index with storage, the partition's primary key among them; not the partitioned
    # table's own (no storage: bt_index_check refuses it).
    assert "B-tree index(es) checked" in health["amcheck"].message
    duplicates = health["duplicate-indexes"]
    assert duplicates.status is Status.WARN and duplicates.value == 1
    assert "indexes=invoices_by_order, invoices_order_again" in duplicates.message
    unused = health["unused-indexes"]  # readings_sensor: 1.5 MiB, never scanned; not its key
    assert unused.status is Status.WARN and unused.value == 1
    assert "index=public.readings_sensor" in unused.message
    for name in ("xid-wraparound", "long-running-queries", "idle-in-transaction"):
        assert health[name].status is Status.OK, health[name].message
    # The deleted rows are dead until a vacuum; whether the statistics show them yet depends on
    # when the deleting session's backend flushed them: only that the script ran is certain
    # (with none shown yet, its message is the check's name alone: no ": " and no table).
    dead = health["dead-tuples"]
    assert dead.message.startswith("dead-row share of the worst table"), dead.message
    assert dead.status is not Status.ERROR and "error" not in dead.message.lower()
    bloat = health["table-bloat"]  # four rows in five of a 14 MiB table deleted
    assert bloat.status is not Status.OK and 70 <= (bloat.value or 0) <= 85, bloat.message
    assert "table=public.bloated" in bloat.message  # regclass named from pg_catalog's view
    index_bloat = health["index-bloat"]  # no index of 10 MiB here: it runs and finds none
    assert index_bloat.status is Status.OK and index_bloat.value == 0, index_bloat.message
    assert "row-counts" not in health  # a query the backups run, not a check


def test_amcheck_says_when_it_is_not_installed(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    dbname = new_database(postgres_server, amcheck=False)
    health = {o.script.name: o for o in review(postgres_server, dbname, tmp_path).health}
    assert health["amcheck"].status is Status.OK
    assert "amcheck is not installed in this database" in health["amcheck"].message


def test_a_server_warning_is_reported_as_a_warning_not_as_a_failed_review(
    postgres_server: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After an OS upgrade the server warns, on every connection, that the database's
    collation version does not match: every query still answers."""
    dbname = new_database(postgres_server, amcheck=False)
    postgres_server.psql(
        f"UPDATE pg_database SET datcollversion = '153.0' WHERE datname = '{dbname}'",
        dbname="postgres",
    )
    result = review(postgres_server, dbname, tmp_path)
    assert result.problem is None and result.audit is not None
    assert {o.script.name for o in result.health} >= {"amcheck", "tables-without-primary-key"}
    # "has a collation version mismatch", or under the C locale of the test cluster "has no
    # actual collation version, but a version was recorded": a WARNING either way.
    (note,) = result.server_notes
    assert note.startswith(f'WARNING: database "{dbname}" has') and "collation version" in note
    recorded = Recorder()
    monkeypatch.setattr(database_review, "report", recorded)
    database_review.record_audits([result], DatabaseReview())
    check = recorded.checks()["review:pg:server"]
    assert check["status"] == Status.WARN
    assert check["message"] == f"the server warned: {note}"
    assert "review:pg:connect" not in recorded.checks()


def test_a_slow_or_broken_script_is_reported_and_the_others_still_run(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    dbname = new_database(postgres_server)
    own = tmp_path / "scripts" / "postgresql"
    own.mkdir(parents=True)
    (own / "slow.sql").write_text(
        "-- Check: a statement that sleeps\n-- Warn: 1\nSELECT pg_sleep(30);\n"
    )
    (own / "broken.sql").write_text("-- Check: a typo\n-- Warn: 1\nSELEC 1;\n")
    started = time.monotonic()
    result = review(
        postgres_server, dbname, tmp_path, statement_timeout_s=1.0, scripts_dir=tmp_path / "scripts"
    )
    assert time.monotonic() - started < 20  # cancelled after 1 s, not 30
    health = {o.script.name: o for o in result.health}
    assert health["slow"].status is Status.FAIL and health["slow"].timed_out
    assert "slow.sql: cancelled after the statement timeout of 1 s" in health["slow"].message
    assert health["broken"].status is Status.FAIL
    assert (
        "broken.sql failed" in health["broken"].message
        and "syntax error" in health["broken"].message
    )
    assert health["invalid-indexes"].status is Status.WARN  # after both, still run
    assert result.audit is not None and result.audit.checked == 3


def test_a_server_that_never_answers_stops_psql_instead_of_hanging(
    postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The watchdog fires (timeout + grace) after a query starts: made shorter here than the
    # server's own statement_timeout, it stands for a server that has gone silent.
    monkeypatch.setattr(postgresql, "ANSWER_GRACE_S", -1.5)
    database = postgres_server.database(name="pg")
    with PostgreSQLReview(database, timeout_s=2.0) as connection:
        started = time.monotonic()
        with pytest.raises(QueryError, match="psql was stopped"):
            connection.rows("SELECT pg_sleep(10)")
        assert time.monotonic() - started < 1.5
        with pytest.raises(QueryError):
            connection.rows("SELECT 1")  # the session is gone: reported at once, never waited for


def test_an_unreachable_server_is_reported_naming_it(tmp_path: Path) -> None:
    port = free_port()
    database = Database("pg", "postgresql", host="127.0.0.1", port=port, dbname="shop")
    result = review_database(database, DatabaseReview(), tmp_path / "state")
    assert result.audit is None and result.problem is not None
    assert result.problem.startswith(f"cannot be reviewed: 127.0.0.1:{port}/shop: ")
    assert "Connection refused" in result.problem


def test_writes_are_refused_even_from_a_users_script(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    dbname = new_database(postgres_server)
    own = tmp_path / "scripts" / "postgresql"
    own.mkdir(parents=True)
    (own / "writes.sql").write_text(
        "-- Check: a script that writes\n-- Warn: 1\nSELECT nextval('ticket_numbers') AS value;\n"
    )
    result = review(postgres_server, dbname, tmp_path, scripts_dir=tmp_path / "scripts")
    writes = {o.script.name: o for o in result.health}["writes"]
    assert writes.status is Status.FAIL
    assert "cannot execute nextval() in a read-only transaction" in writes.message
    last = postgres_server.psql("SELECT last_value FROM ticket_numbers", dbname=dbname)
    assert last == "2000000000"


def test_the_review_changes_nothing(postgres_server: PostgresServer, tmp_path: Path) -> None:
    dbname = new_database(postgres_server)
    before = snapshot(postgres_server, dbname)
    review(postgres_server, dbname, tmp_path)
    assert snapshot(postgres_server, dbname) == before
    assert "orders 504" in before


def test_a_database_whose_owner_turned_off_standard_strings_is_reviewed_as_any_other(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    plain = new_database(postgres_server, amcheck=False)
    legacy = new_database(postgres_server, amcheck=False)
    postgres_server.psql(
        f"SET ROLE {postgres_server.role};"
        f"ALTER DATABASE {legacy} SET standard_conforming_strings = off",
        dbname=legacy,
    )
    expected = review(postgres_server, plain, tmp_path / "plain")
    result = review(postgres_server, legacy, tmp_path / "legacy")
    assert result.problem is None and not result.server_notes
    # Not the scripts graded on the statistics collector's counts (dead tuples, index scans):
    # autovacuum may visit one of two databases built a moment apart and not the other.
    timing = {"dead-tuples", "unused-indexes"}
    statuses = {o.script.name: o.status for o in result.health if o.script.name not in timing}
    assert statuses == {
        o.script.name: o.status for o in expected.health if o.script.name not in timing
    }


def test_a_warning_pointing_into_a_statement_is_a_note_not_a_failure(
    postgres_server: PostgresServer,
) -> None:
    dbname = new_database(postgres_server, amcheck=False)
    postgres_server.psql(
        f"SET ROLE {postgres_server.role};\n"
        "CREATE FUNCTION legacy_path() RETURNS text LANGUAGE sql "
        "SET standard_conforming_strings = off AS $$ SELECT 'C:\\\\data' $$;",
        dbname=dbname,
    )
    connection = PostgreSQLReview(postgres_server.database(dbname), timeout_s=30)
    try:
        # psql shows the function's statement (QUERY:) and a caret under the backslash.
        rows = connection.rows("SELECT legacy_path() AS p", database_search_path=True)
    finally:
        connection.close()
    assert rows == [{"p": "C:\\data"}]
    (note,) = connection.server_notes
    assert note.startswith("WARNING: nonstandard use of \\\\ in a string literal HINT: ")
    assert "QUERY" not in note and "LINE" not in note and "^" not in note


# ---------------------------------------------------------------- what a database owner controls


def _findings(result: DatabaseReviewResult) -> dict[str, object]:
    """What a review found, without what moves between two reviews by itself: the statistics
    collector's dead rows, the server's transaction-ID age."""
    assert result.audit is not None, result.problem
    return {
        "audit": {a.relation.label: (a.orphans, sorted(a.samples)) for a in result.audit.relations},
        "health": {
            o.script.name: (
                o.status,
                None if o.script.name == "xid-wraparound" else o.value,
                o.message,
            )
            for o in result.health
            if o.script.name != "dead-tuples"
        },
    }


def test_functions_the_database_owner_planted_never_run_as_the_superuser_reviewing_it(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    """The owner's `format`, `pg_size_pretty` and `=` on text fit the review's calls better
    than the built-in ones (public first in the database's search path): run by the superuser
    they would make the owner a superuser and turn the session's transactions read-write."""
    dbname = new_database(postgres_server)
    database = postgres_server.superuser_database(dbname)
    settings = DatabaseReview(relations=(COUPONS,))
    before = review_database(database, settings, tmp_path / "before")
    owner = plant_owner_traps(postgres_server, dbname)

    after = review_database(database, settings, tmp_path / "after")

    assert sprung(postgres_server, dbname, owner) == set()
    assert _findings(after) == _findings(before)
    assert after.server_notes == (SUPERUSER_NOTE.format(role="postgres"),)
    # The traps are real: a superuser's session that searches public springs every one.
    assert spring_by_hand(postgres_server, dbname, owner) == {"superuser", "write", "program"}


def test_a_key_of_a_type_without_a_built_in_equality_compares_as_the_key_does(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    """citext's `=` lives in the extension's schema, which the review's queries do not search:
    an orphan is still what the key itself would refuse, ignoring case."""
    dbname = f"review_{os.getpid()}_{next(_names)}"
    postgres_server.create_database(dbname)
    postgres_server.psql(
        f"CREATE EXTENSION citext;\nSET ROLE {postgres_server.role};\n"
        "CREATE TABLE teams (code citext PRIMARY KEY);\n"
        "CREATE TABLE players (id integer PRIMARY KEY, team citext REFERENCES teams);\n"
        "INSERT INTO teams VALUES ('Red');\n"
        "INSERT INTO players VALUES (1, 'RED'), (2, 'red');\n"
        "CREATE TABLE fans (id integer PRIMARY KEY, team citext);\n"
        "INSERT INTO fans VALUES (1, 'rED'), (2, 'Green');\n",
        dbname=dbname,
    )
    postgres_server.psql(
        "SET session_replication_role = replica; INSERT INTO players VALUES (3, 'Blue');",
        dbname=dbname,
    )
    # A relation the schema does not declare compares as the parent's key does too.
    fans = LogicalRelation("pg", None, "fans", "team", None, "teams", "code", "set null")
    settings = DatabaseReview(relations=(fans,))
    result = review_database(postgres_server.database(dbname), settings, tmp_path)
    assert result.audit is not None
    found = {
        audit.relation.label: (audit.orphans, audit.samples) for audit in result.audit.relations
    }
    assert found["players.team"] == (1, ("Blue",))
    assert found["fans.team"] == (1, ("Green",))


def test_a_users_script_names_its_tables_as_the_databases_search_path_finds_them(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    dbname = new_database(postgres_server, amcheck=False)
    own = tmp_path / "scripts" / "postgresql"
    own.mkdir(parents=True)
    (own / "large-invoices.sql").write_text(
        "-- Check: invoices of orders that are gone\n-- Warn: 1\n"
        "SELECT id FROM invoices WHERE order_id > 99900\n"
    )
    result = review(postgres_server, dbname, tmp_path, scripts_dir=tmp_path / "scripts")
    mine = {o.script.name: o for o in result.health}["large-invoices"]
    assert (mine.status, mine.value) == (Status.WARN, 4), mine.message
    assert result.server_notes == ()  # the test role is no superuser: nothing to note


def test_no_statement_can_make_the_next_one_read_write_or_search_elsewhere(
    postgres_server: PostgresServer,
) -> None:
    dbname = new_database(postgres_server, amcheck=False)
    settings = (
        "SELECT current_setting('transaction_read_only') AS read_only, "
        "current_setting('search_path') AS search_path"
    )
    with PostgreSQLReview(postgres_server.database(dbname), timeout_s=30) as connection:
        connection.rows(
            "SELECT set_config('default_transaction_read_only', 'off', false), "
            "set_config('search_path', 'public', false)",
            database_search_path=True,
        )
        assert connection.rows(settings) == [{"read_only": "on", "search_path": "pg_catalog"}]
        with pytest.raises(QueryError, match="division by zero"):
            connection.rows("SELECT set_config('search_path', 'public', false), 1 / 0 AS n")
        assert connection.rows(settings) == [{"read_only": "on", "search_path": "pg_catalog"}]
        assert connection.rows("SELECT count(*) AS n FROM invoices", database_search_path=True) == [
            {"n": 104}
        ]


def test_a_statement_psql_never_ends_fails_and_the_next_one_still_answers(
    postgres_server: PostgresServer,
) -> None:
    # An unbalanced parenthesis kept psql waiting for the statement's end: every query sent
    # after it was taken into it, and answered nothing, which reads as "no rows" (passing).
    dbname = new_database(postgres_server, amcheck=False)
    with PostgreSQLReview(postgres_server.database(dbname), timeout_s=30) as connection:
        with pytest.raises(QueryError, match="the statement never ended"):
            connection.rows("SELECT (1 AS x", database_search_path=True)
        assert connection.rows("SELECT 2 AS y") == [{"y": 2}]


def test_a_sample_key_of_the_owners_own_type_never_calls_its_cast_to_json(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    # An orphan's key is sampled as JSON: a key of the owner's enum called the owner's cast to
    # json, with the reviewing superuser's rights.
    dbname = new_database(postgres_server)
    owner = plant_owner_traps(postgres_server, dbname)
    postgres_server.psql(f"SET ROLE {owner};\n{CAST_TRAP}{JSON_CAST_TRAP}", dbname=dbname)
    moods = LogicalRelation("pg", None, "moods", "mood", None, "mood_names", "mood", "set null")
    result = review_database(
        postgres_server.superuser_database(dbname),
        DatabaseReview(relations=(moods,)),
        tmp_path / "state",
    )
    assert sprung(postgres_server, dbname, owner) == set()
    assert result.audit is not None
    found = {audit.relation.label: audit for audit in result.audit.relations}["moods.mood"]
    assert (found.orphans, found.samples) == (1, ("cross",))
