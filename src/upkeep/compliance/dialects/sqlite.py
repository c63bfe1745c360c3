"""Responsible for the compliance audit's SQL for SQLite: columns from `pragma_table_info`,
timestamps compared through `julianday` (ISO-8601 text, as SQLite's own datetime functions
write it), or as seconds since 1970 in a column declared numeric."""

from __future__ import annotations

from typing import ClassVar

from upkeep.compliance.dialects.interface import NUMERIC_TYPES, Column, Dialect, literal
from upkeep.dbreview.interface import quote

__all__ = ["SQLiteDialect"]


class SQLiteDialect(Dialect):
    engine: ClassVar[str] = "sqlite"
    binary_types: ClassVar[tuple[str, ...]] = ("blob",)
    columns_query: ClassVar[str] = """
SELECT NULL AS schema, m.name AS table_name, p.name AS column_name, p.type AS data_type,
       p.pk > 0 AS is_key
FROM sqlite_schema AS m, pragma_table_info(m.name) AS p
WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'
ORDER BY m.name, p.cid
"""

    def as_text(self, column_sql: str) -> str:
        return f"CAST({column_sql} AS TEXT)"

    def older_than(self, column: Column, days: int) -> str:
        shift = literal(f"-{int(days)} days")
        if column.data_type.startswith(NUMERIC_TYPES):
            return f"{quote(column.name)} < CAST(strftime('%s', 'now', {shift}) AS INTEGER)"
        return f"julianday({quote(column.name)}) < julianday('now', {shift})"

    def contains(self, column_sql: str, identifier: str) -> str:
        return f"instr(lower({self.as_text(column_sql)}), lower({literal(identifier)})) > 0"
