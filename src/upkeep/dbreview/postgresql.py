"""Responsible for reviewing a PostgreSQL database through one `psql` session: the configured
connection only, the password in a private passfile (`backup.engines.libpq`), every statement
under `statement_timeout` in its own read-only transaction, upkeep's own queries searching
pg_catalog only, each result read back as one JSON line, and a failed or cancelled statement
reported without ending the session; a superuser role is noted. Foreign keys come from
`pg_constraint`, `NOT VALID` ones included."""

from __future__ import annotations

import json
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
from contextlib import ExitStack, suppress
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from upkeep.backup.engines.interface import EngineError
from upkeep.backup.engines.libpq import SESSION_OPTIONS, LibpqEnvironment, libpq_environment
from upkeep.config import Database
from upkeep.dbreview.interface import (
    OrphanCount,
    QueryError,
    QueryTimeout,
    Relation,
    ReviewConnection,
    quote,
)

__all__ = ["SUPERUSER_NOTE", "PostgreSQLReview"]


def _literal(text: str) -> str:
    """`text` as a standard SQL string literal (the session forces standard strings)."""
    return "'" + text.replace("'", "''") + "'"


MAX_MESSAGE = 2000
ANSWER_GRACE_S = (
    30.0  # after the statement timeout, how long psql may stay silent before it is stopped
)
_TIMEOUT_TEXT = "canceling statement due to statement timeout"
_ON_DELETE = {
    "a": "no action",
    "r": "restrict",
    "c": "cascade",
    "n": "set null",
    "d": "set default",
}

# One row per foreign key; a partition's copy of its parent table's key (conparentid) is left
# out: the key of the partitioned table covers its rows. Its equality operators (conpfeqop) come
# from the operator classes of the parent's key, which only a superuser (an extension's script)
# can make: counting with them compares as the key does, wherever they live.
_FOREIGN_KEYS = """
SELECT c.conname AS name, cn.nspname AS child_schema, cl.relname AS child_table,
       (SELECT json_agg(a.attname ORDER BY k.i) FROM unnest(c.conkey) WITH ORDINALITY AS k(n, i)
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n) AS child_columns,
       pn.nspname AS parent_schema, pl.relname AS parent_table,
       (SELECT json_agg(a.attname ORDER BY k.i) FROM unnest(c.confkey) WITH ORDINALITY AS k(n, i)
        JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n) AS parent_columns,
       (SELECT json_agg(format('OPERATOR(%I.%s)', n.nspname, o.oprname) ORDER BY k.i)
        FROM unnest(c.conpfeqop) WITH ORDINALITY AS k(op, i)
        JOIN pg_operator o ON o.oid = k.op JOIN pg_namespace n ON n.oid = o.oprnamespace)
         AS operators,
       c.confdeltype AS on_delete, NOT c.convalidated AS not_valid,
       cl.relkind = 'r' AS child_only, pl.relkind = 'r' AS parent_only
FROM pg_constraint c
JOIN pg_class cl ON cl.oid = c.conrelid JOIN pg_namespace cn ON cn.oid = cl.relnamespace
JOIN pg_class pl ON pl.oid = c.confrelid JOIN pg_namespace pn ON pn.oid = pl.relnamespace
WHERE c.contype = 'f' AND c.conparentid = 0
  AND cn.nspname NOT IN ('pg_catalog', 'information_schema')
ORDER BY cn.nspname, cl.relname, c.conname
"""


