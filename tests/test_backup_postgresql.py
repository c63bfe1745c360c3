"""upkeep.backup.engines.postgresql against a real PostgreSQL cluster (see pg_cluster.py)."""

# ruff: noqa: F811  (the session fixture is imported, then named by the tests that use it)

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import itertools
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import pytest
from helpers.pg_cluster import PostgresServer, free_port

from upkeep.backup.engines import RestoreTargetError, engine_for
from upkeep.backup.engines.interface import EngineError
from upkeep.backup.engines.postgresql import PostgreSQLEngine
from upkeep.backup.engines.postgresql_sql import without_extensions
from upkeep.backup.errors import BackupError
from upkeep.backup.incremental import take_backup
from upkeep.backup.restore import restore_backup
from upkeep.backup.samples import POSTGRESQL_MD5_METHOD, POSTGRESQL_METHOD, SampleSpec
from upkeep.backup.stores.directory import DirectoryStore
from upkeep.backup.stores.interface import CorruptPiece, Manifest, MissingPiece
from upkeep.config import Database, load_config
from upkeep.procedures.backup import back_up_all, verify_restore

pytestmark = pytest.mark.slow  # a real PostgreSQL cluster

_names = itertools.count(1)

SCHEMA = """
CREATE TABLE customers (
    id integer PRIMARY KEY, name text NOT NULL, email text, joined date NOT NULL);
CREATE TABLE orders (
    id bigint PRIMARY KEY, customer_id integer NOT NULL REFERENCES customers(id),
    total numeric(12,2) NOT NULL, note text, created timestamptz NOT NULL);
CREATE SCHEMA "Audit Log";
CREATE TABLE "Audit Log"."Events" (id serial PRIMARY KEY, payload jsonb, raw bytea);
INSERT INTO customers
  SELECT g, 'customer ' || g, CASE WHEN g % 7 = 0 THEN NULL ELSE 'c' || g || '@example.org' END,
         date '2020-01-01' + g % 1500
  FROM generate_series(1, 3000) g;
INSERT INTO orders
  SELECT g, 1 + g % 3000, (g * 37 % 100000) / 100.0, repeat(md5(g::text), 1 + g % 4),
         timestamptz '2024-01-01 00:00+00' + g * interval '1 minute'
  FROM generate_series(1, 40000) g;
INSERT INTO "Audit Log"."Events" (payload, raw)
  SELECT jsonb_build_object('n', g, 'tags', jsonb_build_array('a', g % 5)),
         decode(md5(g::text), 'hex')
  FROM generate_series(1, 2000) g;
"""

CONTENT_SQL = """
SELECT format('%I.%I', schemaname, relname) FROM pg_stat_user_tables ORDER BY 1;
"""


def new_database(server: PostgresServer, sql: str = SCHEMA) -> str:
    """A fresh database owned by the test role, filled by `sql` run as that role."""
    name = f"src_{os.getpid()}_{next(_names)}"
    server.create_database(name)
    server.psql(f"SET ROLE {server.role};\n{sql}", dbname=name)
    return name


def restore_name() -> str:
    return f"restored_{os.getpid()}_{next(_names)}"


def contents(server: PostgresServer, dbname: str) -> dict[str, tuple[int, str]]:
    """Each table's row count and md5 of all its rows in a fixed order: equal means row for row."""
    tables = server.psql(CONTENT_SQL, dbname=dbname).split("\n")
    found = {}
    for table in filter(None, tables):
        line = server.psql(
            f"SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) "
            f"FROM {table} t",
            dbname=dbname,
        )
        count, digest = line.split("|")
        found[table] = (int(count), digest)
    return found


@pytest.fixture
def store(tmp_path: Path) -> DirectoryStore:
    return DirectoryStore(tmp_path / "store")


def backup(engine: PostgreSQLEngine, store: DirectoryStore, base: Manifest | None = None):
    return take_backup(engine, store, base=base, compression_level=3).manifest


# ---------------------------------------------------------------- backup and restore


def test_backup_then_restore_into_a_new_database_matches_rows_and_checksums(
    postgres_server: PostgresServer, store: DirectoryStore
) -> None:
    source = new_database(postgres_server)
    engine = engine_for(postgres_server.database(source))
    assert isinstance(engine, PostgreSQLEngine)

    manifest = backup(engine, store)
    assert manifest.kind == "full" and manifest.engine == "postgresql"
    assert manifest.server_version.startswith("PostgreSQL 15.")
    assert manifest.block_size is None  # content-defined chunks
    assert manifest.row_counts == {
        '"Audit Log"."Events"': 2000,
        "public.customers": 3000,
        "public.orders": 40000,
    }
    assert manifest.stored_bytes < manifest.size / 2  # zstd over the uncompressed dump

    target = restore_name()
    outcome = restore_backup(store, manifest, engine, target)
    assert outcome.ok, outcome.problems
    assert outcome.report.row_counts == manifest.row_counts
    assert contents(postgres_server, target) == contents(postgres_server, source)
    # The restored database is a working one: constraints came back with the data.
    with pytest.raises(RuntimeError, match="foreign key"):
        postgres_server.psql("INSERT INTO orders VALUES (0, 999999, 1, NULL, now())", dbname=target)


