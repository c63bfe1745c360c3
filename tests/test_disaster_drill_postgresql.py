"""The disaster drill against a real PostgreSQL cluster (see pg_cluster.py): the heartbeat table
written into the live database (opt-in) and read from the restored copy, the restore into a new
database that is dropped afterwards (by the next drill when the drill was SIGKILLed), a failover
command probed until healthy, and a read-only canary query where upkeep may not write."""

# ruff: noqa: F811  (the session fixture is imported, then named by the tests that use it)

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers.files import make_config
from helpers.pg_cluster import PostgresServer
from helpers.recorder import Recorder
from test_backup_postgresql import new_database

from upkeep.config import Config, load_config
from upkeep.drill.canary import CanaryError, canary_for, write_canaries
from upkeep.procedures import backup, disaster_drill, drill_grading
from upkeep.records import Status

pytestmark = pytest.mark.slow  # a real PostgreSQL cluster

DRILL_PREFIX = "upkeep_verify_drill_"
SCHEMA = """
CREATE TABLE orders (id integer PRIMARY KEY, updated_at timestamptz NOT NULL);
INSERT INTO orders SELECT g, timestamptz '2026-11-30 10:00+00' - g * interval '1 minute'
  FROM generate_series(1, 500) g;
"""


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder()
    monkeypatch.setattr(drill_grading, "report", recorder)
    return recorder


def _config(tmp_path: Path, server: PostgresServer, dbname: str, canary: str) -> Config:
    command = f'[{sys.executable}, -m, upkeep.demo.health_server, --port, "{{port}}"]'
    return make_config(
        tmp_path,
        f"""
        services:
          - {{name: api, kind: http, url: "http://127.0.0.1:9/health"}}
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
          databases: {{pg: {{rpo_s: 600, rto_s: 120, {canary}}}}}
          services: {{api: {{rto_s: 120}}}}
          failover:
            kind: command
            database: pg
            command: {command}
            probes: [{{name: api, url: "http://127.0.0.1:{{port}}/health"}}]
          healthy_timeout_s: 30
        """,
    )


def _drill_databases(server: PostgresServer) -> list[str]:
    return [name for name in server.databases() if name.startswith(DRILL_PREFIX)]


def test_a_drill_on_postgresql_measures_the_rpo_by_its_heartbeat_table(
    tmp_path: Path, postgres_server: PostgresServer, recorded: Recorder
) -> None:
    server = postgres_server
    dbname = new_database(server, SCHEMA)
    config = _config(tmp_path, server, dbname, "canary: table")
    canary = canary_for(config, config.database("pg"))
    two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
    canary.write("backup", two_hours_ago)
    backup.back_up_all(config, verify=False, check_store=False, retention=False)

    fresh = disaster_drill.run_drill(config)
    disaster_drill.record_drill(fresh, config)
    stored = disaster_drill.run_drill(config, fresh_backup=False)

    assert fresh.failed_phase is None, fresh.phases
    pg = fresh.databases["pg"]
    assert pg.restored is not None and pg.restored.id == pg.fresh_backup
    assert pg.rpo_basis == "canary" and pg.rpo_s == 0
    assert pg.outcome is not None and pg.outcome.report.row_counts["public.orders"] == 500
    assert 0 < fresh.service_rto_s["api"] < 30
    checks = recorded.checks()
    assert checks["drill:pg:verify"]["status"] == Status.OK
    assert checks["drill:api:rto"]["status"] == Status.OK
    # Without a fresh backup the newest stored one is the drill's own: its heartbeat is the
    # first drill's, older than the second drill's start.
    assert stored.failed_phase is None
    assert stored.databases["pg"].rpo_s is not None and stored.databases["pg"].rpo_s > 0
    # The live table holds every heartbeat; the restored copies are gone.
    written = server.psql("SELECT written_by FROM upkeep_canary ORDER BY id", dbname=dbname)
    assert written.split() == ["backup", "drill", "drill"]
    assert _drill_databases(server) == []
    assert not (config.state_dir / "disaster-drill").exists() or not list(
        (config.state_dir / "disaster-drill").iterdir()
    )


def test_a_canary_query_reads_the_newest_write_and_upkeep_writes_nothing(
    tmp_path: Path, postgres_server: PostgresServer, recorded: Recorder
) -> None:
    server = postgres_server
    dbname = new_database(server, SCHEMA)
    config = _config(tmp_path, server, dbname, 'canary_query: "SELECT max(updated_at) FROM orders"')
    backup.back_up_all(config, verify=False, check_store=False, retention=False)
    server.psql(
        "INSERT INTO orders VALUES (1000, timestamptz '2026-11-30 12:00+00')", dbname=dbname
    )

    drill = disaster_drill.run_drill(config, fresh_backup=False)

    pg = drill.databases["pg"]
    assert pg.source_canary == datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    assert pg.restored_canary == datetime(2026, 11, 30, 9, 59, tzinfo=UTC)
    assert pg.rpo_s == 2 * 3600 + 60 and pg.rpo_basis == "canary"
    assert server.psql("SELECT to_regclass('upkeep_canary') IS NULL", dbname=dbname) == "t"
    assert _drill_databases(server) == []


