"""Responsible for the canary of a PostgreSQL database: the heartbeat table, or the configured
query, through psql with the configured connection (the password only in a private passfile),
in the live database or in a restored copy on the same server."""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime

from upkeep.backup.engines.libpq import LibpqEnvironment, libpq_environment
from upkeep.config.disaster_drill import CANARY_TABLE
from upkeep.drill.canary.interface import KEEP_ROWS, Canary, CanaryError, parse_moment

__all__ = ["PostgreSQLCanary"]

MAX_STDERR = 2000
_WRITE = f"""
CREATE TABLE IF NOT EXISTS {CANARY_TABLE} (
    id bigserial PRIMARY KEY, written_at timestamptz NOT NULL, written_by text NOT NULL);
INSERT INTO {CANARY_TABLE} (written_at, written_by) VALUES (:'moment', :'by');
DELETE FROM {CANARY_TABLE} WHERE id <= (SELECT max(id) FROM {CANARY_TABLE}) - {KEEP_ROWS};
"""
_NEWEST = f"""
SELECT to_regclass('{CANARY_TABLE}') IS NOT NULL AS present \\gset
\\if :present
SELECT extract(epoch FROM max(written_at)) FROM {CANARY_TABLE};
\\endif
"""


class PostgreSQLCanary(Canary):
    engine = "postgresql"

    def _write(self, moment: datetime, by: str) -> None:
        self._psql(
            _WRITE,
            None,
            "writing the canary",
            variables={"moment": moment.isoformat(timespec="microseconds"), "by": by},
        )

    def _newest_row(self, target: str | None) -> datetime | None:
        found = self._psql(_NEWEST, target, "reading the canary")
        return parse_moment(found or None, f"database {self.database.name!r}")

    def _query(self, query: str, target: str | None) -> datetime | None:
        found = self._psql(query.rstrip().rstrip(";") + ";\n", target, "running canary_query")
        first = found.splitlines()[0] if found else None
        return parse_moment(first, f"database {self.database.name!r}")

    def _psql(
        self, sql: str, target: str | None, what: str, variables: dict[str, str] | None = None
    ) -> str:
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
        with libpq_environment(self.database) as libpq:
            proc = subprocess.run(args, input=sql, env=libpq.env, capture_output=True, text=True)
            if proc.returncode != 0:
                raise self._failure(libpq, what, dbname, proc.returncode, proc.stderr)
        return proc.stdout.strip()

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