def test_incremental_chain_restores_each_point_row_for_row(
    postgres_server: PostgresServer, store: DirectoryStore
) -> None:
    source = new_database(postgres_server)
    engine = PostgreSQLEngine(postgres_server.database(source))
    changes = [
        "INSERT INTO customers VALUES (5001, 'late customer', NULL, '2026-11-27')",
        "UPDATE orders SET note = 'refunded' WHERE id BETWEEN 100 AND 120;"
        " DELETE FROM orders WHERE id BETWEEN 20000 AND 20050",
        "CREATE TABLE coupons (code text PRIMARY KEY, percent int);"
        " INSERT INTO coupons SELECT 'C' || g, g % 50 FROM generate_series(1, 500) g;"
        ' DELETE FROM "Audit Log"."Events" WHERE id % 100 = 0',
    ]
    moments = [contents(postgres_server, source)]
    manifests = [backup(engine, store)]
    for change in changes:
        postgres_server.psql(f"SET ROLE {postgres_server.role};\n{change}", dbname=source)
        moments.append(contents(postgres_server, source))
        manifests.append(backup(engine, store, base=manifests[-1]))

    assert [m.kind for m in manifests] == ["full", "incremental", "incremental", "incremental"]
    assert all(m.chain_root == manifests[0].id for m in manifests)
    # Small changes, small increments: content-defined chunks kept the rest deduplicated.
    for increment in manifests[1:]:
        assert increment.stored_bytes < manifests[0].stored_bytes * 0.25, increment

    for manifest, expected in zip(manifests, moments, strict=True):
        target = restore_name()
        outcome = restore_backup(store, manifest, engine, target)
        assert outcome.ok, outcome.problems
        assert contents(postgres_server, target) == expected


def test_row_counts_are_those_of_the_dump_while_another_session_writes(
    postgres_server: PostgresServer, store: DirectoryStore
) -> None:
    source = new_database(
        postgres_server, "CREATE TABLE ticks (id serial PRIMARY KEY, at timestamptz);"
    )
    writer = subprocess.Popen(
        [
            str(postgres_server.bin_dir / "psql"),
            "-X",
            "-q",
            "-h",
            str(postgres_server.socket_dir),
            "-p",
            str(postgres_server.port),
            "-U",
            "postgres",
            "-d",
            source,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    stop = threading.Event()

    def keep_writing() -> None:  # one autocommitted insert after another until told to stop
        while not stop.is_set():
            writer.stdin.write("INSERT INTO ticks (at) VALUES (clock_timestamp());\n")
            writer.stdin.flush()

    thread = threading.Thread(target=keep_writing)
    thread.start()
    try:
        engine = PostgreSQLEngine(postgres_server.database(source))
        manifests = [backup(engine, store) for _ in range(3)]
    finally:
        stop.set()
        thread.join()
        writer.stdin.close()
        writer.wait()
    counts = [m.row_counts["public.ticks"] for m in manifests]
    assert counts == sorted(counts) and counts[-1] > counts[0]  # it really was being written
    for manifest in manifests:
        outcome = restore_backup(store, manifest, engine, restore_name())
        assert outcome.ok, outcome.problems  # includes: restored rows == manifest rows


# ---------------------------------------------------------------- damaged backups


def test_a_flipped_byte_fails_the_restore_naming_the_piece(
    postgres_server: PostgresServer, store: DirectoryStore
) -> None:
    source = new_database(postgres_server)
    engine = PostgreSQLEngine(postgres_server.database(source))
    manifest = backup(engine, store)
    piece = next(ref.name for ref in manifest.pieces if ref.name != manifest.index)
    path = store.root / manifest.id / piece
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))

    target = restore_name()
    with pytest.raises(CorruptPiece) as caught:
        restore_backup(store, manifest, engine, target)
    assert caught.value.piece == f"{manifest.id}/{piece}"
    assert f"{manifest.id}/{piece}" in str(caught.value)
    assert target not in postgres_server.databases()  # nothing half-restored


def test_a_missing_piece_of_the_base_fails_the_incremental_restore_naming_it(
    postgres_server: PostgresServer, store: DirectoryStore
) -> None:
    source = new_database(postgres_server)
    engine = PostgreSQLEngine(postgres_server.database(source))
    full = backup(engine, store)
    postgres_server.psql("DELETE FROM orders WHERE id % 1000 = 0", dbname=source)
    increment = backup(engine, store, base=full)
    piece = next(ref.name for ref in full.pieces if ref.name != full.index)
    (store.root / full.id / piece).unlink()

    with pytest.raises(MissingPiece) as caught:
        restore_backup(store, increment, engine, restore_name())
    assert caught.value.piece == f"{full.id}/{piece}"


# ---------------------------------------------------------------- refusals and errors


def test_restore_refuses_an_existing_database_and_leaves_it_alone(
    postgres_server: PostgresServer, store: DirectoryStore
) -> None:
    source = new_database(postgres_server)
    engine = PostgreSQLEngine(postgres_server.database(source))
    manifest = backup(engine, store)
    occupied = new_database(
        postgres_server, "CREATE TABLE keep_me (x int); INSERT INTO keep_me VALUES (42);"
    )

    with pytest.raises(
        RestoreTargetError, match=f"{occupied}' exists already; expected the name of a NEW"
    ) as refused:
        restore_backup(store, manifest, engine, occupied)
    assert refused.value.exit_code == 2
    with pytest.raises(RestoreTargetError, match=f"{occupied}' exists already"):
        engine.restore_target(occupied)  # found before anything is read from the store
    free = restore_name()
    assert engine.restore_target(free) == free
    assert postgres_server.psql("SELECT x FROM keep_me", dbname=occupied) == "42"
    assert "public.orders" not in contents(postgres_server, occupied)