KILLED_DRILL = """
import sys
from upkeep.config import load_config
from upkeep.procedures import disaster_drill
disaster_drill.run_drill(load_config(sys.argv[1]))
"""


def test_the_database_a_sigkilled_drill_restored_is_dropped_by_the_next_drill(
    tmp_path: Path, postgres_server: PostgresServer, recorded: Recorder
) -> None:
    server = postgres_server
    dbname = new_database(server, SCHEMA)
    config = _config(tmp_path, server, dbname, "canary: table")
    text = config.path.read_text()
    never = f'[{sys.executable}, -c, "import time; time.sleep(120)", "{{target}}"]'
    working = text[text.index("command: ") : text.index("\n", text.index("command: "))]
    config.path.write_text(
        text.replace(working, f"command: {never}").replace(
            "healthy_timeout_s: 30", "healthy_timeout_s: 300"
        )
    )
    records = config.state_dir / "disaster-drill"
    child = subprocess.Popen([sys.executable, "-c", KILLED_DRILL, str(config.path)])
    try:
        deadline = time.monotonic() + 60
        while not any(json.loads(p.read_text()).get("processes") for p in records.glob("*.json")):
            assert child.poll() is None and time.monotonic() < deadline, "no failover started"
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        child.wait()
    finally:
        child.kill()
    [left] = _drill_databases(server)

    config.path.write_text(text)  # the failover works again
    drill = disaster_drill.run_drill(load_config(config.path))
    disaster_drill.record_drill(drill, config)

    assert drill.failed_phase is None
    assert _drill_databases(server) == []
    cleaned = recorded.findings()["drill:cleaned"]["message"]
    assert f"removed scratch target {left} left by drill {child.pid}" in cleaned
    assert list(records.glob("*.json")) == []


# A database owner's traps for the role that writes and reads the heartbeat (a superuser here):
# a canary table of the owner's own whose trigger runs as whoever inserts, and a canary view
# whose function runs as whoever reads. Each marks `public.sprung` with the role it ran as.
SPRUNG = """
CREATE TABLE public.sprung (who text);
CREATE FUNCTION public.spring() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.sprung VALUES (current_user); RETURN NEW; END $$;
CREATE FUNCTION public.spring_now() RETURNS timestamptz LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.sprung VALUES (current_user); RETURN now(); END $$;
"""
TRIGGERED_TABLE = """
CREATE TABLE upkeep_canary (
    id bigserial PRIMARY KEY, written_at timestamptz NOT NULL, written_by text NOT NULL);
CREATE TRIGGER spring BEFORE INSERT ON upkeep_canary FOR EACH ROW EXECUTE FUNCTION spring();
"""
VIEW = "CREATE VIEW upkeep_canary AS SELECT 1 AS id, spring_now() AS written_at;"


def _superuser_config(tmp_path: Path, server: PostgresServer, dbname: str) -> Config:
    return make_config(
        tmp_path,
        f"""
        databases:
          - name: pg
            engine: postgresql
            host: "{server.socket_dir}"
            port: {server.port}
            dbname: {dbname}
            user: postgres
        disaster_drill:
          databases: {{pg: {{rpo_s: 600, rto_s: 120, canary: table}}}}
        """,
    )


