"""Responsible for the compliance audit's SQL for PostgreSQL: columns of ordinary and
partitioned tables from `pg_attribute` (partitions left out: their parent covers their rows;
system schemas left out), values read as their type prints them, timestamps compared with
`now() - interval` (text cast to a timestamp, numbers read as seconds since 1970)."""

from __future__ import annotations

from typing import ClassVar

from upkeep.compliance.dialects.interface import NUMERIC_TYPES, Column, Dialect, literal
from upkeep.dbreview.interface import quote

__all__ = ["PostgreSQLDialect"]


class PostgreSQLDialect(Dialect):
    engine: ClassVar[str] = "postgresql"
    binary_types: ClassVar[tuple[str, ...]] = ("bytea",)
    columns_query: ClassVar[str] = """
SELECT n.nspname AS schema, c.relname AS table_name, a.attname AS column_name,
       format_type(a.atttypid, a.atttypmod) AS data_type,
       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary
               AND a.attnum = ANY (i.indkey)) AS is_key
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
ORDER BY n.nspname, c.relname, a.attnum
"""

    def as_text(self, column_sql: str) -> str:
        # As the type prints it (its output function), not through a cast: the owner of a type
        # (an enum, a domain) may give it a cast to text whose function would run with the
        # audit role's rights; an output function is built in, or a superuser's.
        return f"format('%s', {column_sql})"

    def selected(self, column: Column) -> str:
        # A type that is not pg_catalog's (format_type names it with its schema: the session
        # searches pg_catalog only) is read as text: turning its value into JSON would call
        # a cast to json its owner may have given it, with the audit role's rights.
        if "." not in column.data_type:
            return quote(column.name)
        return f"{self.as_text(quote(column.name))} AS {quote(column.name)}"

    def literal(self, text: str) -> str:
        # A standard literal reads a backslash as itself only while standard_conforming_strings
        # is on, which a database owner may turn off. upkeep's sessions force it on; an escape
        # literal (E'...', backslashes doubled) reads the same under either setting.
        if "\\" not in text:
            return literal(text)
        return "E" + literal(text.replace("\\", "\\\\"))

    def older_than(self, column: Column, days: int) -> str:
        value = quote(column.name)
        if column.data_type.startswith(NUMERIC_TYPES):
            value = f"to_timestamp({value})"
        elif column.data_type.startswith(("text", "character")):
            value = f"{value}::timestamptz"
        return f"{value} < now() - interval '{int(days)} days'"