def test_a_failing_pg_restore_is_reported_and_its_empty_database_dropped(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    engine = PostgreSQLEngine(postgres_server.database())
    bogus = tmp_path / "not-an-archive"
    bogus.write_bytes(b"this is not a pg_dump archive\n" * 10)
    target = restore_name()
    report = engine.restore(bogus, target)
    assert not report.ok
    assert "pg_restore exited 1" in report.problems[0]
    assert "input file does not appear to be a valid archive" in report.problems[0]
    assert report.problems[1] == f"the new database {target!r} was dropped again"
    assert target not in postgres_server.databases()


def test_a_restore_stopped_while_pg_restore_runs_drops_the_database_it_made(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    # Ctrl-C or SIGTERM during pg_restore left the new database there, empty: the next
    # restore under that name was refused ("exists already"), with no word of why.
    engine = PostgreSQLEngine(postgres_server.database())
    archive = tmp_path / "archive"
    os.mkfifo(archive)  # pg_restore waits on it: the restore is under way, and stays so
    target = restore_name()

    def interrupt_once_made() -> None:
        deadline = time.monotonic() + 60
        while target not in postgres_server.databases() and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C (upkeep turns SIGTERM into the same)

    interrupter = threading.Thread(target=interrupt_once_made)
    interrupter.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            engine.restore(archive, target)
    finally:
        interrupter.join()
        _let_go(archive)
    assert target not in postgres_server.databases()


def _let_go(fifo: Path) -> None:
    """End the wait of whatever still reads `fifo` (a pg_restore the interruption reached
    before it was killed): opened for writing and closed at once, it reads the end of it."""
    with contextlib.suppress(OSError):  # ENXIO: nobody reads it, as it should be
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


@pytest.mark.parametrize("name", ["host=elsewhere", "postgresql://elsewhere/db", "-x", "", "a b"])
def test_a_target_that_is_not_a_plain_name_is_refused(
    postgres_server: PostgresServer, tmp_path: Path, name: str
) -> None:
    engine = PostgreSQLEngine(postgres_server.database())
    with pytest.raises(RestoreTargetError, match="expected the name of a new database"):
        engine.restore(tmp_path / "unused", name)
    with pytest.raises(RestoreTargetError, match="expected the name of a new database"):
        engine.restore_target(name)


def test_verification_targets_are_database_names_made_from_the_backup_id(tmp_path: Path) -> None:
    engine = PostgreSQLEngine(Database(name="orders", engine="postgresql", dbname="orders"))
    target = engine.verification_target(tmp_path, "Orders-20261127T020000Z-1a2b")
    assert target == "upkeep_verify_orders_20261127t020000z_1a2b"
    assert len(engine.verification_target(tmp_path, "x" * 100)) == 63  # NAMEDATALEN - 1


def test_connection_errors_name_the_database_and_server(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    closed = replace(postgres_server.database(), port=free_port())
    with pytest.raises(BackupError) as caught:
        PostgreSQLEngine(closed).snapshot(tmp_path / "dump")
    message = str(caught.value)
    assert "database 'pg' (127.0.0.1:" in message and "Connection refused" in message
    assert not (tmp_path / "dump").exists()


def test_a_wrong_password_is_refused_by_the_server(
    postgres_server: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UPKEEP_TEST_PG_PASSWORD", "not-the-password")
    wrong = replace(postgres_server.database(), password="env:UPKEEP_TEST_PG_PASSWORD")
    with pytest.raises(BackupError, match="password authentication failed"):
        PostgreSQLEngine(wrong).snapshot(tmp_path / "dump")


def test_an_unresolvable_password_reference_is_named(tmp_path: Path, postgres_server) -> None:
    missing = replace(postgres_server.database(), password="env:UPKEEP_TEST_NO_SUCH_VARIABLE")
    with pytest.raises(BackupError, match="UPKEEP_TEST_NO_SUCH_VARIABLE"):
        PostgreSQLEngine(missing).snapshot(tmp_path / "dump")


# ---------------------------------------------------------------- the password stays secret


def logging_tools(bin_dir: Path, real: Path, log: Path) -> None:
    """Wrappers that record each tool's argv and libpq environment, then run the real tool."""
    bin_dir.mkdir()
    for tool in ("psql", "pg_dump", "pg_restore"):
        script = bin_dir / tool
        script.write_text(
            "#!/bin/sh\n"
            f'printf "%s\\n" "{tool} $*" >> {shlex.quote(str(log))}\n'
            f"env | grep '^PG' >> {shlex.quote(str(log))}\n"
            f'test -n "$PGPASSFILE" && ls -l "$PGPASSFILE" >> {shlex.quote(str(log))}\n'
            f'exec {shlex.quote(str(real / tool))} "$@"\n'
        )
        script.chmod(0o755)


def test_the_password_is_never_on_a_command_line_nor_in_the_environment(
    postgres_server: PostgresServer, tmp_path: Path, store: DirectoryStore
) -> None:
    source = new_database(postgres_server)
    log = tmp_path / "tools.log"
    logging_tools(tmp_path / "bin", postgres_server.bin_dir, log)
    engine = PostgreSQLEngine(postgres_server.database(source), bin_dir=tmp_path / "bin")
    manifest = backup(engine, store)
    outcome = restore_backup(store, manifest, engine, restore_name())
    assert outcome.ok, outcome.problems

    text = log.read_text()
    assert {"psql", "pg_dump", "pg_restore"} <= {line.split()[0] for line in text.splitlines()}
    assert postgres_server.password not in text
    assert "PGPASSWORD" not in text
    passfiles = {
        line.split("=", 1)[1] for line in text.splitlines() if line.startswith("PGPASSFILE=")
    }
    assert passfiles, "the password reached libpq through a passfile"
    assert "-rw------- " in text  # the passfile is private to us
    assert not any(Path(p).exists() for p in passfiles)  # and removed afterwards


def test_the_password_is_scrubbed_from_error_messages(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    # The server echoes a database name it cannot find; name it after the password.
    echoing = replace(postgres_server.database(), dbname=postgres_server.password)
    with pytest.raises(BackupError) as caught:
        PostgreSQLEngine(echoing).snapshot(tmp_path / "dump")
    message = str(caught.value)
    assert postgres_server.password not in message
    assert f"«secret:file:{postgres_server.password_file}»" in message
    assert "does not exist" in message


def test_boundaries_are_content_defined_and_cover_the_dump(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    engine = PostgreSQLEngine(postgres_server.database(new_database(postgres_server)))
    snapshot = engine.snapshot(tmp_path / "dump")
    ends = list(engine.boundaries(snapshot))
    size = snapshot.path.stat().st_size
    assert snapshot.block_size is None and ends[-1] == size and ends == sorted(set(ends))
    assert len(ends) > 5 and len({b - a for a, b in zip([0, *ends], ends, strict=False)}) > 3
    assert snapshot.path.read_bytes()[:5] == b"PGDMP"  # a custom-format archive


def test_a_password_with_passfile_metacharacters_reaches_the_server_intact(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    password = r"colon:back\slash:*"
    postgres_server.psql(
        f"DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'odd_pw') THEN "
        f"CREATE ROLE odd_pw LOGIN; END IF; END$$; ALTER ROLE odd_pw PASSWORD '{password}'",
        dbname="postgres",
    )
    secret = tmp_path / "odd-password"
    secret.write_text(password + "\n")
    odd = replace(postgres_server.database(), user="odd_pw", password=f"file:{secret}")
    snapshot = PostgreSQLEngine(odd).snapshot(tmp_path / "dump")
    assert snapshot.row_counts == {}  # the role's default database holds no tables
    assert snapshot.path.stat().st_size > 0


# ---------------------------------------------------------------- dropping a restore target

VERIFY_PREFIX = "upkeep_verify_"


def test_drop_removes_a_restored_database_and_refuses_the_backed_up_one(
    postgres_server: PostgresServer, store: DirectoryStore
) -> None:
    source = new_database(postgres_server)
    engine = PostgreSQLEngine(postgres_server.database(source))
    target = restore_name()
    assert restore_backup(store, backup(engine, store), engine, target).ok
    assert target in postgres_server.databases()

    engine.drop(target)

    assert target not in postgres_server.databases()
    engine.drop(target)  # gone already: nothing to do, and no error
    with pytest.raises(BackupError, match=f"refusing to drop '{source}', the database that is"):
        engine.drop(source)
    with pytest.raises(RestoreTargetError, match="expected the name of a new database"):
        engine.drop("host=elsewhere")
    assert source in postgres_server.databases()


def test_a_drop_the_server_refuses_is_an_error_naming_the_database(
    postgres_server: PostgresServer, store: DirectoryStore
) -> None:
    source = new_database(postgres_server)
    engine = PostgreSQLEngine(postgres_server.database(source))
    target = restore_name()
    assert restore_backup(store, backup(engine, store), engine, target).ok
    # Another session connected to the target: PostgreSQL will not drop it under that session.
    session = subprocess.Popen(
        [str(postgres_server.bin_dir / "psql"), "-X", "-h", str(postgres_server.socket_dir)]
        + ["-p", str(postgres_server.port), "-U", "postgres", "-d", target],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if not k.startswith("PG")},
    )
    try:
        assert session.stdin is not None and session.stdout is not None
        session.stdin.write(b"SELECT 'connected';\n")
        session.stdin.flush()
        while b"connected" not in session.stdout.readline():
            pass
        with pytest.raises(BackupError, match=f"DROP DATABASE {target} failed") as failed:
            engine.drop(target)
        assert "is being accessed by other users" in str(failed.value)
        assert postgres_server.password not in str(failed.value)
    finally:
        session.kill()
        session.wait()
    engine.drop(target)
    assert target not in postgres_server.databases()


def test_verify_restore_restores_into_a_temporary_database_then_drops_it(
    postgres_server: PostgresServer, store: DirectoryStore
) -> None:
    database = postgres_server.database(new_database(postgres_server))
    manifest = backup(PostgreSQLEngine(database), store)

    outcome, note = verify_restore(store, manifest, database)

    assert note is None and outcome is not None and outcome.ok, (note, outcome)
    # The rows were counted in a real database restored under a temporary name ...
    assert outcome.report.target.startswith(VERIFY_PREFIX)
    assert outcome.report.row_counts == manifest.row_counts
    # ... which is gone afterwards, and the verdict is recorded for retention.
    assert not [n for n in postgres_server.databases() if n.startswith(VERIFY_PREFIX)]
    record = store.verification(manifest.id)
    assert record is not None and record.ok


def test_verify_restore_drops_the_temporary_database_when_the_check_fails(
    postgres_server: PostgresServer, store: DirectoryStore
) -> None:

    database = postgres_server.database(new_database(postgres_server))
    manifest = backup(PostgreSQLEngine(database), store)
    # The manifest recorded other counts than the restored database has: the check fails
    # after the temporary database was made and filled.
    wrong = replace(manifest, row_counts={**manifest.row_counts, "public.orders": 1})

    outcome, note = verify_restore(store, wrong, database)

    assert note is None and outcome is not None and not outcome.ok
    assert outcome.problems == ("table public.orders: 40000 rows restored, the backup recorded 1",)
    assert outcome.report.target.startswith(VERIFY_PREFIX)
    assert not [n for n in postgres_server.databases() if n.startswith(VERIFY_PREFIX)]
    record = store.verification(manifest.id)
    assert record is not None and not record.ok and "public.orders" in record.detail


# ---------------------------------------------------------------- a least-privilege backup role

BACKUP_ROLE = "upkeep_backup_ro"


@pytest.fixture
def least_privilege(postgres_server: PostgresServer, tmp_path: Path) -> tuple[Database, str]:
    """A database owned by the superuser, and a config entry that reads it as a role with only
    `pg_read_all_data` and CREATEDB, as a careful administrator sets one up for backups."""
    password = f"lp-{os.getpid()}-{next(_names)}"
    postgres_server.psql(
        f"DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{BACKUP_ROLE}') THEN "
        f"CREATE ROLE {BACKUP_ROLE} LOGIN CREATEDB; END IF; END$$;\n"
        f"ALTER ROLE {BACKUP_ROLE} PASSWORD '{password}';\n"
        f"GRANT pg_read_all_data TO {BACKUP_ROLE};",
        dbname="postgres",
    )
    secret = tmp_path / "backup-role-password"
    secret.write_text(password + "\n")
    secret.chmod(0o600)
    source = f"owned_{os.getpid()}_{next(_names)}"
    postgres_server.psql(f'CREATE DATABASE "{source}"', dbname="postgres")  # owner: postgres
    postgres_server.psql(SCHEMA, dbname=source)  # every object owned by the superuser
    database = replace(
        postgres_server.database(source), user=BACKUP_ROLE, password=f"file:{secret}"
    )
    return database, source


def test_a_least_privilege_role_restores_with_restore_owner_false(
    postgres_server: PostgresServer, store: DirectoryStore, least_privilege
) -> None:
    database, source = least_privilege
    database = replace(database, restore_owner=False)
    manifest = backup(PostgreSQLEngine(database), store)

    outcome, note = verify_restore(store, manifest, database)

    assert note is None and outcome is not None and outcome.ok, (note, outcome)
    assert store.verified(manifest.id)
    target = restore_name()
    restored = restore_backup(store, manifest, PostgreSQLEngine(database), target)
    assert restored.ok, restored.problems
    assert contents(postgres_server, target) == contents(postgres_server, source)
    owners = postgres_server.psql(
        "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'", dbname=target
    )
    assert owners == BACKUP_ROLE  # the restoring role's own objects, no owner replayed
    # As private as the backup: nobody but its owner (and superusers) may connect.
    public = postgres_server.psql(
        f"SELECT has_database_privilege('public', '{target}', 'CONNECT')", dbname="postgres"
    )
    assert public == "f"


def test_a_least_privilege_role_checks_a_database_with_superuser_only_objects(
    postgres_server: PostgresServer, store: DirectoryStore, least_privilege
) -> None:
    """What production databases often hold and only a superuser may create: a monitoring
    extension (amcheck: untrusted) and a publication for all tables. The check's scratch
    restore leaves them out and says so; a restore a person asks for does not."""
    database, source = least_privilege
    database = replace(database, restore_owner=False)
    postgres_server.psql(
        "CREATE EXTENSION amcheck; CREATE PUBLICATION everything FOR ALL TABLES", dbname=source
    )
    manifest = backup(PostgreSQLEngine(database), store)

    outcome, note = verify_restore(store, manifest, database)

    assert note is None and outcome is not None and outcome.ok, (note, outcome)
    assert outcome.report.notes == (
        f"extension 'amcheck' left out of this check's restore: the role {BACKUP_ROLE} may not"
        " create it (superuser only)",
    )
    restored = restore_backup(store, manifest, PostgreSQLEngine(database), restore_name())
    assert not restored.ok
    assert 'permission denied to create extension "amcheck"' in restored.problems[0]


def test_a_role_whose_transactions_are_read_only_by_default_still_checks_its_backups(
    postgres_server: PostgresServer, store: DirectoryStore
) -> None:
    """A hardening some administrators apply to backup roles (or to a whole database)."""
    source = new_database(postgres_server)
    postgres_server.psql(
        f"ALTER DATABASE {source} SET default_transaction_read_only = on", dbname="postgres"
    )
    database = postgres_server.database(source)
    manifest = backup(PostgreSQLEngine(database), store)

    outcome, note = verify_restore(store, manifest, database)

    assert note is None and outcome is not None and outcome.ok, (note, outcome)


def test_a_backup_role_whose_sessions_are_read_only_by_default_still_restores(
    postgres_server: PostgresServer, store: DirectoryStore, least_privilege
) -> None:
    """ALTER ROLE ... SET default_transaction_read_only = on: a hardening for a role meant to
    read; the restore check's own sessions, pg_restore's among them, must still write."""
    database, _ = least_privilege
    database = replace(database, restore_owner=False)
    manifest = backup(PostgreSQLEngine(database), store)
    postgres_server.psql(
        f"ALTER ROLE {BACKUP_ROLE} SET default_transaction_read_only = on", dbname="postgres"
    )
    try:
        outcome, note = verify_restore(store, manifest, database)
    finally:
        postgres_server.psql(f"ALTER ROLE {BACKUP_ROLE} RESET ALL", dbname="postgres")
    assert note is None and outcome is not None and outcome.ok, (note, outcome)


def test_a_database_of_more_tables_than_one_transaction_can_lock_is_checked(
    postgres_server: PostgresServer, store: DirectoryStore
) -> None:
    """The test cluster's lock table is sized for its 30 connections: restoring 2,000 tables
    with their keys and toast tables in one transaction runs out of it, as 4,300 tables do on
    a server with the default 100 connections. (Created one transaction each.)"""
    source = new_database(
        postgres_server,
        "".join(f"CREATE TABLE tenant_{i} (id integer PRIMARY KEY, v text);\n" for i in range(2000))
        + "INSERT INTO tenant_7 VALUES (1, 'seven');\n",
    )
    database = postgres_server.database(source)
    manifest = backup(PostgreSQLEngine(database), store)
    by_hand = restore_backup(store, manifest, PostgreSQLEngine(database), restore_name())
    assert not by_hand.ok and "max_locks_per_transaction" in by_hand.problems[0]

    outcome, note = verify_restore(store, manifest, database)

    assert note is None and outcome is not None and outcome.ok, (note, outcome)
    assert outcome.report.row_counts["public.tenant_7"] == 1
    assert outcome.report.notes == (
        "restored statement by statement, not in one transaction: the server's lock table"
        " (max_locks_per_transaction) cannot hold every table's lock at once",
    )
    postgres_server.drop_database(source)


def test_the_use_list_leaves_out_an_extension_however_its_name_is_listed() -> None:
    listing = (
        b";\n; Archive created at 2026-12-07 01:00:00 UTC\n;\n"
        b"2; 3079 16385 EXTENSION - uuid-ossp \n"
        b'3366; 0 0 COMMENT - EXTENSION "uuid-ossp" \n'
        b"3; 3079 16390 EXTENSION - amcheck \n"
        b"3367; 0 0 COMMENT - EXTENSION amcheck \n"
        b"4; 3079 16395 EXTENSION - amcheck_next \n"
        b"215; 1259 16400 TABLE public amcheck u\n"
    )
    kept = without_extensions(listing, ["uuid-ossp", "amcheck"]).splitlines()
    assert kept == [
        b";",
        b"; Archive created at 2026-12-07 01:00:00 UTC",
        b";",
        b"4; 3079 16395 EXTENSION - amcheck_next ",
        b"215; 1259 16400 TABLE public amcheck u",
    ]


def test_with_owners_restored_a_least_privilege_role_fails_its_check_and_is_told_why(
    postgres_server: PostgresServer, store: DirectoryStore, least_privilege
) -> None:
    database, _ = least_privilege
    assert database.restore_owner  # the default: objects get their owners back
    manifest = backup(PostgreSQLEngine(database), store)

    outcome, note = verify_restore(store, manifest, database)

    assert note is None and outcome is not None and not outcome.ok
    assert 'must be member of role "postgres"' in outcome.problems[0]
    assert "set restore_owner: false for database 'pg' in upkeep.yml" in outcome.problems[1]
    assert not store.verified(manifest.id)
    assert not [n for n in postgres_server.databases() if n.startswith(VERIFY_PREFIX)]


def _upkeep(
    root: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "upkeep.cli", "--config", str(root / "upkeep.yml"), *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_restore_by_hand_into_an_existing_database_is_bad_input(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    source = new_database(postgres_server)
    pg = postgres_server.database(source)
    (tmp_path / "upkeep.yml").write_text(
        "databases:\n"
        f"  - {{name: pg, engine: postgresql, host: {pg.host}, port: {pg.port}, "
        f"dbname: {source}, user: {pg.user}, password: '{pg.password}'}}\n"
        "backup: {dir: backups}\n"
    )
    [taken] = back_up_all(load_config(tmp_path / "upkeep.yml")).backups
    assert taken.restore is not None and taken.restore.ok, taken

    occupied = _upkeep(tmp_path, "restore", "pg", source)
    fresh = restore_name()
    restored = _upkeep(tmp_path, "restore", "pg", fresh)

    assert occupied.returncode == 2, occupied.stderr
    assert f"restore target database '{source}' exists already" in occupied.stderr
    assert contents(postgres_server, source)["public.orders"][0] == 40000  # untouched
    assert restored.returncode == 0, restored.stderr
    assert contents(postgres_server, fresh) == contents(postgres_server, source)


def test_a_restore_by_hand_removes_the_snapshot_a_killed_one_left_in_the_temporary_directory(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    # A restore killed with SIGKILL left its assembled snapshot (every row of the database)
    # in $TMPDIR for good: nothing ever came back for it.
    source = new_database(postgres_server)
    pg = postgres_server.database(source)
    (tmp_path / "upkeep.yml").write_text(
        "databases:\n"
        f"  - {{name: pg, engine: postgresql, host: {pg.host}, port: {pg.port}, "
        f"dbname: {source}, user: {pg.user}, password: '{pg.password}'}}\n"
        "backup: {dir: backups}\n"
    )
    back_up_all(load_config(tmp_path / "upkeep.yml"))
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    gone = subprocess.Popen(["true"])
    gone.wait()
    killed = temporary / f".upkeep-restore-{gone.pid}-k1ll3d"
    killed.mkdir(mode=0o700)
    (killed / "snapshot").write_bytes(b"rows of the database")
    running = temporary / f".upkeep-restore-{os.getpid()}-runn1ng"
    running.mkdir(mode=0o700)
    held = os.open(running, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(held, fcntl.LOCK_EX)  # a restore under way holds its folder
        restored = _upkeep(
            tmp_path, "restore", "pg", restore_name(), env={**os.environ, "TMPDIR": str(temporary)}
        )
    finally:
        os.close(held)

    assert restored.returncode == 0, restored.stderr
    assert f"removed {killed}: left by a restore that was stopped" in restored.stdout
    assert not killed.exists()
    assert running.is_dir()  # held: never taken for a killed one
    assert sorted(path.name for path in temporary.iterdir()) == [running.name]


def test_a_verification_database_left_by_a_killed_check_does_not_fail_the_next_check(
    postgres_server: PostgresServer, store: DirectoryStore
) -> None:
    database = postgres_server.database(new_database(postgres_server))
    engine = PostgreSQLEngine(database)
    manifest = backup(engine, store)
    # What a check SIGKILLed after its restore began leaves on the server.
    leftover = engine.verification_target(store.root, manifest.id)
    postgres_server.create_database(leftover)
    postgres_server.psql("CREATE TABLE half_restored (x int)", dbname=leftover)

    outcome, note = verify_restore(store, manifest, database)

    assert note is None and outcome is not None and outcome.ok, (note, outcome)
    assert leftover not in postgres_server.databases()
    assert store.verified(manifest.id)


# ---------------------------------------------------------------- sample hashes

# The per-table query of the first version of scripts/backup/postgresql-sample-hashes.sql, with
# which manifests up to December 2026 were taken (method postgresql-md5-order-v1): frozen here,
# because the script's hashes must stay equal to it for those backups to keep verifying.
FIRST_SAMPLE_QUERY = (
    "SELECT count(*), encode(sha256(convert_to(coalesce("
    "string_agg(r, E'\\n' ORDER BY k, r), ''), 'UTF8')), 'hex') "
    "FROM (SELECT ROW(upkeep_sample_row.*)::text AS r, "
    "md5('{seed}' || ROW(upkeep_sample_row.*)::text) AS k "
    "FROM {table} AS upkeep_sample_row ORDER BY 2, 1 LIMIT {rows}) AS sampled"
)

SAMPLED_SCHEMA = (
    SCHEMA
    + """
CREATE TABLE copies (v text, n int);  -- no key: rows repeated, NULLs
INSERT INTO copies SELECT CASE WHEN g % 3 = 0 THEN NULL ELSE 'v' || g % 50 END, g % 7
  FROM generate_series(1, 5000) g;
CREATE TABLE "Odd, Names" (upkeep_sample_row int, upkeep_row text, k text, r text);
INSERT INTO "Odd, Names" SELECT g, 'x' || g % 11, NULL, md5(g::text)
  FROM generate_series(1, 300) g;
CREATE TABLE empty_one (id int);
"""
)


def _first_sample(
    server: PostgresServer, dbname: str, table: str, spec: SampleSpec
) -> tuple[int, str]:
    """(rows, sha256) of `table`'s sample as the first version of the query took it."""
    query = FIRST_SAMPLE_QUERY.format(seed=spec.seed, table=table, rows=spec.rows)
    count, digest = server.psql(query, dbname=dbname).split("|")
    return int(count), digest


def test_sample_hashes_equal_those_of_the_first_version_of_the_query(
    postgres_server: PostgresServer,
) -> None:
    source = new_database(postgres_server, SAMPLED_SCHEMA)
    engine = engine_for(postgres_server.database(source))
    assert isinstance(engine, PostgreSQLEngine)
    for rows in (25, 1000):
        spec = SampleSpec("00112233aabbccdd", rows, POSTGRESQL_MD5_METHOD)
        hashes = engine.sample_hashes(source, spec)
        assert set(hashes) == {
            '"Audit Log"."Events"',
            "public.customers",
            "public.orders",
            "public.copies",
            'public."Odd, Names"',
            "public.empty_one",
        }
        for table, sample in hashes.items():
            expected = _first_sample(postgres_server, source, table, spec)
            assert (sample.rows, sample.sha256) == expected, (table, rows)
        assert hashes["public.copies"].rows == rows and hashes["public.empty_one"].rows == 0


KEYED_SCHEMA = (
    SAMPLED_SCHEMA
    + """
-- Keys with gaps and negatives, and column names the script itself uses as aliases.
CREATE TABLE gaps (id smallint PRIMARY KEY, k text, r text, lo int, hi int, i int, found int);
INSERT INTO gaps SELECT g * 7 - 300, 'k' || g, 'r', g, g, g, g FROM generate_series(1, 90) g;
CREATE TABLE pair (a int, b int, v text, PRIMARY KEY (a, b));  -- two key columns: md5 order
INSERT INTO pair SELECT g % 10, g, 'p' || g FROM generate_series(1, 400) g;
CREATE TABLE named (code text PRIMARY KEY, v int);  -- a text key: md5 order
INSERT INTO named SELECT 'c' || g, g FROM generate_series(1, 400) g;
CREATE TABLE measured (at bigint PRIMARY KEY, v text) PARTITION BY RANGE (at);
CREATE TABLE measured_low PARTITION OF measured FOR VALUES FROM (0) TO (1000);
CREATE TABLE measured_high PARTITION OF measured FOR VALUES FROM (1000) TO (10000000000);
INSERT INTO measured SELECT g * g, 'm' || g FROM generate_series(1, 3000) g;
CREATE TABLE keyed_empty (id int PRIMARY KEY);
CREATE TABLE extremes (id bigint PRIMARY KEY, v text);  -- the whole bigint range
INSERT INTO extremes VALUES (-9223372036854775808, 'lowest'), (-1, 'a'), (0, 'b'), (7, 'c'),
  (9223372036854775806, 'd'), (9223372036854775807, 'highest');
-- A child by inheritance, no index of its own: the parent's sample is the parent's own rows.
CREATE TABLE parent (id int PRIMARY KEY, v text);
CREATE TABLE child (extra int) INHERITS (parent);
INSERT INTO parent SELECT g, 'p' || g FROM generate_series(1, 300) g;
INSERT INTO child SELECT g, 'c' || g, g FROM generate_series(1, 50000) g;
"""
)
# Tables sampled by their integer key; the others by md5 order.
SEEKED = {
    "public.customers": "id",
    "public.orders": "id",
    '"Audit Log"."Events"': "id",
    "public.gaps": "id",
    "public.measured": "at",
    "public.measured_high": "at",
    "public.measured_low": "at",
    "public.keyed_empty": "id",
    "public.extremes": "id",
    "public.parent": "id",
}
PARTITIONED = {"public.measured"}  # read with its partitions; every other table ONLY


def _seek_sample(
    server: PostgresServer, dbname: str, table: str, key: str, spec: SampleSpec
) -> tuple[int, str]:
    """The sample the script's header defines, worked out here from the table's rows."""
    only = "" if table in PARTITIONED else "ONLY "
    lines = server.psql(
        f"SELECT {key}, to_jsonb(t)::text FROM {only}{table} t ORDER BY {key}", dbname=dbname
    ).splitlines()
    rows = [(int(key_text), text) for key_text, text in (line.split("|", 1) for line in lines)]
    if not rows:
        return 0, hashlib.sha256(b"").hexdigest()
    low, high = rows[0][0], rows[-1][0]
    chosen = set()
    for i in range(1, spec.rows + 1):
        digits = hashlib.md5(f"{spec.seed}:{table}:{i}".encode()).hexdigest()[:15]
        start = low + (high - low + 1) * int(digits, 16) // 2**60
        chosen.add(next(at for at, (row_key, _) in enumerate(rows) if row_key >= start))
    return len(chosen), _digest_of(rows[at][1] for at in sorted(chosen))


def _md5_sample(
    server: PostgresServer, dbname: str, table: str, spec: SampleSpec
) -> tuple[int, str]:
    """The sample of a table without an integer key as the script's header defines it: the
    rows with the lowest md5(seed || row as jsonb text) (equal rows tie, and hash alike)."""
    rows = server.psql(f"SELECT to_jsonb(t)::text FROM {table} t", dbname=dbname).splitlines()
    ranked = sorted(
        (
            hashlib.md5((spec.seed + row).encode()).hexdigest(),
            hashlib.sha256(row.encode()).hexdigest(),
        )
        for row in rows
    )[: spec.rows]
    digest = hashlib.sha256("\n".join(row_hash for _, row_hash in ranked).encode()).hexdigest()
    return len(ranked), digest


def _digest_of(rows: Iterable[str]) -> str:
    """sha256 of the rows' own sha256s (hex), one per line."""
    return hashlib.sha256(
        "\n".join(hashlib.sha256(row.encode()).hexdigest() for row in rows).encode()
    ).hexdigest()


def test_key_seek_samples_are_the_rows_at_or_after_seeded_keys_and_md5_order_otherwise(
    postgres_server: PostgresServer,
) -> None:
    source = new_database(postgres_server, KEYED_SCHEMA)
    engine = engine_for(postgres_server.database(source))
    assert isinstance(engine, PostgreSQLEngine)
    for rows in (25, 1000):
        spec = SampleSpec("00112233aabbccdd", rows, POSTGRESQL_METHOD)
        hashes = engine.sample_hashes(source, spec)
        for table, key in SEEKED.items():
            expected = _seek_sample(postgres_server, source, table, key, spec)
            assert (hashes[table].rows, hashes[table].sha256) == expected, (table, rows)
        others = set(hashes) - set(SEEKED)
        assert others == {
            "public.child",
            "public.copies",
            'public."Odd, Names"',
            "public.empty_one",
            "public.pair",
            "public.named",
        }
        for table in others:
            expected = _md5_sample(postgres_server, source, table, spec)
            assert (hashes[table].rows, hashes[table].sha256) == expected, (table, rows)
    # Another seed chooses other rows; the 25-row sample of 40,000 orders holds 25 of them.
    other = engine.sample_hashes(source, SampleSpec("ffeeddcc00112233", 25, POSTGRESQL_METHOD))
    again = engine.sample_hashes(source, SampleSpec("00112233aabbccdd", 25, POSTGRESQL_METHOD))
    assert other["public.orders"] != again["public.orders"]
    assert again["public.orders"].rows == 25 and again["public.keyed_empty"].rows == 0


def test_a_backup_samples_by_key_and_a_change_to_a_sampled_row_is_seen(
    postgres_server: PostgresServer, store: DirectoryStore
) -> None:
    source = new_database(postgres_server, KEYED_SCHEMA)
    engine = PostgreSQLEngine(postgres_server.database(source))
    manifest = take_backup(engine, store, base=None, compression_level=1, sample_rows=5).manifest
    samples = manifest.sample_hashes
    assert samples is not None and samples.spec.method == POSTGRESQL_METHOD
    assert samples.tables == engine.sample_hashes(source, samples.spec)
    # Change one row the sample holds (the first one at or after the first seeded key).
    digits = hashlib.md5(f"{samples.spec.seed}:public.gaps:1".encode()).hexdigest()[:15]
    start = -293 + (330 - -293 + 1) * int(digits, 16) // 2**60
    postgres_server.psql(
        f"UPDATE gaps SET k = 'changed' WHERE id = (SELECT min(id) FROM gaps WHERE id >= {start})",
        dbname=source,
    )
    after = engine.sample_hashes(source, samples.spec)
    assert after["public.gaps"] != samples.tables["public.gaps"]
    assert after["public.orders"] == samples.tables["public.orders"]


def test_an_unknown_sample_method_is_an_error_naming_it_and_the_known_ones(
    postgres_server: PostgresServer,
) -> None:
    engine = PostgreSQLEngine(postgres_server.database(new_database(postgres_server)))
    with pytest.raises(EngineError) as raised:
        engine.sample_hashes("whatever", SampleSpec("0011223344556677", 5, "postgresql-new-v9"))
    message = str(raised.value)
    assert "'postgresql-new-v9'" in message
    assert POSTGRESQL_METHOD in message and POSTGRESQL_MD5_METHOD in message


# ---------------------------------------------------------------- what a database owner controls

# A database owner's trap for a superuser backup role: `format(text, name, name)` in public fits
# row-counts.sql's format('%I.%I', nspname, relname) better than pg_catalog's, so a session that
# searches public runs it; run by a superuser, it writes a file on the server.
FORMAT_TRAP = """
CREATE TABLE things (id integer PRIMARY KEY, name text);
INSERT INTO things SELECT g, 'thing ' || g FROM generate_series(1, 50) g;
CREATE FUNCTION public.format(fmt text, a name, b name) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
    EXECUTE 'COPY (SELECT current_user) TO ' || pg_catalog.quote_literal('MARKER');
  END IF;
  RETURN pg_catalog.format(fmt, a, b);
END $$;
"""


def test_a_function_the_database_owner_planted_never_runs_as_the_superuser_backup_role(
    postgres_server: PostgresServer, store: DirectoryStore
) -> None:
    marker = postgres_server.root / f"escalated-{os.getpid()}-{next(_names)}"
    source = new_database(postgres_server, FORMAT_TRAP.replace("MARKER", str(marker)))
    engine = PostgreSQLEngine(postgres_server.superuser_database(source))

    manifest = take_backup(engine, store, base=None, compression_level=1, sample_rows=5).manifest
    outcome = restore_backup(store, manifest, engine, restore_name())

    assert outcome.ok, outcome.problems
    assert outcome.report.row_counts == {"public.things": 50}
    assert not marker.exists()
    # The trap is real: a superuser's session that searches public springs it.
    postgres_server.psql(
        "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace LIMIT 1",
        dbname=source,
    )
    assert marker.exists()


def test_a_latin1_database_with_non_ascii_column_names_restores_and_verifies(
    postgres_server: PostgresServer, store: DirectoryStore
) -> None:
    source = f"latin1_{os.getpid()}_{next(_names)}"
    postgres_server.psql(
        f"CREATE DATABASE \"{source}\" OWNER {postgres_server.role} ENCODING 'LATIN1' "
        "LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0",
        dbname="postgres",
    )
    # jsonb orders keys by their length in bytes: größe (5 in LATIN1, 7 in UTF-8) and prénom
    # (6, 7) fall on either side of abcdef (6) by the encoding.
    postgres_server.psql(
        f"SET client_encoding = 'UTF8'; SET ROLE {postgres_server.role};\n"
        'CREATE TABLE kunden (id integer PRIMARY KEY, "größe" text, abcdef text, "prénom" text);\n'
        "INSERT INTO kunden SELECT g, 'groß ' || g, 'a' || g, 'Zoë' FROM generate_series(1, 40) g;",
        dbname=source,
    )
    engine = PostgreSQLEngine(postgres_server.database(source))
    manifest = take_backup(engine, store, base=None, compression_level=1, sample_rows=5).manifest
    target = restore_name()

    outcome = restore_backup(store, manifest, engine, target)

    assert outcome.ok, outcome.problems
    assert postgres_server.psql(
        "SELECT pg_encoding_to_char(encoding), datcollate, datctype FROM pg_database "
        f"WHERE datname = '{target}'",
        dbname="postgres",
    ) == ("LATIN1|C|C")