def test_a_canary_table_or_view_of_another_role_is_neither_written_nor_read(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    server = postgres_server
    dbname = new_database(server, SCHEMA + SPRUNG + TRIGGERED_TABLE)
    config = _superuser_config(tmp_path, server, dbname)
    canary = canary_for(config, config.database("pg"))

    with pytest.raises(
        CanaryError, match=r"not a table of the role upkeep connects as \(its owner"
    ):
        canary.write("backup")
    with pytest.raises(CanaryError, match="its owner is upkeep_test"):
        canary.newest()
    server.psql(f"SET ROLE {server.role}; DROP TABLE upkeep_canary; {VIEW}", dbname=dbname)
    with pytest.raises(CanaryError, match="its owner is upkeep_test"):
        canary.newest(dbname)  # as a restored copy is read

    assert server.psql("SELECT count(*) FROM sprung", dbname=dbname) == "0"
    # The trap is real: a superuser's read of the view springs it.
    server.psql("SELECT * FROM upkeep_canary", dbname=dbname)
    assert server.psql("SELECT who FROM sprung", dbname=dbname) == "postgres"


def test_the_heartbeat_table_is_where_the_roles_own_create_table_would_put_it(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    # In the first schema of the role's search path: for the superuser here, the schema the
    # database's search_path names, as an unqualified CREATE TABLE did before only pg_catalog
    # was searched.
    server = postgres_server
    dbname = new_database(server, SCHEMA)
    server.psql(
        f"CREATE SCHEMA postgres; ALTER DATABASE {dbname} SET search_path = postgres",
        dbname=dbname,
    )
    config = _superuser_config(tmp_path, server, dbname)
    canary = canary_for(config, config.database("pg"))
    moment = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    canary.write("backup", moment)
    assert canary.newest() == moment
    found = server.psql("SELECT to_regclass('postgres.upkeep_canary') IS NOT NULL", dbname=dbname)
    assert found == "t"
    assert server.psql("SELECT to_regclass('public.upkeep_canary')", dbname=dbname) == ""


def test_a_current_schemas_the_owner_put_before_pg_catalog_is_not_called(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    # The owner may put public before pg_catalog in the database's search path, and their own
    # public.current_schemas(boolean) there: the canary asks pg_catalog's by name.
    server = postgres_server
    dbname = new_database(
        server,
        SCHEMA
        + SPRUNG
        + "CREATE FUNCTION public.current_schemas(boolean) RETURNS name[] LANGUAGE plpgsql AS $$"
        "\nBEGIN INSERT INTO public.sprung VALUES (current_user); RETURN ARRAY['public']; END $$;",
    )
    server.psql(
        f"SET ROLE {server.role}; ALTER DATABASE {dbname} SET search_path = public, pg_catalog",
        dbname=dbname,
    )
    config = _superuser_config(tmp_path, server, dbname)
    canary = canary_for(config, config.database("pg"))
    canary.write("backup", datetime(2026, 12, 1, 3, 0, tzinfo=UTC))
    assert server.psql("SELECT count(*) FROM sprung", dbname=dbname) == "0"
    # The trap is real: a superuser's session on that search path springs it.
    server.psql("SELECT current_schemas(false)", dbname=dbname)
    assert server.psql("SELECT who FROM sprung", dbname=dbname) == "postgres"


def test_a_role_without_create_on_public_keeps_its_heartbeat_in_its_own_schema(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    # PostgreSQL 15 gives no role CREATE on public: a least-privilege role has a schema of its
    # own, where the heartbeat went before, and goes still.
    server = postgres_server
    dbname = f"canary_own_{os.getpid()}"
    server.psql(f"CREATE DATABASE {dbname} OWNER postgres")
    server.psql(
        f"GRANT CONNECT ON DATABASE {dbname} TO {server.role}; "
        f"CREATE SCHEMA AUTHORIZATION {server.role}",
        dbname=dbname,
    )
    config = make_config(
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
        disaster_drill:
          databases: {{pg: {{rpo_s: 600, rto_s: 120, canary: table}}}}
        """,
    )
    canary = canary_for(config, config.database("pg"))
    moment = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    canary.write("backup", moment)
    assert canary.newest() == moment
    where = f"SELECT to_regclass('{server.role}.upkeep_canary') IS NOT NULL"
    assert server.psql(where, dbname=dbname) == "t"


def test_a_canary_whose_password_cannot_be_had_leaves_the_other_backups_be(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    server = postgres_server
    dbname = new_database(server, SCHEMA)
    config = make_config(
        tmp_path,
        f"""
        databases:
          - name: lost
            engine: postgresql
            host: {server.host}
            port: {server.port}
            dbname: {dbname}
            user: {server.role}
            password: "env:UPKEEP_TEST_NO_SUCH_PASSWORD"
          - name: pg
            engine: postgresql
            host: {server.host}
            port: {server.port}
            dbname: {dbname}
            user: {server.role}
            password: "file:{server.password_file}"
        backup: {{dir: store, mode: full}}
        disaster_drill:
          databases:
            lost: {{rpo_s: 600, rto_s: 120, canary: table}}
            pg: {{rpo_s: 600, rto_s: 120, canary: table}}
        """,
    )

    written = write_canaries(config, "backup")
    run = backup.back_up_all(config, verify=False, check_store=False, retention=False)

    assert written["lost"].startswith(
        "not written: database 'lost': password env:UPKEEP_TEST_NO_SUCH_PASSWORD"
    )
    assert written["pg"].startswith("written at ")
    outcomes = {b.database: b for b in run.backups}
    assert outcomes["pg"].result is not None and outcomes["lost"].result is None
