"""Responsible for the canary of a PostgreSQL database: the heartbeat table, or the configured
query, through psql with the configured connection (the password only in a private passfile),
in the live database or in a restored copy on the same server. The query runs alone, as the one
statement of a read-only transaction, so it cannot change data. The heartbeat table is
`upkeep_canary` in the first schema of the role's search path (its own schema, else public),
written and read with only pg_catalog searched, and only when the role upkeep connects as owns
it: another role's table could run that role's code as ours (a trigger, a view)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from datetime import datetime

from upkeep.backup.engines.interface import EngineError
from upkeep.backup.engines.libpq import LibpqEnvironment, libpq_environment
from upkeep.config.disaster_drill import CANARY_TABLE
from upkeep.drill.canary.interface import KEEP_ROWS, Canary, CanaryError, parse_moment

__all__ = ["PostgreSQLCanary"]

MAX_STDERR = 2000
# What psql prints, instead of writing or reading, when the table is not ours; then its owner
# and the table, a line each.
_NOT_OURS = "upkeep-canary-not-ours"
# The table is where an unqualified CREATE TABLE of the role puts it (the first schema of its
# search path that exists: its own schema, else public), found before anything else is
# searched, by pg_catalog's current_schemas named with its schema: a database owner may put
# public before pg_catalog in the path, and a public.current_schemas(boolean) of theirs. From
# then on only pg_catalog is searched.
_WHERE = f"""\
SELECT coalesce((pg_catalog.current_schemas(false))[1], 'public') AS canary_schema \\gset
SET search_path = pg_catalog;
SELECT format('%I.%I', :'canary_schema', '{CANARY_TABLE}') AS canary_table \\gset
"""
# Whether the heartbeat table exists, is a plain table and is owned by the connected role. Looked
# at again once locked: the owner of the schema could have dropped and replaced it meanwhile.
_OWNER = """\
SELECT t.oid IS NOT NULL AS canary_present,
       coalesce(c.relkind = 'r' AND c.relowner = (SELECT oid FROM pg_roles
                                                   WHERE rolname = current_user), false)
         AS canary_ours,
       coalesce(pg_get_userbyid(c.relowner), '') AS canary_owner
