"""The weekly backup verification against a real PostgreSQL cluster (see pg_cluster.py): sample
hashes taken inside the dump's exported snapshot, restores into a new database that is dropped
afterwards, also when its checks fail, and a restored copy with different data failing."""

# ruff: noqa: F811  (the session fixture is imported, then named by the tests that use it)

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from helpers.files import make_config
from helpers.pg_cluster import PostgresServer
from helpers.recorder import Recorder
from test_backup_postgresql import SCHEMA, new_database

from upkeep.backup.engines.postgresql import PostgreSQLEngine
from upkeep.backup.samples import POSTGRESQL_MD5_METHOD, POSTGRESQL_METHOD, SampleSpec
from upkeep.backup.stores.directory import DirectoryStore
from upkeep.config import Config
from upkeep.procedures import backup, backup_verification
from upkeep.records import Status

pytestmark = pytest.mark.slow  # a real PostgreSQL cluster

VERIFY_PREFIX = "upkeep_verify_"


def _config(tmp_path: Path, server: PostgresServer, dbname: str) -> Config:
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
        backup_verification: {{sample_rows: 25}}
        """,
    )


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder()
    for module in (backup, backup_verification):
        monkeypatch.setattr(module, "report", recorder)
    return recorder


def _back_up(config: Config) -> str:
    run = backup.back_up_all(config)
    assert all(b.sound for b in run.backups), run
    result = run.backups[0].result
    assert result is not None
    return result.manifest.id


def _scratch_databases(server: PostgresServer) -> list[str]:
    return [name for name in server.databases() if name.startswith(VERIFY_PREFIX)]


def _manifest(config: Config, backup_id: str) -> dict:
    assert config.backup.dir is not None
    return json.loads((config.backup.dir / backup_id / "manifest.json").read_text())


def _rewrite(config: Config, backup_id: str, **fields: object) -> None:
    """Give the manifest of `backup_id` other `fields` (what an earlier backup recorded)."""
    assert config.backup.dir is not None
    path = config.backup.dir / backup_id / "manifest.json"
    value = json.loads(path.read_text())
    value.update(fields)
    path.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n")


def test_sample_hashes_come_from_the_dumps_snapshot_and_a_sound_backup_verifies(
    postgres_server: PostgresServer, tmp_path: Path, recorded: Recorder
) -> None:
    source = new_database(postgres_server)
    config = _config(tmp_path, postgres_server, source)
    # A session keeps writing while the backup runs: the samples, like the counts, must be
    # those of the dump, or the verification of a sound backup would fail.
    stop = threading.Event()
    postgres_server.psql(
        f"SET ROLE {postgres_server.role}; CREATE TABLE ticks (id serial PRIMARY KEY)",
        dbname=source,
    )

    def write() -> None:
        while not stop.is_set():
            postgres_server.psql("INSERT INTO ticks DEFAULT VALUES", dbname=source)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        backup_id = _back_up(config)
    finally:
        stop.set()
        writer.join()
    assert config.backup.dir is not None
    manifest = DirectoryStore(config.backup.dir).manifests("pg")[-1]
    samples = manifest.sample_hashes
    assert samples is not None and samples.spec.method == POSTGRESQL_METHOD
    assert set(samples.tables) == set(manifest.row_counts)
    assert '"Audit Log"."Events"' in samples.tables
    assert samples.tables["public.orders"].rows == 25

    run = backup_verification.verify_backups(config)
    backup_verification.record_verification(run, config.backup_verification)
    checks = recorded.checks()
    assert checks["backup-verification:pg:restore"]["status"] == Status.OK, checks
    (restored,) = run.databases[0].restores
    assert restored.backup_id == backup_id and restored.outcome is not None
    # Not the daily check's name: the two may check the same backup at the same time.
    expected = f"upkeep_verify_weekly_{backup_id}".replace("-", "_").lower()
    assert restored.outcome.report.target == expected
    assert recorded.metrics()["backup_restore_seconds"]["labels"] == {"database": "pg"}
    assert _scratch_databases(postgres_server) == []


def test_different_data_with_the_same_row_counts_fails_and_the_scratch_database_is_dropped(
    postgres_server: PostgresServer, tmp_path: Path, recorded: Recorder
) -> None:
    source = new_database(postgres_server)
    config = _config(tmp_path, postgres_server, source)
    first = _manifest(config, _back_up(config))
    postgres_server.psql(
        f"SET ROLE {postgres_server.role}; UPDATE customers SET name = upper(name)", dbname=source
    )
    second = _back_up(config)  # retention deletes the first one: same day, mode full
    _rewrite(config, second, samples=first["samples"])

    run = backup_verification.verify_backups(config)
    backup_verification.record_verification(run, config.backup_verification)
    restore = recorded.checks()["backup-verification:pg:restore"]
    assert restore["status"] == Status.FAIL
    assert "table public.customers: sample hash differs" in restore["message"]
    assert "public.orders" not in restore["message"]
    # The check failed after the scratch database was made and filled: it is dropped anyway.
    assert _scratch_databases(postgres_server) == []
    assert config.backup.dir is not None
    assert not DirectoryStore(config.backup.dir).verified(second)


def test_a_backup_sampled_the_first_way_still_verifies_and_a_difference_still_fails(
    postgres_server: PostgresServer, tmp_path: Path, recorded: Recorder
) -> None:
    source = new_database(postgres_server)
    config = _config(tmp_path, postgres_server, source)
    taken = _back_up(config)
    # What an upkeep from before December 2026 recorded: the md5 order for every table.
    engine = PostgreSQLEngine(postgres_server.database(source))
    spec = SampleSpec("0123456789abcdef", 25, POSTGRESQL_MD5_METHOD)
    tables = engine.sample_hashes(source, spec)
    assert tables != engine.sample_hashes(source, SampleSpec(spec.seed, 25, POSTGRESQL_METHOD))
    recorded_then = {
        "seed": spec.seed,
        "rows_per_table": 25,
        "method": POSTGRESQL_MD5_METHOD,
        "tables": {name: {"rows": t.rows, "sha256": t.sha256} for name, t in tables.items()},
    }
    _rewrite(config, taken, samples=recorded_then)

    run = backup_verification.verify_backups(config)
    backup_verification.record_verification(run, config.backup_verification)
    assert recorded.checks()["backup-verification:pg:restore"]["status"] == Status.OK

    recorded_then["tables"]["public.orders"]["sha256"] = "0" * 64
    _rewrite(config, taken, samples=recorded_then)
    run = backup_verification.verify_backups(config, verify_all=True)
    backup_verification.record_verification(run, config.backup_verification)
    restore = recorded.checks()["backup-verification:pg:restore"]
    assert restore["status"] == Status.FAIL
    assert "table public.orders: sample hash differs (seed 0123456789abcdef)" in restore["message"]


def test_a_backup_that_restores_with_a_table_emptied_fails_naming_it(
    postgres_server: PostgresServer, tmp_path: Path, recorded: Recorder
) -> None:
    source = new_database(postgres_server)
    config = _config(tmp_path, postgres_server, source)
    whole = _manifest(config, _back_up(config))
    postgres_server.psql(f"SET ROLE {postgres_server.role}; DELETE FROM orders", dbname=source)
    emptied = _back_up(config)
    _rewrite(config, emptied, samples=whole["samples"], row_counts=whole["row_counts"])

    run = backup_verification.verify_backups(config)
    backup_verification.record_verification(run, config.backup_verification)
    message = recorded.checks()["backup-verification:pg:restore"]["message"]
    assert "table public.orders: 0 rows restored, the backup recorded 40000" in message
    assert "table public.orders: sample hash differs" in message
    assert _scratch_databases(postgres_server) == []


def test_a_restore_that_pg_restore_refuses_is_a_failure_and_leaves_no_database(
    postgres_server: PostgresServer, tmp_path: Path, recorded: Recorder
) -> None:
    """pg_restore fails part way (a role the archive names does not exist on this server):
    the scratch database it made is dropped, and the failure says why."""
    owner = f"gone_{os.getpid()}"
    postgres_server.psql(f"CREATE ROLE {owner}", dbname="postgres")
    source = new_database(postgres_server, SCHEMA)
    postgres_server.psql(f"ALTER TABLE customers OWNER TO {owner}", dbname=source)
    config = _config(tmp_path, postgres_server, source)
    postgres_server.psql(f"GRANT SELECT ON customers TO {postgres_server.role}", dbname=source)
    taken = backup.back_up_all(config, verify=False)  # the daily check would fail it already
    assert taken.backups[0].result is not None
    postgres_server.psql(f"DROP OWNED BY {owner} CASCADE; DROP ROLE {owner}", dbname=source)

    run = backup_verification.verify_backups(config)
    backup_verification.record_verification(run, config.backup_verification)
    restore = recorded.checks()["backup-verification:pg:restore"]
    assert restore["status"] == Status.FAIL
    assert "pg_restore exited" in restore["message"]
    assert postgres_server.password not in json.dumps(recorded.records)
    assert _scratch_databases(postgres_server) == []


@pytest.mark.parametrize("damage", ["flip a byte", "delete the piece"])
def test_a_damaged_piece_fails_naming_it_and_leaves_no_database(
    postgres_server: PostgresServer, tmp_path: Path, recorded: Recorder, damage: str
) -> None:
    config = _config(tmp_path, postgres_server, new_database(postgres_server))
    backup_id = _back_up(config)
    assert config.backup.dir is not None
    piece = config.backup.dir / backup_id / "p000000.zst"
    if damage == "flip a byte":
        data = bytearray(piece.read_bytes())
        data[len(data) // 2] ^= 0x04
        piece.write_bytes(bytes(data))
    else:
        piece.unlink()

    run = backup_verification.verify_backups(config)
    backup_verification.record_verification(run, config.backup_verification)
    restore = recorded.checks()["backup-verification:pg:restore"]
    assert restore["status"] == Status.FAIL
    word = "corrupt" if damage == "flip a byte" else "missing"
    assert f"backup piece {backup_id}/p000000.zst is {word}" in restore["message"]
    assert _scratch_databases(postgres_server) == []


def _assert_backed_up_and_verified(
    tmp_path: Path, server: PostgresServer, source: str, recorded: Recorder
) -> Config:
    """Back `source` up (the daily check must pass) and verify it as the weekly run does."""
    config = _config(tmp_path, server, source)
    _back_up(config)
    run = backup_verification.verify_backups(config)
    backup_verification.record_verification(run, config.backup_verification)
    restore = recorded.checks()["backup-verification:pg:restore"]
    assert restore["status"] == Status.OK, restore["message"]
    assert _scratch_databases(server) == []
    return config


# Settings a database can carry (ALTER DATABASE ... SET) that change how its rows print as text.
# pg_dump does not copy them into the restored copy, whose sessions print the same rows
# differently: the sample hashes must not depend on them.
DATABASE_SETTINGS = {
    "TimeZone": "'America/New_York'",
    "DateStyle": "'SQL, DMY'",
    "IntervalStyle": "iso_8601",
    "extra_float_digits": "0",
    "bytea_output": "escape",
    "search_path": "ledger, public",
}
PRINTED_SCHEMA = """
CREATE SCHEMA ledger;
CREATE TABLE ledger.accounts (id integer PRIMARY KEY);
CREATE TABLE entries (
    id integer PRIMARY KEY, at timestamptz, day date, took interval, ratio float8,
    raw bytea, account regclass);
