"""Responsible for backing up and restoring PostgreSQL databases with pg_dump and pg_restore.

The snapshot is an uncompressed custom-format archive (`pg_dump -Fc -Z0`): uncompressed so that
unchanged table data gives unchanged bytes, which content-defined chunking then deduplicates and
the store compresses with zstd. pg_dump runs on a snapshot exported by a REPEATABLE READ
transaction that also counts every table's rows, so the counts in the manifest are exactly those of
the dump even while other sessions write. Restore goes into a NEW database, of the configured
database's encoding and locale, with `pg_restore --exit-on-error --single-transaction` (with
`--no-owner --no-privileges` when the config's `restore_owner` is false, for a least-privilege
role), private to its owner; `drop` removes such a database again (the runbook's verification
restore is thrown away after its checks). A check's scratch restore leaves out publications and
subscriptions, and is retried without an extension the role may not create, or outside one
transaction when the server's lock table cannot hold it; each such retry is named in the report's
notes. The tools run with the configured connection only and the password in a private passfile
(`engines.libpq`); the row counts come from `scripts/db-health/postgresql/row-counts.sql`.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

from upkeep.backup.chunking import DEFAULT_SIZES, ChunkSizes, chunk_ends_of_file
from upkeep.backup.engines.interface import (
    DatabaseEngine,
    EngineError,
    RestoreReport,
    RestoreTargetError,
    Snapshot,
)
from upkeep.backup.engines.libpq import (
    LibpqEnvironment,
    PsqlSession,
    libpq_environment,
    psql_session,
)
from upkeep.backup.engines.postgresql_sql import (
    SESSION_SETUP,
    count_rows_sql,
    parse_samples,
    sample_hashes_sql,
    without_extensions,
)
from upkeep.backup.samples import (
    POSTGRESQL_METHOD,
    SampleHashes,
    SampleSpec,
    TableSample,
    new_sample_spec,
)
from upkeep.config import Database

__all__ = ["PostgreSQLEngine"]

MAX_STDERR = 4000
# PostgreSQL's identifier limit (NAMEDATALEN - 1) in bytes; longer names would be truncated.
MAX_NAME_BYTES = 63
_DATABASE_NAME = re.compile(rf"[A-Za-z0-9_][A-Za-z0-9_.-]{{0,{MAX_NAME_BYTES - 1}}}")
RESTORE_OPTIONS = "-c default_transaction_read_only=off"
# A restore into a verification's scratch database (see `verification_target`) is checked and
# dropped: it leaves out publications and subscriptions (no data; a subscription keeps DROP
# DATABASE from working, and names the source's replication slot) and, when the role may not
# create them, extensions pg_restore is refused (up to this many, each one retried once).
VERIFY_PREFIX = "upkeep_verify_"
MAX_SKIPPED_EXTENSIONS = 10
_DENIED_EXTENSION = re.compile(r'permission denied to create extension "([^"]+)"')
# The restored copy takes the encoding and locale of the database backed up (this session is
# connected to it), not the server's defaults: a LATIN1 database restored as UTF8 would hold the
# same rows, yet print them differently (jsonb orders an object's keys by their length in
# bytes), and its sample hashes would never match. psql quotes the values (:'name').
_CREATE_LIKE_SOURCE = """\
SELECT pg_encoding_to_char(encoding) AS source_encoding, datcollate AS source_collate,
       datctype AS source_ctype
FROM pg_database WHERE datname = current_database() \\gset
CREATE DATABASE :"target" TEMPLATE template0 ENCODING :'source_encoding'
  LC_COLLATE :'source_collate' LC_CTYPE :'source_ctype';
