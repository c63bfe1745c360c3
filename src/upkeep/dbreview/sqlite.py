"""Responsible for reviewing a SQLite database: opened read-only (`mode=ro`, so a review can
never write to it), its foreign keys read with `pragma_foreign_key_list` and their orphans found
by SQLite's own check (`pragma_foreign_key_check`, one scan per table for all its keys; a key it
cannot check, and every logical relation, by a `NOT EXISTS` query), and every query cut off by a
progress handler once it runs past the statement timeout. A path that holds no SQLite database
(an empty file, which SQLite would open as a new empty one; a FIFO; a symlink loop) is refused
before it is opened, naming what is there."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote as url_quote

from upkeep.backup.samples import rowid_name
from upkeep.dbreview.interface import (
    OrphanCount,
    QueryError,
    QueryTimeout,
    Relation,
    ReviewConnection,
    quote,
)
from upkeep.regular_file import path_kind, read_regular

__all__ = ["SQLiteReview"]

# SQLite calls the progress handler every this many virtual-machine instructions: often enough
# to stop within milliseconds of the deadline, rarely enough to cost nothing measurable.
PROGRESS_STEPS = 10_000
BUSY_TIMEOUT_S = 5.0
# The first 16 bytes of every SQLite database file (https://sqlite.org/fileformat.html).
SQLITE_HEADER = b"SQLite format 3\x00"

_FOREIGN_KEYS = """
SELECT m.name AS child, f.id, f.seq, f."table" AS parent, f."from" AS child_column,
       f."to" AS parent_column, lower(f.on_delete) AS on_delete