# The review's role is often a superuser (one `user:` per database serves backup, review and
# compliance), while the database's owner may write to `public`: a function or operator there
# that fits a call's argument types better than the built-in one (a `format(text, name, name)`)
# would run with the role's rights. upkeep's own queries and shipped scripts therefore search
# pg_catalog only, as the backup sessions do; a user's own script keeps the database's search
# path, to name its tables unqualified. Each statement runs in a transaction of its own that
# says READ ONLY, so no function can make a later statement read-write (a SET of
# default_transaction_read_only lasts the session), and that is rolled back, which also undoes
# whatever else a function SET for the session.
# The equality operator of a logical relation's key column: from the default btree operator
# class of the parent column's type, for the parent's type on the left and the child's on the
# right (`p.parent OP c.child`); null when the family has none for these two types.
_KEY_OPERATOR = """
SELECT to_json(format('OPERATOR(%I.%s)', n.nspname, o.oprname))
FROM pg_attribute pa, pg_attribute ca, pg_opclass oc, pg_am am, pg_amop ao, pg_operator o,
     pg_namespace n
WHERE pa.attrelid = {parent}::regclass AND pa.attname = {parent_column}
  AND ca.attrelid = {child}::regclass AND ca.attname = {child_column}
  AND am.amname = 'btree' AND oc.opcmethod = am.oid AND oc.opcdefault
  AND oc.opcintype = pa.atttypid AND ao.amopfamily = oc.opcfamily AND ao.amopstrategy = 3
  AND ao.amoplefttype = pa.atttypid AND ao.amoprighttype = ca.atttypid
  AND o.oid = ao.amopopr AND n.oid = o.oprnamespace
LIMIT 1
"""
# For each key column of a table, whether its type was made in this database (an enum, a
# domain, an extension's) rather than built in: FirstNormalObjectId is 16384.
_MADE_TYPES = """
SELECT json_agg(a.atttypid >= 16384 ORDER BY k.i)
FROM unnest(ARRAY[{columns}]::text[]) WITH ORDINALITY AS k(name, i)
JOIN pg_attribute a ON a.attrelid = {child}::regclass AND a.attname = k.name
"""
_BEGIN = "BEGIN TRANSACTION READ ONLY;\n"
_CATALOG_ONLY = "SET LOCAL search_path = pg_catalog;\n"
_END = "ROLLBACK;\n"
_ROLE = (
    "SELECT json_build_object('role', current_user, "
    "'superuser', current_setting('is_superuser') = 'on')"
)
SUPERUSER_NOTE = (
    'the review runs as the superuser "{role}": a function the database\'s owner put in a '
    "schema it can write to could run with a superuser's rights if a query ever called it; a "
    "role with pg_monitor and pg_read_all_data (and EXECUTE on amcheck's bt_index_check) can "
    "review as much"
)


# Server messages that do not fail the statement, and the lines that may follow one. psql adds
# where in the statement a message points: a `LINE n:` (or a function body's `QUERY:`) line and
# a caret under the place. Those belong to the message too, but are left out of the note: they
# quote the statement, which may hold a value.
_NOTE_LEVELS = ("WARNING:", "NOTICE:", "INFO:", "LOG:", "DEBUG")
_NOTE_DETAILS = ("DETAIL:", "HINT:", "CONTEXT:")
_NOTE_POSITION = ("LINE ", "QUERY:")


