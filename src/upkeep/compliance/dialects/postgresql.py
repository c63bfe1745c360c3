"""Responsible for the compliance audit's SQL for PostgreSQL: columns of ordinary and
partitioned tables from `pg_attribute` (partitions left out: their parent covers their rows;
system schemas left out), timestamps compared with `now() - interval`."""

from __future__ import annotations

from typing import ClassVar

from upkeep.compliance.dialects.interface import Dialect

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
        return f"{column_sql}::text"

    def older_than(self, column_sql: str, days: int) -> str:
        return f"{column_sql} < now() - interval '{int(days)} days'"
