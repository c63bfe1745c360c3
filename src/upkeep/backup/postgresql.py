"""Responsible for backing up and restoring PostgreSQL databases with pg_dump and pg_restore.

The snapshot is an uncompressed custom-format archive (`pg_dump -Fc -Z0`): uncompressed so that
unchanged table data gives unchanged bytes, which content-defined chunking then deduplicates and
the store compresses with zstd. pg_dump runs on a snapshot exported by a REPEATABLE READ
transaction that also counts every table's rows, so the counts in the manifest are exactly those
of the dump even while other sessions write. Restore goes into a NEW database with
`pg_restore --exit-on-error --single-transaction`; `drop` removes such a database again (the
runbook's verification restore is thrown away after its checks).

The password (a secret reference in the config) reaches libpq only through a private, temporary
0600 passfile: never a command line, never the environment of a child, never an error message.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from upkeep import secrets
from upkeep.backup.chunking import DEFAULT_SIZES, ChunkSizes, chunk_ends_of_file
from upkeep.backup.interface import BackupError, DatabaseEngine, RestoreReport, Snapshot
from upkeep.config import Database
from upkeep.redact import marker, scrub_text

__all__ = ["COUNT_ROWS_SQL", "PostgreSQLEngine"]

# libpq settings that would send a tool to another server or another password than configured.
_OVERRIDDEN_ENV = (
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGUSER",
    "PGDATABASE",
    "PGPASSWORD",
    "PGPASSFILE",
    "PGSERVICE",
    "PGSERVICEFILE",
)
MAX_STDERR = 4000
# PostgreSQL's identifier limit (NAMEDATALEN - 1) in bytes; longer names would be truncated.
MAX_NAME_BYTES = 63
_DATABASE_NAME = re.compile(rf"[A-Za-z0-9_][A-Za-z0-9_.-]{{0,{MAX_NAME_BYTES - 1}}}")

# Exact rows of every ordinary and partitioned table outside the system schemas, as one JSON
# object on one line. query_to_xml runs a count per table inside this one statement (and thus
# inside the caller's snapshot), without a server-side function of our own.
COUNT_ROWS_SQL = """\
SELECT coalesce(json_object_agg(t.name, t.rows ORDER BY t.name), '{}')
FROM (
  SELECT format('%I.%I', n.nspname, c.relname) AS name,
         (xpath('/row/c/text()', query_to_xml(
            format('SELECT count(*) AS c FROM %I.%I', n.nspname, c.relname),
            false, true, '')))[1]::text::bigint AS rows
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p')
    AND n.nspname NOT IN ('pg_catalog', 'information_schema')
    AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'
) AS t;
"""


@dataclass(frozen=True)
class _Libpq:
    """The environment of one batch of libpq tool runs, and the password to scrub from output."""

    env: dict[str, str]
    password: str | None
    reference: str | None

    def scrub(self, text: str) -> str:
        if not self.password or self.reference is None:
            return text
        # scrub_text skips very short values (they would match by chance in long artifacts);
        # in a tool's error message every occurrence of the password must go.
        return scrub_text(text, {self.reference: self.password}).replace(
            self.password, marker(self.reference)
        )


class PostgreSQLEngine(DatabaseEngine):
    """A PostgreSQL database named by the config's host, port, dbname, user and password."""

    engine = "postgresql"
    chunk_sizes: ChunkSizes = DEFAULT_SIZES

    def __init__(self, database: Database, *, bin_dir: Path | None = None) -> None:
        super().__init__(database)
        self.bin_dir = bin_dir

    # ------------------------------------------------------------------ backup

    def snapshot(self, dest: Path) -> Snapshot:
        if dest.exists():
            raise BackupError(f"snapshot file {dest} exists already; expected a new path")
        with self._libpq() as libpq:
            try:
                version, counts = self._dump_in_snapshot(dest, libpq)
            except BaseException:
                with suppress(OSError):
                    dest.unlink()
                raise
        return Snapshot(
            path=dest,
            engine=self.engine,
            database=self.database.name,
            server_version=f"PostgreSQL {version}",
            row_counts=counts,
            block_size=None,
        )

    def _dump_in_snapshot(self, dest: Path, libpq: _Libpq) -> tuple[str, dict[str, int]]:
        """Export a snapshot, dump it while counting rows in it; return (version, counts)."""
        with _psql_session([self._tool("psql"), *self._psql_args()], libpq.env) as session:
            session.send(
                "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;\n"
                "SELECT pg_export_snapshot(), current_setting('server_version');\n"
            )
            exported = self._expect(session, libpq, "export a snapshot")
            snapshot_id, version = exported.split("|", 1)
            dump = subprocess.Popen(
                [
                    self._tool("pg_dump"),
                    *self._connection_args(),
                    "--format=custom",
                    "--compress=0",
                    f"--snapshot={snapshot_id}",
                    f"--file={dest}",
                ],
                env=libpq.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            try:
                # Count while pg_dump writes: both read the same snapshot, on two cores.
                session.send(COUNT_ROWS_SQL)
                counts_line = self._expect(session, libpq, "count rows")
                _, stderr = dump.communicate()
            except BaseException:
                dump.kill()
                dump.wait()
                raise
            if dump.returncode != 0:
                raise self._failure(libpq, "pg_dump", dump.returncode, stderr)
            session.send("COMMIT;\n")
        counts = {name: int(rows) for name, rows in json.loads(counts_line).items()}
        return version, counts

    def _expect(self, session: _Session, libpq: _Libpq, what: str) -> str:
        """The next line of psql's answer; psql's own error when it has none."""
        line = session.read_line()
        if line is None:
            code, stderr = session.finish()
            raise self._failure(libpq, f"psql ({what})", code, stderr)
        return line

    def boundaries(self, snapshot: Snapshot) -> Iterator[int]:
        return chunk_ends_of_file(snapshot.path, self.chunk_sizes)

    # ------------------------------------------------------------------ restore

    def restore(self, snapshot_file: Path, target: str) -> RestoreReport:
        _check_name(target)
        with self._libpq() as libpq:
            self._create_database(target, libpq)
            proc = subprocess.run(
                [
                    self._tool("pg_restore"),
                    *self._connection_args(target),
                    "--exit-on-error",
                    "--single-transaction",
                    str(snapshot_file),
                ],
                env=libpq.env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
            )
            if proc.returncode != 0:
                detail = libpq.scrub(proc.stderr.decode(errors="replace")).strip()
                # --single-transaction rolled everything back: the database we created is
                # empty, and keeping it would only block a second try under the same name.
                dropped = self._drop_database(target, libpq).returncode == 0
                return RestoreReport(
                    self.engine,
                    target,
                    (
                        f"pg_restore exited {proc.returncode}: {detail[-MAX_STDERR:]}",
                        f"the new database {target!r} was "
                        + ("dropped again" if dropped else "left empty; drop it by hand"),
                    ),
                    {},
                )
            return RestoreReport(self.engine, target, (), self._count_rows(target, libpq))

    def _create_database(self, target: str, libpq: _Libpq) -> None:
        # template0: an empty database, whatever was added to template1 on this server.
        # CREATE DATABASE itself refuses an existing name, so there is no check-then-act race.
        proc = subprocess.run(
            [self._tool("psql"), *self._psql_args(), "-v", f"target={target}"],
            input=b'CREATE DATABASE :"target" TEMPLATE template0;\n',
            env=libpq.env,
            capture_output=True,
        )
        if proc.returncode == 0:
            return
        stderr = libpq.scrub(proc.stderr.decode(errors="replace")).strip()
        if "already exists" in stderr:
            raise BackupError(
                f"database {self.database.name!r}: restore target database {target!r} exists "
                "already; expected the name of a NEW database (restore never overwrites)"
            )
        raise self._failure(libpq, "CREATE DATABASE for the restore", proc.returncode, stderr)

    def drop(self, target: str) -> None:
        """Drop the database `target` that `restore` made; a target already gone is no error.

        Refuses the configured database itself: only restore targets are ever dropped here.
        """
        _check_name(target)
        if target == self._dbname:
            raise BackupError(
                f"database {self.database.name!r}: refusing to drop {target!r}, the database "
                "that is backed up; expected the name of a restore target"
            )
        with self._libpq() as libpq:
            proc = self._drop_database(target, libpq, if_exists=True)
            if proc.returncode != 0:
                raise self._failure(libpq, f"DROP DATABASE {target}", proc.returncode, proc.stderr)

    def _drop_database(
        self, target: str, libpq: _Libpq, *, if_exists: bool = False
    ) -> subprocess.CompletedProcess[bytes]:
        # Connected to the configured database, never to `target`: one cannot drop one's own.
        statement = "DROP DATABASE IF EXISTS" if if_exists else "DROP DATABASE"
        return subprocess.run(
            [self._tool("psql"), *self._psql_args(), "-v", f"target={target}"],
            input=f'{statement} :"target";\n'.encode(),
            env=libpq.env,
            capture_output=True,
        )

    def _count_rows(self, dbname: str, libpq: _Libpq) -> dict[str, int]:
        proc = subprocess.run(
            [self._tool("psql"), *self._psql_args(dbname)],
            input=COUNT_ROWS_SQL.encode(),
            env=libpq.env,
            capture_output=True,
        )
        if proc.returncode != 0:
            raise self._failure(libpq, "counting rows", proc.returncode, proc.stderr)
        return {name: int(rows) for name, rows in json.loads(proc.stdout).items()}

    def row_counts(self, dbname: str | None = None) -> dict[str, int]:
        """Exact rows of every table of `dbname` (default: the configured database), now."""
        with self._libpq() as libpq:
            return self._count_rows(dbname or self._dbname, libpq)

    # ------------------------------------------------------------------ plumbing

    @property
    def _dbname(self) -> str:
        assert self.database.dbname is not None  # config refuses a postgresql db without one
        return self.database.dbname

    def _tool(self, name: str) -> str:
        if self.bin_dir is not None:
            return str(self.bin_dir / name)
        found = shutil.which(name)
        if found is None:
            raise BackupError(
                f"database {self.database.name!r}: {name} not found on PATH; expected the "
                "PostgreSQL client tools (e.g. apt-get install postgresql-client-15)"
            )
        return found

    def _connection_args(self, dbname: str | None = None) -> list[str]:
        args = [
            f"--host={self.database.host}",
            f"--port={self.database.port}",
            f"--dbname={dbname or self._dbname}",
            "--no-password",  # never prompt: a missing password is an error, not a hang
        ]
        if self.database.user:
            args.append(f"--username={self.database.user}")
        return args

    def _psql_args(self, dbname: str | None = None) -> list[str]:
        return ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", *self._connection_args(dbname)]

    def _password(self) -> str | None:
        reference = self.database.password
        if reference is None:
            return None
        try:
            return secrets.resolve(reference)
        except secrets.SecretError as exc:
            raise BackupError(f"database {self.database.name!r}: password {exc}") from None

    @contextmanager
    def _libpq(self) -> Iterator[_Libpq]:
        """The environment for libpq tools: our connection only, the password in a passfile."""
        env = {k: v for k, v in os.environ.items() if k not in _OVERRIDDEN_ENV}
        env.setdefault("PGCONNECT_TIMEOUT", "10")
        env["PGAPPNAME"] = "upkeep-backup"
        password = self._password()
        if password is None:
            yield _Libpq(env, None, None)
            return
        private = Path(tempfile.mkdtemp(prefix="upkeep-pgpass-"))  # 0700: ours alone
        passfile = private / "pgpass"
        try:
            descriptor = os.open(passfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                # Only this one password is in the file, so any host/port/database may use it.
                handle.write(f"*:*:*:*:{_passfile_escape(password)}\n")
            env["PGPASSFILE"] = str(passfile)
            yield _Libpq(env, password, self.database.password)
        finally:
            shutil.rmtree(private, ignore_errors=True)

    def _failure(
        self, libpq: _Libpq, what: str, code: int | None, stderr: str | bytes
    ) -> BackupError:
        if isinstance(stderr, bytes):
            stderr = stderr.decode(errors="replace")
        detail = stderr.strip()[-MAX_STDERR:] or "(no message)"
        # Scrub the whole message: a server may echo any connection setting back, and a
        # careless config may even name the database after the password.
        return BackupError(
            libpq.scrub(
                f"database {self.database.name!r} ({self.database.host}:{self.database.port}/"
                f"{self._dbname}): {what} failed (exit {code}): {detail}"
            )
        )


def _passfile_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace(":", "\\:")


def _check_name(target: str) -> None:
    # Plain names only: libpq reads a --dbname holding "=" or a URI as connection settings.
    if not _DATABASE_NAME.fullmatch(target):
        raise BackupError(
            f"restore target {target!r}: expected the name of a new database: up to "
            f"{MAX_NAME_BYTES} letters, digits, '_', '-' or '.', not starting with '-' or '.'"
        )


class _Session:
    """One psql process fed statements on stdin, read back line by line (unaligned, no headers).

    Keeps a transaction open across several statements while other processes (pg_dump) run.
    """

    def __init__(self, proc: subprocess.Popen[str], stderr: IO[bytes]) -> None:
        self._proc = proc
        self._stderr = stderr

    def send(self, sql: str) -> None:
        assert self._proc.stdin is not None
        with suppress(BrokenPipeError):  # psql exited: the next read_line reports why
            self._proc.stdin.write(sql)
            self._proc.stdin.flush()

    def read_line(self) -> str | None:
        """The next line psql printed, or None when it exited (an error, with ON_ERROR_STOP)."""
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        return line.rstrip("\n") if line else None

    def finish(self) -> tuple[int, str]:
        """Close psql's input, wait for it; return its exit code and what it wrote to stderr."""
        with suppress(BrokenPipeError):
            if self._proc.stdin is not None:
                self._proc.stdin.close()
        code = self._proc.wait()
        self._stderr.seek(0)
        return code, self._stderr.read().decode(errors="replace")


@contextmanager
def _psql_session(cmd: list[str], env: dict[str, str]) -> Iterator[_Session]:
    """A running psql; on an error inside the block it is killed (its transaction abandoned)."""
    with tempfile.TemporaryFile() as stderr:  # a file, not a pipe: it never fills up and blocks
        proc = subprocess.Popen(
            cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True
        )
        session = _Session(proc, stderr)
        try:
            yield session
        except BaseException:
            proc.kill()
            raise
        finally:
            session.finish()
