"""Responsible for the compliance audit's SQL for SQLite: columns from `pragma_table_xinfo`
(generated ones too), timestamps compared through `julianday` (ISO-8601 text, as SQLite's own
datetime functions write it), or as seconds since 1970 in a column declared numeric."""

from __future__ import annotations

from typing import ClassVar

from upkeep.compliance.dialects.interface import NUMERIC_TYPES, Column, Dialect, literal
from upkeep.dbreview.interface import quote

__all__ = ["SQLiteDialect"]


class SQLiteDialect(Dialect):
    engine: ClassVar[str] = "sqlite"
    binary_types: ClassVar[tuple[str, ...]] = ("blob",)
    # A virtual table whose module this SQLite lacks (an extension's, such as a SpatiaLite
    # database's spatial index: upkeep never loads extensions) cannot even list its columns, and
    # would fail the whole query: pragma_table_xinfo is given NULL for it (no rows, no error).
    # Its rows, if any, are in the ordinary tables listed anyway. (No CTE MATERIALIZED: SQLite
    # 3.34, RHEL 9's, has none.)
    columns_query: ClassVar[str] = """
SELECT NULL AS schema, m.name AS table_name, p.name AS column_name, p.type AS data_type,
       p.pk > 0 AS is_key
FROM (SELECT name, ' ' || upper(replace(replace(replace(sql, char(10), ' '), char(13), ' '),
                                        char(9), ' ')) || ' ' AS definition
      FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite!_%' ESCAPE '!') AS m,
     pragma_table_xinfo(CASE
       WHEN m.definition NOT LIKE ' CREATE VIRTUAL TABLE %'
         OR EXISTS (SELECT 1 FROM pragma_module_list AS l
                    WHERE instr(m.definition, ' USING ' || upper(l.name) || '(') > 0
                       OR instr(m.definition, ' USING ' || upper(l.name) || ' ') > 0)
       THEN m.name END) AS p
WHERE p.hidden <> 1  -- generated columns (2, 3) hold personal data too; a virtual table's hidden
ORDER BY m.name, p.cid  -- columns (1) are its module's
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