FROM (SELECT to_regclass(:'canary_table')::oid AS oid) AS t LEFT JOIN pg_class c ON c.oid = t.oid
\\gset
"""
_REFUSED = f"""\
\\echo {_NOT_OURS}
\\echo :canary_owner
\\echo :canary_table
"""
_WRITE = f"""\
{_WHERE}BEGIN;
CREATE TABLE IF NOT EXISTS :canary_table (
    id bigserial PRIMARY KEY, written_at timestamptz NOT NULL, written_by text NOT NULL);
{_OWNER}\\if :canary_ours
LOCK TABLE :canary_table IN ROW EXCLUSIVE MODE;
{_OWNER}\\endif
\\if :canary_ours
INSERT INTO :canary_table (written_at, written_by) VALUES (:'moment', :'by');
DELETE FROM :canary_table WHERE id <= (SELECT max(id) FROM :canary_table) - {KEEP_ROWS};
COMMIT;
\\else
{_REFUSED}ROLLBACK;
\\endif
"""
_NEWEST = f"""\
{_WHERE}BEGIN;
{_OWNER}\\if :canary_ours
LOCK TABLE :canary_table IN ACCESS SHARE MODE;
{_OWNER}\\endif
\\if :canary_ours
SELECT extract(epoch FROM max(written_at)) FROM :canary_table;
\\elif :canary_present
{_REFUSED}\\endif
COMMIT;
"""
# canary_query is sent as it is written (psql -c: no psql commands, no variables), between a
# BEGIN READ ONLY and a ROLLBACK sent apart from it: as one statement it can neither end that
# transaction and go on, nor make it read-write once it runs; a procedure or DO block it calls
# cannot commit inside it. Every later transaction of the session is read-only as well.
_READ_ONLY = "-c default_transaction_read_only=on"
_READ_ONLY_REFUSED = "read-only transaction"


class PostgreSQLCanary(Canary):
    engine = "postgresql"

    def _write(self, moment: datetime, by: str) -> None:
        self._psql(
            None,
            "writing the canary",
            script=_WRITE,
            variables={"moment": moment.isoformat(timespec="microseconds"), "by": by},
        )

    def _newest_row(self, target: str | None) -> datetime | None:
        found = self._psql(target, "reading the canary", script=_NEWEST)
        return parse_moment(found or None, f"database {self.database.name!r}")

    def _query(self, query: str, target: str | None) -> datetime | None:
        statement = self._one_statement(query)
        try:
            found = self._psql(
                target,
                "running canary_query",
                commands=("BEGIN READ ONLY", statement, "ROLLBACK"),
                options=_READ_ONLY,
            )
        except CanaryError as exc:
            if _READ_ONLY_REFUSED not in str(exc):
                raise
            raise CanaryError(
                f"{exc}; canary_query must only read: upkeep runs it in a read-only "
                "transaction and writes nothing into the database unless canary: table opts in"
            ) from None
        first = found.splitlines()[0] if found else None
        return parse_moment(first, f"database {self.database.name!r}")

    def _one_statement(self, query: str) -> str:
        """`query` without its closing semicolons; refused when it is more than one statement
        (a ';' inside it) or a psql command (it starts with a backslash)."""
        statement = query.strip().rstrip(";").rstrip()
        if ";" in statement or statement.startswith("\\"):
            raise CanaryError(
                f"database {self.database.name!r}: canary_query {statement[:80]!r}: expected one "
                "SQL query (a SELECT) with no ';' inside it; upkeep runs it alone, read-only"
            )
        return statement

    def _psql(
        self,
        target: str | None,
        what: str,
        *,
        script: str = "",
        commands: Sequence[str] = (),
        variables: dict[str, str] | None = None,
        options: str | None = None,
    ) -> str:
        """What psql prints running `script` (its input), or `commands` (each a -c of its own);
        `options` are added to the session's PGOPTIONS."""
        psql = shutil.which("psql")
        if psql is None:
            raise CanaryError(
                f"database {self.database.name!r}: psql not found on PATH; expected the "
                "PostgreSQL client tools"
            )
        dbname = target or self.database.dbname
        args = [
            psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
            f"--host={self.database.host}", f"--port={self.database.port}",
            f"--dbname={dbname}", "--no-password",
        ]  # fmt: skip
        if self.database.user:
            args.append(f"--username={self.database.user}")
        for name, value in (variables or {}).items():
            args += ["-v", f"{name}={value}"]
        for command in commands:
            args += ["-c", command]
        try:
            with libpq_environment(self.database) as libpq:
                env = libpq.env
                if options is not None:  # the last setting of a name wins
                    env = {**env, "PGOPTIONS": f"{env['PGOPTIONS']} {options}"}
                proc = subprocess.run(args, input=script, env=env, capture_output=True, text=True)
                if proc.returncode != 0:
                    raise self._failure(libpq, what, dbname, proc.returncode, proc.stderr)
        except EngineError as exc:  # the password cannot be had (the message names the database)
            raise CanaryError(str(exc)) from None
        found = proc.stdout.strip()
        if found.startswith(_NOT_OURS):
            _, owner, table = [*found.splitlines(), "", ""][:3]
            raise CanaryError(
                f"database {self.database.name!r} ({dbname}): {what}: {table} is not a table "
                f"of the role upkeep connects as (its owner is {owner or '(unknown)'}); upkeep "
                "writes and reads only its own, to which no other role can have added a trigger "
                f"or a rule: drop it, or give it to that role (ALTER TABLE {table} OWNER TO ...)"
            )
        return found

    def _failure(
        self, libpq: LibpqEnvironment, what: str, dbname: str | None, code: int, stderr: str
    ) -> CanaryError:
        detail = stderr.strip()[-MAX_STDERR:] or "(no message)"
        return CanaryError(
            libpq.scrub(
                f"database {self.database.name!r} ({self.database.host}:{self.database.port}/"
                f"{dbname}): {what} failed (exit {code}): {detail}"
            )
        )
