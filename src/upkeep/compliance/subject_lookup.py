"""Responsible for the data-subject lookup (access and erasure requests, GDPR articles 15 and
17): every row of every table of a database holding a subject's identifier (an e-mail address,
a phone number, a customer number) in any of its text columns, ignoring case, read-only. Each
row is named by its primary key (every column when the table has none) with the columns that
hold the identifier; `with_rows` adds the row's values, for an access request's answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from upkeep.compliance.dialects import Column, Dialect
from upkeep.dbreview.interface import ReviewConnection, quote

__all__ = ["SubjectRow", "find_subject_rows"]

# Columns of these types cannot hold an identifier as text (numbers are compared as text too:
# a customer number may be an identifier).
_SKIPPED_TYPES = ("blob", "bytea", "bool")


@dataclass(frozen=True)
class SubjectRow:
    """One row holding the identifier: its table, key (column -> value), the matching columns,
    and (only when asked) the whole row."""

    table: str
    key: dict[str, Any]
    columns: tuple[str, ...]
    row: dict[str, Any] = field(default_factory=dict)


def find_subject_rows(
    connection: ReviewConnection, dialect: Dialect, identifier: str, *, with_rows: bool = False
) -> list[SubjectRow]:
    """Every row holding `identifier`, table by table in catalog order."""
    columns = dialect.columns(connection.rows(dialect.columns_query))
    found: list[SubjectRow] = []
    for _, grouped in groupby(columns, key=lambda c: (c.schema, c.table)):
        table_columns = list(grouped)
        searched = [c for c in table_columns if not c.data_type.startswith(_SKIPPED_TYPES)]
        if searched:
            found += _rows_of_table(
                connection, dialect, table_columns, searched, identifier, with_rows
            )
    return found


def _rows_of_table(
    connection: ReviewConnection,
    dialect: Dialect,
    table_columns: list[Column],
    searched: list[Column],
    identifier: str,
    with_rows: bool,
) -> list[SubjectRow]:
    keys = [c.name for c in table_columns if c.key] or [c.name for c in table_columns]
    matches = [
        f"CASE WHEN {dialect.contains(quote(c.name), identifier)} THEN 1 ELSE 0 END "
        f"AS {quote('match:' + c.name)}"
        for c in searched
    ]
    shown = table_columns if with_rows else [c for c in table_columns if c.name in keys]
    selected = ", ".join(dialect.selected(c) for c in shown)
    condition = " OR ".join(dialect.contains(quote(c.name), identifier) for c in searched)
    query = (
        f"SELECT {selected}, {', '.join(matches)} FROM {dialect.table_sql(table_columns[0])} "
        f"WHERE {condition}"
    )
    rows = []
    for row in connection.rows(query):
        matched = tuple(c.name for c in searched if row.get(f"match:{c.name}"))
        values = {k: v for k, v in row.items() if not k.startswith("match:")}
        rows.append(
            SubjectRow(
                table_columns[0].table_label,
                {k: values[k] for k in keys},
                matched,
                values if with_rows else {},
            )
        )
    return rows
