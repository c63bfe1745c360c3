"""upkeep.drill.canary.postgresql's canary_query against a real PostgreSQL cluster (see
pg_cluster.py): the query reads the live database in a read-only transaction of its own, and no
query, however it is written, changes a row there (the drill reads the live database with it)."""

# ruff: noqa: F811  (the session fixture is imported, then named by the tests that use it)

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers.files import make_config
from helpers.pg_cluster import PostgresServer
from test_backup_postgresql import new_database

from upkeep.config import Config
from upkeep.drill.canary import CanaryError, canary_for
from upkeep.procedures import disaster_drill

pytestmark = pytest.mark.slow  # a real PostgreSQL cluster

ROWS = 500
SCHEMA = f"""
CREATE TABLE orders (id integer PRIMARY KEY, updated_at timestamptz NOT NULL);
INSERT INTO orders SELECT g, timestamptz '2026-11-30 10:00+00' - g * interval '1 minute'
  FROM generate_series(1, {ROWS}) g;
CREATE FUNCTION forget_order() RETURNS timestamptz LANGUAGE sql
  AS 'DELETE FROM orders WHERE id = 1 RETURNING now()';
CREATE PROCEDURE forget_order_later() LANGUAGE plpgsql AS $$
BEGIN
  PERFORM set_config('default_transaction_read_only', 'off', false);
  COMMIT;
  DELETE FROM orders WHERE id = 1;
END $$;
"""
DELETE = "DELETE FROM orders WHERE id = 1 RETURNING now()"


def _config(tmp_path: Path, server: PostgresServer, dbname: str, query: str) -> Config:
    return make_config(
        tmp_path,
        f"""
        databases:
          - name: pg
            engine: postgresql
            host: {server.host}
            port: {server.port}
            dbname: {dbname}
            user: {server.role}
            password: "file:{server.password_file}"
        backup: {{dir: store, mode: full}}
        disaster_drill:
          databases: {{pg: {{canary_query: {json.dumps(query)}}}}}
        """,
    )


def _orders(server: PostgresServer, dbname: str) -> int:
    return int(server.psql("SELECT count(*) FROM orders", dbname=dbname))


@pytest.mark.parametrize(
    "query",
    [
        DELETE,
        "WITH gone AS (DELETE FROM orders WHERE id = 1 RETURNING 1) SELECT now()",
        "SELECT forget_order()",  # the write happens in a function the query calls
        "CALL forget_order_later()",  # the procedure would commit, then write read-write
    ],
)
def test_a_query_that_writes_fails_naming_why_and_the_row_stays(
    tmp_path: Path, postgres_server: PostgresServer, query: str
) -> None:
    dbname = new_database(postgres_server, SCHEMA)
    config = _config(tmp_path, postgres_server, dbname, query)

    with pytest.raises(CanaryError) as raised:
        canary_for(config, config.database("pg")).newest()

    assert "running canary_query failed" in str(raised.value)
    assert _orders(postgres_server, dbname) == ROWS


def test_a_write_refused_by_the_read_only_transaction_says_the_query_must_only_read(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    dbname = new_database(postgres_server, SCHEMA)
    config = _config(tmp_path, postgres_server, dbname, DELETE)
    with pytest.raises(CanaryError, match="read-only transaction") as raised:
        canary_for(config, config.database("pg")).newest()
    assert "canary_query must only read" in str(raised.value)


@pytest.mark.parametrize(
    "query",
    [
        f"SELECT now(); {DELETE}",
        f"COMMIT; {DELETE}",
        f"SET TRANSACTION READ WRITE; {DELETE}",
        f"SET default_transaction_read_only = off; {DELETE}",
        f"ROLLBACK; BEGIN READ WRITE; {DELETE}; COMMIT",
    ],
)
def test_more_than_one_statement_is_refused_before_anything_runs(
    tmp_path: Path, postgres_server: PostgresServer, query: str
) -> None:
    dbname = new_database(postgres_server, SCHEMA)
    config = _config(tmp_path, postgres_server, dbname, query)

    with pytest.raises(CanaryError, match="expected one SQL query .* with no ';' inside it"):
        canary_for(config, config.database("pg")).newest()

    assert _orders(postgres_server, dbname) == ROWS
    # One statement with its closing semicolon is read as before.
    alone = _config(tmp_path, postgres_server, dbname, "SELECT max(updated_at) FROM orders;\n")
    newest = canary_for(alone, alone.database("pg")).newest()
    assert newest == datetime(2026, 11, 30, 9, 59, tzinfo=UTC)


def test_a_psql_command_is_refused_not_run(tmp_path: Path, postgres_server: PostgresServer) -> None:
    dbname = new_database(postgres_server, SCHEMA)
    touched = tmp_path / "touched"
    config = _config(tmp_path, postgres_server, dbname, f"\\! touch {touched}")

    with pytest.raises(CanaryError, match="expected one SQL query"):
        canary_for(config, config.database("pg")).newest()

    assert not touched.exists()


def test_the_drill_stops_at_the_loss_and_the_live_database_keeps_its_rows(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    dbname = new_database(postgres_server, SCHEMA)
    config = _config(tmp_path, postgres_server, dbname, DELETE)

    drill = disaster_drill.run_drill(config)

    assert drill.failed_phase == "loss"
    loss = next(phase for phase in drill.phases if phase.name == "loss")
    assert "canary_query must only read" in loss.detail
    assert _orders(postgres_server, dbname) == ROWS