class PostgreSQLReview(ReviewConnection):
    """A PostgreSQL database named by the config's host, port, dbname, user and password."""

    engine: ClassVar[str] = "postgresql"

    def __init__(self, database: Database, timeout_s: float, bin_dir: Path | None = None) -> None:
        super().__init__(timeout_s)
        self.database = database
        self._marker = f"--upkeep-review-{secrets.token_hex(8)}--"
        self._stack = ExitStack()
        try:
            self._libpq: LibpqEnvironment = self._stack.enter_context(libpq_environment(database))
        except EngineError as exc:
            raise QueryError(str(exc)) from None
        self._stderr = self._stack.enter_context(tempfile.TemporaryFile())  # noqa: SIM115
        self._seen = 0
        self._role_checked = False
        env = dict(self._libpq.env)
        env["PGAPPNAME"] = "upkeep-review"
        env["PGCLIENTENCODING"] = "UTF8"  # names and values as UTF-8, whatever the database's
        milliseconds = max(1, round(timeout_s * 1000))
        env["PGOPTIONS"] = (
            f"{SESSION_OPTIONS} -c statement_timeout={milliseconds} "
            f"-c lock_timeout={milliseconds} -c default_transaction_read_only=on"
        )
        psql = str(bin_dir / "psql") if bin_dir else shutil.which("psql")
        if psql is None:
            self._stack.close()
            raise QueryError("psql not found on PATH; expected the PostgreSQL client tools")
        self._proc = subprocess.Popen(
            [psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=0", *self._connection_args()],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            encoding="utf-8",
            errors="replace",
        )

    def _connection_args(self) -> list[str]:
        args = [
            f"--host={self.database.host}",
            f"--port={self.database.port}",
            f"--dbname={self.database.dbname}",
            "--no-password",
        ]
        if self.database.user:
            args.append(f"--username={self.database.user}")
        return args

    def _json(self, query: str, *, database_search_path: bool = False) -> Any:
        """The one JSON value `query` (one row, one column of type json) returns, in a read-only
        transaction of its own; searching pg_catalog only unless `database_search_path`."""
        if not self._role_checked:
            self._role_checked = True
            self._note_a_superuser()
        setup = _BEGIN if database_search_path else _BEGIN + _CATALOG_ONLY
        return self._answer(f"{setup}{query}\n;\n{_END}")

    def _note_a_superuser(self) -> None:
        found = self._answer(f"{_BEGIN}{_CATALOG_ONLY}{_ROLE};\n{_END}")
        if found and found["superuser"]:
            note = self._libpq.scrub(SUPERUSER_NOTE.format(role=found["role"]))
            self.server_notes.append(note)

    def _answer(self, statements: str) -> Any:
        """The one JSON value `statements` print, read up to the marker echoed after them."""
        assert self._proc.stdin is not None and self._proc.stdout is not None
        # The server cancels a statement at statement_timeout; should it never answer at all (a
        # network gone silent), psql is stopped a while later, so the review never hangs.
        watchdog = threading.Timer(self.timeout_s + ANSWER_GRACE_S, self._proc.kill)
        watchdog.start()
        try:
            with suppress(BrokenPipeError):
                self._proc.stdin.write(f"{statements}\\echo {self._marker}\n")
                self._proc.stdin.flush()
            lines = []
            while True:
                line = self._proc.stdout.readline()
                if not line:  # psql exited: it could not connect, or was stopped
                    self._proc.wait()
                    raise QueryError(self._message(self._new_stderr() or self._exited()))
                if line.rstrip("\n") == self._marker:
                    break
                lines.append(line)
        finally:
            watchdog.cancel()
        problem = self._new_stderr()
        if problem:
            if _TIMEOUT_TEXT in problem:
                raise QueryTimeout(f"cancelled after the statement timeout of {self.timeout_s:g} s")
            raise QueryError(self._message(problem))
        return json.loads("".join(lines)) if lines else None

    def _exited(self) -> str:
        if self._proc.returncode == -signal.SIGKILL:
            return (
                f"no answer from the server {ANSWER_GRACE_S:g} s after the statement timeout "
                f"of {self.timeout_s:g} s; psql was stopped"
            )
        return f"psql exited ({self._proc.returncode})"

    def _new_stderr(self) -> str:
        """What psql wrote to stderr since the last look that is a failure. A message the server
        sends without failing anything (a WARNING such as a collation version mismatch after an
        OS upgrade, a NOTICE), with its DETAIL and HINT lines, goes to `server_notes` instead;
        the lines showing where it points are dropped."""
        self._stderr.seek(self._seen)
        text = self._stderr.read().decode(errors="replace")
        self._seen += len(text.encode())
        lines = [
            line.split(": ", 1)[-1] if line.startswith("psql:") else line
            for line in text.strip().splitlines()
        ]
        problems: list[str] = []
        notes: list[list[str]] = []
        in_note = False
        for line in lines:
            if line.startswith(_NOTE_LEVELS):
                notes.append([line])
                in_note = True
            elif in_note and line.startswith(_NOTE_DETAILS):
                notes[-1].append(line)
            elif in_note and (line.startswith(_NOTE_POSITION) or line.strip() == "^"):
                continue
            else:
                in_note = False
                problems.append(line)
        for note in notes:
            text = self._libpq.scrub(" ".join(" ".join(part.split()) for part in note))
            if text not in self.server_notes:
                self.server_notes.append(text)
        return "\n".join(problems).strip()

    def _message(self, detail: str) -> str:
        where = f"{self.database.host}:{self.database.port}/{self.database.dbname}"
        return self._libpq.scrub(f"{where}: {detail[-MAX_MESSAGE:]}")

    def declared_relations(self) -> list[Relation]:
        return [
            Relation(
                row["child_schema"],
                row["child_table"],
                tuple(row["child_columns"]),
                row["parent_schema"],
                row["parent_table"],
                tuple(row["parent_columns"]),
                on_delete=_ON_DELETE[row["on_delete"]],
                not_valid=row["not_valid"],
                constraint=row["name"],
                child_only=row["child_only"],
                parent_only=row["parent_only"],
                operators=tuple(row["operators"]),
            )
            for row in self.rows(_FOREIGN_KEYS)
        ]

    def count_orphans(self, relation: Relation, samples: int) -> OrphanCount:
        relation = self._with_operators(self._with_schemas(relation))
        # A sample key of a type that is not built in is read as text: turning it into JSON
        # would call a cast to json the type's owner may have given it, with the review's rights.
        made = self._json(
            _MADE_TYPES.format(
                child=_literal(relation.table_sql(parent=False)),
                columns=", ".join(_literal(col) for col in relation.child_columns),
            )
        ) or [False] * len(relation.child_columns)
        columns = [
            f"format('%s', c.{quote(col)})" if user_type else f"c.{quote(col)}"
            for col, user_type in zip(relation.child_columns, made, strict=True)
        ]
        key = (
            f"to_json({columns[0]})"
            if len(columns) == 1
            else f"json_build_array({', '.join(columns)})"
        )
        found = self._json(
            "SELECT json_build_object('orphans', count(*), 'samples', "
            f"coalesce(json_agg(o.k) FILTER (WHERE o.n <= {int(samples)}), '[]')) "
            f"FROM (SELECT {key} AS k, row_number() OVER () AS n "
            f"FROM {relation.from_sql(parent=False)} AS c "
            f"WHERE {relation.orphan_condition(key_operators=True)}) AS o"
        )
        return OrphanCount(found["orphans"], tuple(found["samples"]))

    def _with_schemas(self, relation: Relation) -> Relation:
        """`relation` with the schema of each table the config named without one, where the
        database's search path finds it: the counting query searches pg_catalog only."""
        if relation.child_schema is None:
            relation = replace(relation, child_schema=self._schema_of(relation.child_table))
        if relation.parent_schema is None:
            relation = replace(relation, parent_schema=self._schema_of(relation.parent_table))
        return relation

    def _with_operators(self, relation: Relation) -> Relation:
        """`relation` with the equality operator of each key column when the config named it
        (a declared key brings its own): the one the parent column type's default btree
        operator class holds for these two types, as a unique index on that column compares
        (a citext key compares without case), else pg_catalog's `=`. Operator classes are a
        superuser's (an extension script's) to make: no database owner chose them."""
        if relation.operators:
            return relation
        operators = []
        for parent, child in zip(relation.parent_columns, relation.child_columns, strict=True):
            found = self._json(
                _KEY_OPERATOR.format(
                    parent=_literal(relation.table_sql(parent=True)),
                    child=_literal(relation.table_sql(parent=False)),
                    parent_column=_literal(parent),
                    child_column=_literal(child),
                )
            )
            operators.append(found or "=")
        return replace(relation, operators=tuple(operators))

    def _schema_of(self, table: str) -> str:
        name = quote(table).replace("'", "''")
        # Every function, operator and catalog table here is named with its schema: the
        # database's search path, which may hold its owner's functions, only finds the table.
        return self._json(
            "SELECT pg_catalog.to_json(n.nspname) FROM pg_catalog.pg_class c "
            "JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace "
            f"WHERE c.oid OPERATOR(pg_catalog.=) '{name}'::pg_catalog.regclass",
            database_search_path=True,
        )

    def rows(self, query: str, *, database_search_path: bool = False) -> list[dict[str, Any]]:
        found = self._json(
            f"SELECT coalesce(json_agg(q), '[]') FROM (\n{query}\n) AS q",
            database_search_path=database_search_path,
        )
        if found is None:
            # This always prints one line: none means psql took the `;` for part of the
            # statement (a parenthesis it opens and never closes) and still waits for its end,
            # holding every statement sent after it. Its buffer is emptied for the next one.
            with suppress(BrokenPipeError):
                assert self._proc.stdin is not None
                self._proc.stdin.write("\\r\n")
                self._proc.stdin.flush()
            raise QueryError(
                self._message("the statement never ended (a parenthesis opened and not closed?)")
            )
        return found

    def close(self) -> None:
        with suppress(BrokenPipeError, OSError):
            if self._proc.stdin is not None:
                self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._stack.close()
