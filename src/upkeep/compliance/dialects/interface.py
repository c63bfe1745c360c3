"""Responsible for the interface of a compliance dialect: the catalog query listing every column
of every table (with whether it is part of the primary key), a table's quoted name, and the SQL
conditions the audit and the data-subject lookup need: a value as text, a timestamp older than
some days, a text containing an identifier. Statements are built from quoted identifiers and
SQL literals only; the audit runs them over a read-only review connection."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from upkeep.dbreview.interface import quote

__all__ = ["NUMERIC_TYPES", "Column", "Dialect", "literal"]

# Declared types of a column holding a timestamp as seconds since 1970.
NUMERIC_TYPES = ("int", "bigint", "integer", "smallint", "real", "numeric", "double", "float")


@dataclass(frozen=True)
class Column:
    """One column of one table, as the catalog lists it."""

    schema: str | None
    table: str
    name: str
    data_type: str
    key: bool = False  # part of the table's primary key

    @property
    def table_label(self) -> str:
        """`table`, or `schema.table` outside PostgreSQL's `public` schema: as the record of
        processing names tables."""
        return self.table if self.schema in (None, "public") else f"{self.schema}.{self.table}"

    @property
    def label(self) -> str:
        return f"{self.table_label}.{self.name}"


def literal(text: str) -> str:
    """`text` as an SQL string literal (standard quoting, which both engines use)."""
    if "\0" in text:
        raise ValueError("an SQL literal cannot hold a NUL character")
    return "'" + text.replace("'", "''") + "'"


class Dialect(ABC):
    """What the compliance audit says differently to one engine."""

    engine: ClassVar[str]
    columns_query: ClassVar[str]  # rows: schema, table_name, column_name, data_type, is_key
    binary_types: ClassVar[tuple[str, ...]]

    def columns(self, rows: list[dict[str, Any]]) -> list[Column]:
        """The catalog query's rows as columns."""
        return [
            Column(
                row["schema"],
                row["table_name"],
                row["column_name"],
                (row["data_type"] or "").lower(),
                bool(row["is_key"]),
            )
            for row in rows
        ]

    def table_sql(self, column: Column) -> str:
        return (
            f"{quote(column.schema)}.{quote(column.table)}"
            if column.schema
            else quote(column.table)
        )

    def sampled(self, column: Column) -> bool:
        """Whether the column's values are text to look at (not binary)."""
        return not column.data_type.startswith(self.binary_types)

    @abstractmethod
    def as_text(self, column_sql: str) -> str:
        """The column's value as text."""

    def selected(self, column: Column) -> str:
        """The column as a query selects it to read its value back (as JSON)."""
        return quote(column.name)

    @abstractmethod
    def older_than(self, column: Column, days: int) -> str:
        """The condition that the column's timestamp is more than `days` days old: a timestamp
        type, ISO-8601 text, or a number of seconds since 1970 (a numeric column)."""

    def sample_query(self, column: Column, rows: int) -> str:
        """Up to `rows` non-empty values of the column, as text."""
        value = self.as_text(quote(column.name))
        return (
            f"SELECT {value} AS value FROM {self.table_sql(column)} "
            f"WHERE {quote(column.name)} IS NOT NULL LIMIT {int(rows)}"
        )

    def count_query(self, column: Column, condition: str) -> str:
        return f"SELECT count(*) AS n FROM {self.table_sql(column)} WHERE {condition}"

    def has_value_query(self, column: Column) -> str:
        """One row when the column holds any value that is not NULL or empty text."""
        value = self.as_text(quote(column.name))
        return (
            f"SELECT 1 AS present FROM {self.table_sql(column)} "
            f"WHERE {quote(column.name)} IS NOT NULL AND {value} <> '' LIMIT 1"
        )

    def literal(self, text: str) -> str:
        """`text` as a string literal of this engine."""
        return literal(text)

    def contains(self, column_sql: str, identifier: str) -> str:
        """The condition that the column's text holds `identifier`, ignoring case."""
        return f"strpos(lower({self.as_text(column_sql)}), lower({self.literal(identifier)})) > 0"
