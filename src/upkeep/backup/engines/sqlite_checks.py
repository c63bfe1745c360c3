"""Responsible for what upkeep asks of a SQLite file besides its pages: the rows of every table,
and whether a restored file is sound (integrity_check, foreign_key_check). A schema may name a
collation of the application's own (Calibre's PYNOCASE, Android's LOCALIZED), which SQLite
refuses every statement that needs: `stand_in_collations` registers one that orders like BINARY,
and `integrity` leaves the orders it sorts unchecked, and says which.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence

__all__ = [
    "collated_orders",
    "foreign_keys",
    "integrity",
    "quote",
    "row_counts",
    "stand_in_collations",
    "summarise",
]


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def row_counts(connection: sqlite3.Connection) -> dict[str, int]:
    """Rows of every table (internal `sqlite_*` tables excepted), by table name.

    A virtual table whose module this SQLite lacks is left out: it is an extension's (a
    SpatiaLite database's spatial index, say), which upkeep never loads, and its rows are in
    ordinary tables of the file (its shadow tables, counted like any other) or not in the file
    at all. Counting it would only fail the backup of the whole database.
    """
    tables = connection.execute(
        "SELECT name, sql LIKE 'CREATE VIRTUAL TABLE%' FROM sqlite_schema "
        "WHERE type = 'table' AND name NOT LIKE 'sqlite!_%' ESCAPE '!' ORDER BY name"
    ).fetchall()
    counts = {}
    for name, virtual in tables:
        try:
            counts[name] = connection.execute(f"SELECT count(*) FROM {quote(name)}").fetchone()[0]
        except sqlite3.OperationalError as exc:
            if not (virtual and str(exc).startswith("no such module")):
                raise
    return counts


# Collations SQLite has of its own; any other a schema names is the application's.
_BUILT_IN_COLLATIONS = {"binary", "nocase", "rtrim"}
_COLLATE = re.compile(
    r"""\bCOLLATE(?:\s*(?:"((?:[^"]|"")+)"|'((?:[^']|'')+)'|`([^`]+)`|\[([^\]]+)\])|\s+(\w+))""",
    re.IGNORECASE,
)


def stand_in_collations(connection: sqlite3.Connection) -> tuple[str, ...]:
    """Register, on `connection`, a stand-in that orders like BINARY for each collation the
    schema names that this connection does not have (an application's own: Calibre's
    PYNOCASE, Android's LOCALIZED); return their names. Without one, SQLite refuses every
    statement that needs it: counting, sampling, checking. The stand-in orders differently
    from the real one, so an index built with it is not checked against its table."""
    known = {str(name).lower() for (_, name) in connection.execute("PRAGMA collation_list")}
    schema = " ".join(
        sql for (sql,) in connection.execute("SELECT sql FROM sqlite_schema WHERE sql NOT NULL")
    )
    names: list[str] = []
    for match in _COLLATE.finditer(schema):
        quoted, single, *others = match.groups()
        name = (
            quoted.replace('""', '"')
            if quoted is not None
            else single.replace("''", "'")
            if single is not None
            else next(group for group in others if group is not None)
        )
        if name.lower() not in known | _BUILT_IN_COLLATIONS and name not in names:
            names.append(name)
            connection.create_collation(name, _binary_order)
    return tuple(names)


def _binary_order(left: str, right: str) -> int:
    return (left > right) - (left < right)


def collated_orders(connection: sqlite3.Connection, collations: tuple[str, ...]) -> list[str]:
    """The indexes, and WITHOUT ROWID tables (their rows are in primary key order), with a key
    ordered by one of `collations`."""
    wanted = {name.lower() for name in collations}

    def collated(index: str) -> bool:
        rows = connection.execute("SELECT coll FROM pragma_index_xinfo(?) WHERE key", (index,))
        return any(str(coll).lower() in wanted for (coll,) in rows)

    indexes = [
        name
        for (name,) in connection.execute("SELECT name FROM sqlite_schema WHERE type = 'index'")
        if collated(name)
    ]
    tables = [
        table
        for (table,) in connection.execute(
            "SELECT name FROM pragma_table_list WHERE schema = 'main' AND wr"
        )
        if any(
            collated(index)
            for (index,) in connection.execute(
                "SELECT name FROM pragma_index_list(?) WHERE origin = 'pk'", (table,)
            )
        )
    ]
    return indexes + tables


def integrity(connection: sqlite3.Connection, unchecked: Sequence[str] = ()) -> list[str]:
    """What `PRAGMA integrity_check` finds wrong. With orders it cannot check (`unchecked`,
    sorted by a stand-in collation), the file's structure is checked whole (quick_check, which
    compares no order) and every table that owns none of them in full, on its own: a filter
    over one capped list of messages could let the stand-in's false ones hide real damage."""
    if not unchecked:
        rows = [row[0] for row in connection.execute("PRAGMA integrity_check")]
        return [] if rows == ["ok"] else [f"integrity_check: {row}" for row in rows]
    owners = {
        str(table)
        for name in unchecked
        for (table,) in connection.execute(
            "SELECT tbl_name FROM sqlite_schema WHERE name = ?", (name,)
        )
    }
    rows = [f"quick_check: {row}" for (row,) in connection.execute("PRAGMA quick_check")]
    for (table,) in connection.execute(
        "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type IN ('table', 'shadow')"
    ):
        if table not in owners:
            rows += [
                f"integrity_check: {row}"
                for (row,) in connection.execute(f"PRAGMA integrity_check({quote(table)})")
            ]
    return [row for row in rows if not row.endswith(": ok")]


def foreign_keys(connection: sqlite3.Connection) -> list[tuple[str, str]]:
    rows = connection.execute("PRAGMA foreign_key_check")
    return [(table, parent) for table, _, parent, _ in rows]


def summarise(violations: list[tuple[str, str]]) -> tuple[str, ...]:
    counts: dict[tuple[str, str], int] = {}
    for pair in violations:
        counts[pair] = counts.get(pair, 0) + 1
    return tuple(
        f"foreign_key_check: {n} row(s) of {table} reference missing {parent} rows"
        for (table, parent), n in sorted(counts.items())
    )