REVOKE ALL ON DATABASE :"target" FROM PUBLIC;
"""


# A stopped restore drops the database it made; the killed pg_restore may hold it a moment.
DROP_TRIES = 10
DROP_WAIT_S = 0.3


class PostgreSQLEngine(DatabaseEngine):
    """A PostgreSQL database named by the config's host, port, dbname, user and password."""

    engine = "postgresql"
    chunk_sizes: ChunkSizes = DEFAULT_SIZES

    def __init__(self, database: Database, *, bin_dir: Path | None = None) -> None:
        super().__init__(database)
        self.bin_dir = bin_dir

    # ------------------------------------------------------------------ backup

    def snapshot(self, dest: Path, *, sample_rows: int = 0) -> Snapshot:
        if dest.exists():
            raise EngineError(f"snapshot file {dest} exists already; expected a new path")
        spec = new_sample_spec(sample_rows, POSTGRESQL_METHOD) if sample_rows else None
        with libpq_environment(self.database) as libpq:
            try:
                version, counts, samples = self._dump_in_snapshot(dest, libpq, spec)
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
            samples=samples,
        )

    def _dump_in_snapshot(
        self, dest: Path, libpq: LibpqEnvironment, spec: SampleSpec | None
    ) -> tuple[str, dict[str, int], SampleHashes | None]:
        """Export a snapshot, dump it while counting (and sampling) rows in it; return
        (version, counts, sample hashes)."""
        with psql_session([self._tool("psql"), *self._psql_args()], libpq.env) as session:
            session.send(
                SESSION_SETUP + "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;\n"
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
                session.send(count_rows_sql())
                counts_line = self._expect(session, libpq, "count rows")
                samples_line = None
                if spec is not None:
                    session.send(sample_hashes_sql(spec))
                    samples_line = self._expect(session, libpq, "take sample hashes")
                _, stderr = dump.communicate()
            except BaseException:
                dump.kill()
                dump.wait()
                raise
            if dump.returncode != 0:
                raise self._failure(libpq, "pg_dump", dump.returncode, stderr)
            session.send("COMMIT;\n")
        counts = {name: int(rows) for name, rows in json.loads(counts_line).items()}
        samples = None
        if spec is not None and samples_line is not None:
            samples = SampleHashes(spec, parse_samples(samples_line))
        return version, counts, samples

    def _expect(self, session: PsqlSession, libpq: LibpqEnvironment, what: str) -> str:
        """The next line of psql's answer; psql's own error when it has none."""
        line = session.read_line()
        if line is None:
            code, stderr = session.finish()
            raise self._failure(libpq, f"psql ({what})", code, stderr)
        return line

    def boundaries(self, snapshot: Snapshot) -> Iterator[int]:
        return chunk_ends_of_file(snapshot.path, self.chunk_sizes)

    # ------------------------------------------------------------------ restore

    def restore_target(self, target: str) -> str:
        """`target` if it can name a new database and no database of that name exists yet."""
        _check_name(target)
        with libpq_environment(self.database) as libpq:
            proc = subprocess.run(
                [self._tool("psql"), *self._psql_args(), "-v", f"target={target}"],
                input=SESSION_SETUP.encode()
                + b"SELECT count(*) FROM pg_database WHERE datname = :'target';\n",
                env=libpq.env,
                capture_output=True,
            )
            if proc.returncode != 0:
                raise self._failure(
                    libpq, "looking up the restore target", proc.returncode, proc.stderr
                )
        if proc.stdout.strip() != b"0":
            raise _target_exists(target)
        return target

    def verification_target(self, scratch: Path, backup_id: str) -> str:
        """A new database named after the backup (scratch is not needed: it lives on the server)."""
        return f"{VERIFY_PREFIX}{backup_id.replace('-', '_')}".lower()[:MAX_NAME_BYTES]

    def restore(self, snapshot_file: Path, target: str) -> RestoreReport:
        _check_name(target)
        scratch = target.startswith(VERIFY_PREFIX)
        skipped: list[str] = []
        whole = True  # one transaction: a restore that fails leaves nothing behind
        with libpq_environment(self.database) as libpq:
            while True:
                try:
                    self._create_database(target, libpq)
                    proc = self._pg_restore(snapshot_file, target, libpq, scratch, skipped, whole)
                except KeyboardInterrupt:
                    # Stopped (Ctrl-C, SIGTERM: upkeep's Stopped is one) while the database was
                    # made or pg_restore ran: it holds nothing whole, and left there it would
                    # block the next restore under its name. The name was free before (see
                    # restore_target), so dropping it if it exists drops only ours. (A SIGKILL
                    # cannot be caught: that one stays.)
                    with contextlib.suppress(Exception):
                        self._drop_when_free(target, libpq)
                    raise
                if proc.returncode == 0:
                    break
                detail = libpq.scrub(proc.stderr.decode(errors="replace")).strip()
                # The database we created holds nothing (one transaction, rolled back) or part
                # of the archive: keeping it would only block a second try under the same name.
                dropped = self._drop_database(target, libpq).returncode == 0
                denied = _DENIED_EXTENSION.search(detail)
                if (
                    scratch
                    and dropped
                    and denied is not None
                    and denied[1] not in skipped
                    and len(skipped) < MAX_SKIPPED_EXTENSIONS
                ):
                    skipped.append(denied[1])
                    continue
                if scratch and dropped and whole and "max_locks_per_transaction" in detail:
                    # Thousands of tables: more locks than the server's lock table holds in one
                    # transaction. The scratch database is dropped whatever happens to it.
                    whole = False
                    continue
                return RestoreReport(
                    self.engine,
                    target,
                    (
                        f"pg_restore exited {proc.returncode}: {detail[-MAX_STDERR:]}",
                        *self._ownership_hint(detail),
                        f"the new database {target!r} was "
                        + ("dropped again" if dropped else "left empty; drop it by hand"),
                    ),
                    {},
                )
            notes = tuple(
                f"extension {name!r} left out of this check's restore: the role "
                f"{self.database.user or '(default)'} may not create it (superuser only)"
                for name in skipped
            ) + (
                ()
                if whole
                else (
                    "restored statement by statement, not in one transaction: the server's lock"
                    " table (max_locks_per_transaction) cannot hold every table's lock at once",
                )
            )
            return RestoreReport(self.engine, target, (), self._count_rows(target, libpq), notes)

    def _pg_restore(
        self,
        snapshot_file: Path,
        target: str,
        libpq: LibpqEnvironment,
        scratch: bool,
        skipped: list[str],
        whole: bool = True,
    ) -> subprocess.CompletedProcess[bytes]:
        """Run pg_restore into `target`; a scratch restore without publications and
        subscriptions, and without the `skipped` extensions (a use-list of the rest)."""
        args = [
            self._tool("pg_restore"),
            *self._connection_args(target),
            "--exit-on-error",
            *(["--single-transaction"] if whole else []),
            *self._ownership_args(),
        ]
        if scratch:
            args += ["--no-publications", "--no-subscriptions"]
        if skipped:
            use_list = snapshot_file.with_name(f"{snapshot_file.name}.use-list")
            use_list.write_bytes(self._without_extensions(snapshot_file, skipped, libpq))
            args.append(f"--use-list={use_list}")
        # pg_restore sets its own timeouts to 0, not default_transaction_read_only, which a
        # hardened role may have on (ALTER ROLE ... SET): its restore would write nothing.
        options = " ".join(filter(None, (libpq.env.get("PGOPTIONS"), RESTORE_OPTIONS)))
        return subprocess.run(
            [*args, str(snapshot_file)],
            env={**libpq.env, "PGOPTIONS": options},
            stdin=subprocess.DEVNULL,
            capture_output=True,
        )

    def _without_extensions(
        self, snapshot_file: Path, names: list[str], libpq: LibpqEnvironment
    ) -> bytes:
        """The archive's table of contents (`pg_restore --list`) without the entries that
        create the extensions `names`, or comment on them."""
        proc = subprocess.run(
            [self._tool("pg_restore"), "--list", str(snapshot_file)],
            env=libpq.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
        )
        if proc.returncode != 0:
            raise self._failure(libpq, "pg_restore --list", proc.returncode, proc.stderr)
        return without_extensions(proc.stdout, names)

    def _create_database(self, target: str, libpq: LibpqEnvironment) -> None:
        # template0: an empty database, whatever was added to template1 on this server.
        # CREATE DATABASE itself refuses an existing name, so there is no check-then-act race.
        # Connecting is then left to its owner (and superusers): a restored copy holds every
        # row of the source, and is as private as the backup it came from.
        proc = subprocess.run(
            [self._tool("psql"), *self._psql_args(), "-v", f"target={target}"],
            input=(SESSION_SETUP + _CREATE_LIKE_SOURCE).encode(),
            env=libpq.env,
            capture_output=True,
        )
        if proc.returncode == 0:
            return
        stderr = libpq.scrub(proc.stderr.decode(errors="replace")).strip()
        if "already exists" in stderr:
            raise _target_exists(target)
        raise self._failure(libpq, "CREATE DATABASE for the restore", proc.returncode, stderr)

    def _ownership_args(self) -> list[str]:
        """pg_restore's options for owners and privileges, as the config asks.

        With `restore_owner: false` every object belongs to the restoring role and no GRANT is
        replayed: what a least-privilege role (`pg_read_all_data` and `CREATEDB`) can restore.
        """
        return [] if self.database.restore_owner else ["--no-owner", "--no-privileges"]

    def _ownership_hint(self, detail: str) -> tuple[str, ...]:
        if self.database.restore_owner and "must be member of role" in detail:
            return (
                f"the role {self.database.user or '(default)'} cannot give objects their "
                "owners: set restore_owner: false for database "
                f"{self.database.name!r} in upkeep.yml to restore them as its own",
            )
        return ()

    def drop(self, target: str) -> None:
        """Drop the database `target` that `restore` made; a target already gone is no error.

        Refuses the configured database itself: only restore targets are ever dropped here.
        """
        _check_name(target)
        if target == self._dbname:
            raise EngineError(
                f"database {self.database.name!r}: refusing to drop {target!r}, the database "
                "that is backed up; expected the name of a restore target"
            )
        with libpq_environment(self.database) as libpq:
            proc = self._drop_database(target, libpq, if_exists=True)
            if proc.returncode != 0:
                raise self._failure(libpq, f"DROP DATABASE {target}", proc.returncode, proc.stderr)

    def _drop_when_free(self, target: str, libpq: LibpqEnvironment) -> None:
        """Drop `target` once the killed pg_restore's session has left it (a second or so)."""
        for _ in range(DROP_TRIES):
            if self._drop_database(target, libpq, if_exists=True).returncode == 0:
                return
            time.sleep(DROP_WAIT_S)

    def _drop_database(
        self, target: str, libpq: LibpqEnvironment, *, if_exists: bool = False
    ) -> subprocess.CompletedProcess[bytes]:
        # Connected to the configured database, never to `target`: one cannot drop one's own.
        statement = "DROP DATABASE IF EXISTS" if if_exists else "DROP DATABASE"
        return subprocess.run(
            [self._tool("psql"), *self._psql_args(), "-v", f"target={target}"],
            input=f'{SESSION_SETUP}{statement} :"target";\n'.encode(),
            env=libpq.env,
            capture_output=True,
        )

    def _count_rows(self, dbname: str, libpq: LibpqEnvironment) -> dict[str, int]:
        proc = subprocess.run(
            [self._tool("psql"), *self._psql_args(dbname)],
            input=(SESSION_SETUP + count_rows_sql()).encode(),
            env=libpq.env,
            capture_output=True,
        )
        if proc.returncode != 0:
            raise self._failure(libpq, "counting rows", proc.returncode, proc.stderr)
        return {name: int(rows) for name, rows in json.loads(proc.stdout).items()}

    def sample_hashes(self, target: str, spec: SampleSpec) -> dict[str, TableSample]:
        _check_name(target)
        with libpq_environment(self.database) as libpq:
            proc = subprocess.run(
                [self._tool("psql"), *self._psql_args(target)],
                input=(SESSION_SETUP + sample_hashes_sql(spec)).encode(),
                env=libpq.env,
                capture_output=True,
            )
            if proc.returncode != 0:
                raise self._failure(libpq, "taking sample hashes", proc.returncode, proc.stderr)
        return parse_samples(proc.stdout)

    def row_counts(self, dbname: str | None = None) -> dict[str, int]:
        """Exact rows of every table of `dbname` (default: the configured database), now."""
        with libpq_environment(self.database) as libpq:
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
            raise EngineError(
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

    def _failure(
        self, libpq: LibpqEnvironment, what: str, code: int | None, stderr: str | bytes
    ) -> EngineError:
        if isinstance(stderr, bytes):
            stderr = stderr.decode(errors="replace")
        detail = stderr.strip()[-MAX_STDERR:] or "(no message)"
        # Scrub the whole message: a server may echo any connection setting back, and a
        # careless config may even name the database after the password.
        return EngineError(
            libpq.scrub(
                f"database {self.database.name!r} ({self.database.host}:{self.database.port}/"
                f"{self._dbname}): {what} failed (exit {code}): {detail}"
            )
        )


def _target_exists(target: str) -> RestoreTargetError:
    return RestoreTargetError(
        f"restore target database {target!r} exists already; expected the name of a NEW "
        "database (restore never overwrites)"
    )


def _check_name(target: str) -> None:
    # Plain names only: libpq reads a --dbname holding "=" or a URI as connection settings.
    if not _DATABASE_NAME.fullmatch(target):
        raise RestoreTargetError(
            f"restore target {target!r}: expected the name of a new database: up to "
            f"{MAX_NAME_BYTES} letters, digits, '_', '-' or '.', not starting with '-' or '.'"
        )