FROM sqlite_schema AS m, pragma_foreign_key_list(m.name) AS f
WHERE m.type = 'table'
ORDER BY m.name, f.id, f.seq
"""


class SQLiteReview(ReviewConnection):
    """A SQLite file, opened read-only."""

    engine: ClassVar[str] = "sqlite"

    def __init__(self, path: Path, timeout_s: float) -> None:
        super().__init__(timeout_s)
        _check_database_file(path)
        uri = f"file:{url_quote(str(path))}?mode=ro"
        try:
            self._db = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S)
        except sqlite3.Error as exc:
            raise QueryError(f"{path}: cannot open: {exc}") from None
        # SQLite stores whatever bytes it was given as TEXT (a Latin-1 "Müller" from a legacy
        # import): read as UTF-8 where it is, never a query stopped by a value it cannot decode.
        self._db.text_factory = _lenient_text
        self._deadline = float("inf")
        self._table_checks: dict[str, dict[int, tuple[int, list[Any]]] | None] = {}
        self._db.set_progress_handler(self._past_deadline, PROGRESS_STEPS)

    def _past_deadline(self) -> int:
        return 1 if time.monotonic() > self._deadline else 0

    def _cursor(self, query: str, args: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        self._deadline = time.monotonic() + self.timeout_s
        try:
            return self._db.execute(query, args)
        except sqlite3.Error as exc:
            raise self._error(exc) from None

    def _error(self, exc: sqlite3.Error) -> QueryError:
        if isinstance(exc, sqlite3.OperationalError) and str(exc) == "interrupted":
            return QueryTimeout(f"cancelled after the statement timeout of {self.timeout_s:g} s")
        return QueryError(str(exc))

    def _fetch(self, cursor: sqlite3.Cursor) -> list[tuple[Any, ...]]:
        try:
            return cursor.fetchall()
        except sqlite3.Error as exc:
            raise self._error(exc) from None

    def declared_relations(self) -> list[Relation]:
        grouped: dict[tuple[str, int], list[tuple[Any, ...]]] = {}
        for row in self._fetch(self._cursor(_FOREIGN_KEYS)):
            grouped.setdefault((row[0], row[1]), []).append(row)
        relations = []
        for (child, _), rows in grouped.items():
            parent = rows[0][3]
            parent_columns = tuple(row[5] for row in rows)
            if any(column is None for column in parent_columns):  # REFERENCES parent: its key
                parent_columns = self._primary_key(parent)
            relations.append(
                Relation(
                    None,
                    child,
                    tuple(row[4] for row in rows),
                    None,
                    parent,
                    parent_columns,
                    on_delete=rows[0][6],
                    key_id=rows[0][1],
                )
            )
        return relations

    def _primary_key(self, table: str) -> tuple[str, ...]:
        rows = self._fetch(
            self._cursor("SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk", (table,))
        )
        return tuple(row[0] for row in rows) or (rowid_name(self._db, table) or "rowid",)

    def count_orphans(self, relation: Relation, samples: int) -> OrphanCount:
        if relation.key_id is not None:
            checked = self._checked_table(relation.child_table, samples)
            if checked is not None:
                count, rowids = checked.get(relation.key_id, (0, []))
                if None not in rowids:  # a WITHOUT ROWID table: its keys only by query
                    return OrphanCount(count, self._keys(relation, rowids))
        return self._count_by_query(relation, samples)

    def _checked_table(self, table: str, samples: int) -> dict[int, tuple[int, list[Any]]] | None:
        """SQLite's own check of every declared key of `table` in one scan of it (as `PRAGMA
        foreign_key_check` does): per key id, the orphans and the rowids of the first few.
        None when SQLite cannot check the table (a parent key that is not unique: "foreign key
        mismatch"), and then each relation is counted by its own query."""
        if table not in self._table_checks:
            found: dict[int, tuple[int, list[Any]]] | None = {}
            try:
                for rowid, key_id in self._cursor(
                    "SELECT rowid, fkid FROM pragma_foreign_key_check(?)", (table,)
                ):
                    count, rowids = found.get(key_id, (0, []))
                    if count < samples:
                        rowids.append(rowid)
                    found[key_id] = (count + 1, rowids)
            except sqlite3.Error as exc:  # raised while stepping through the rows
                error = self._error(exc)
                if isinstance(error, QueryTimeout):
                    raise error from None
                found = None
            except QueryTimeout:
                raise
            except QueryError:
                found = None
            self._table_checks[table] = found
        return self._table_checks[table]

    def _keys(self, relation: Relation, rowids: list[Any]) -> tuple[Any, ...]:
        # The rowid by a name no column took (a column may be called rowid).
        rowid = rowid_name(self._db, relation.child_table)
        if not rowids or rowid is None:
            return ()
        keys = ", ".join(quote(col) for col in relation.child_columns)
        marks = ", ".join("?" for _ in rowids)
        rows = self._fetch(
            self._cursor(
                f"SELECT {keys} FROM {relation.table_sql(parent=False)} "
                f"WHERE {rowid} IN ({marks}) ORDER BY {rowid}",
                tuple(rowids),
            )
        )
        return tuple(row[0] if len(row) == 1 else list(row) for row in rows)

    def _count_by_query(self, relation: Relation, samples: int) -> OrphanCount:
        # One pass: every orphan is counted here, the first few kept; no window to materialise.
        keys = ", ".join(f"c.{quote(col)}" for col in relation.child_columns)
        cursor = self._cursor(
            f"SELECT {keys} FROM {relation.table_sql(parent=False)} AS c "
            f"WHERE {relation.orphan_condition()}"
        )
        count, first = 0, []
        try:
            for row in cursor:
                if count < samples:
                    first.append(row[0] if len(row) == 1 else list(row))
                count += 1
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        return OrphanCount(count, tuple(first))

    def rows(self, query: str, *, database_search_path: bool = False) -> list[dict[str, Any]]:
        # SQLite has no search path: a name means the same to every query.
        cursor = self._cursor(query)
        rows = self._fetch(cursor)
        names = [column[0] for column in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in rows]

    def close(self) -> None:
        self._db.close()


def _check_database_file(path: Path) -> None:
    """QueryError naming what is at `path` unless it is a regular file (a symlink to one is
    fine) that starts with SQLite's header. Read without waiting: a FIFO is never opened."""
    try:
        header = read_regular(path, len(SQLITE_HEADER))
    except OSError as exc:
        kind = path_kind(path)
        if kind is None:
            raise QueryError(f"{path}: no such database file") from None
        if kind == "a regular file":  # there, but not to be read (a permission)
            raise QueryError(f"{path}: cannot open: {exc.strerror or exc}") from None
        raise QueryError(f"{path}: {kind}, not a database file") from None
    if not header:
        raise QueryError(f"{path}: an empty file, not a SQLite database")
    if header != SQLITE_HEADER:
        raise QueryError(f"{path}: not a SQLite database (it does not start with its header)")


def _lenient_text(value: bytes) -> str:
    return value.decode("utf-8", "replace")