INSERT INTO entries SELECT g, timestamptz '2026-03-08 06:30:00+00' + g * interval '1 hour',
    date '2026-01-01' + g, g * interval '90 minutes', 1.0 / g, ('\\x' || md5(g::text))::bytea,
    'ledger.accounts'::regclass FROM generate_series(1, 500) AS g;
CREATE TABLE notes (at timestamptz, raw bytea);  -- no key: sampled in md5 order
INSERT INTO notes SELECT timestamptz '2026-11-01 05:00:00+00' + g * interval '1 day',
    decode(md5(g::text), 'hex') FROM generate_series(1, 100) AS g;
"""


def test_a_database_that_prints_its_rows_its_own_way_still_verifies(
    postgres_server: PostgresServer, tmp_path: Path, recorded: Recorder
) -> None:
    source = new_database(postgres_server, PRINTED_SCHEMA)
    for name, value in DATABASE_SETTINGS.items():
        postgres_server.psql(f"ALTER DATABASE {source} SET {name} = {value}", dbname=source)
    # The source's sessions print its rows their own way (the restored copy's will not).
    printed = postgres_server.psql("SELECT entries::text FROM entries WHERE id = 1", dbname=source)
    assert "03:30:00" in printed and "08/03/2026" in printed and "PT1H30M" in printed
    assert "ledger.accounts" not in printed and "\\x" not in printed
    _assert_backed_up_and_verified(tmp_path, postgres_server, source, recorded)


def test_a_database_that_limits_its_sessions_time_is_still_backed_up_and_verified(
    postgres_server: PostgresServer, tmp_path: Path, recorded: Recorder
) -> None:
    """Limits an application's DBA sets on the database: pg_dump lifts them for itself, and the
    sessions that count and sample beside it (the snapshot's one idles while pg_dump runs) must
    lift them too."""
    source = new_database(
        postgres_server,
        SCHEMA
        + "CREATE TABLE readings (v text);  -- no key: sampled by a scan in md5 order\n"
        + "INSERT INTO readings SELECT md5(g::text) FROM generate_series(1, 200000) AS g;\n",
    )
    for name in ("statement_timeout", "idle_in_transaction_session_timeout"):
        postgres_server.psql(f"ALTER DATABASE {source} SET {name} = '20ms'", dbname=source)
    scan = "SELECT count(*) FROM (SELECT md5(v) FROM readings ORDER BY 1) AS s"
    with pytest.raises(RuntimeError, match="statement timeout"):
        postgres_server.psql(scan, dbname=source)  # the limit holds for other sessions
    _assert_backed_up_and_verified(tmp_path, postgres_server, source, recorded)


def test_an_inheritance_child_whose_columns_pg_dump_reorders_still_verifies(
    postgres_server: PostgresServer, tmp_path: Path, recorded: Recorder
) -> None:
    """A column added to the parent after the child existed comes last in the child, but
    pg_dump creates the child with the parent's columns first: same data, other order."""
    source = new_database(
        postgres_server,
        "CREATE TABLE parent (id integer PRIMARY KEY, a text);\n"
        "CREATE TABLE child (x text) INHERITS (parent);\n"
        "ALTER TABLE parent ADD COLUMN b text;\n"
        "INSERT INTO child SELECT g, 'a' || g, 'x' || g, 'b' || g\n"
        "  FROM generate_series(1, 300) g;\n",
    )
    order = "SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute"
    order += " WHERE attrelid = 'child'::regclass AND attnum > 0"
    assert postgres_server.psql(order, dbname=source) == "id,a,x,b"
    _assert_backed_up_and_verified(tmp_path, postgres_server, source, recorded)


def test_a_latin1_database_verifies_in_a_utf8_scratch_database(
    postgres_server: PostgresServer, tmp_path: Path, recorded: Recorder
) -> None:
    source = f"latin1_{os.getpid()}"
    postgres_server.psql(
        f'CREATE DATABASE "{source}" OWNER "{postgres_server.role}" ENCODING \'LATIN1\''
        " LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0",
        dbname="postgres",
    )
    postgres_server.psql(
        f"SET client_encoding = 'UTF8'; SET ROLE {postgres_server.role};\n"
        "CREATE TABLE kunden (name text, ort text);  -- no key: sampled in md5 order\n"
        "INSERT INTO kunden SELECT 'Müller ' || g, 'Köln' FROM generate_series(1, 500) g;\n"
        'CREATE TABLE "Straße" (id integer PRIMARY KEY, v text);\n'
        "INSERT INTO \"Straße\" SELECT g, 'ß' || g FROM generate_series(1, 500) g;\n",
        dbname=source,
    )
    try:
        named = (
            "SET client_encoding = 'UTF8'; SELECT relname FROM pg_class WHERE relname LIKE 'Str%'"
        )
        assert "Straße" in postgres_server.psql(named, dbname=source).splitlines()
        config = _assert_backed_up_and_verified(tmp_path, postgres_server, source, recorded)
        assert config.backup.dir is not None
        (manifest,) = DirectoryStore(config.backup.dir).manifests("pg")
        assert set(manifest.row_counts) == {'public."Straße"', "public.kunden"}
    finally:
        postgres_server.drop_database(source)
