"""Responsible for auditing one database against the record of processing: every column of every
table classified (a category or `not personal`), columns that look personal (by name, or by a
sample of their values) but are undeclared or marked not personal, rows past each table's
retention rule with the DELETE a person would run (never run here), and declared entries with no
data behind them (a table or column that is not there, a personal column that holds nothing).
Sampled values are looked at and dropped: only their count per kind is kept."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from upkeep.compliance.dialects import Column, Dialect
from upkeep.compliance.recognizers import describe, kind_by_name, kinds_in_text
from upkeep.config.disaster_drill import CANARY_TABLE
from upkeep.config.record_of_processing import NOT_PERSONAL, TableRecord
from upkeep.dbreview.interface import QueryError, ReviewConnection

__all__ = [
    "DatabaseAudit",
    "PersonalColumn",
    "RetentionCount",
    "StaleEntry",
    "audit_database",
    "without_values",
]

T = TypeVar("T")
# A database's error may quote a value of a row (`invalid input syntax for type ...: "x"`,
# `DETAIL: Key (email)=(x)`): the value goes, the error stays.
_QUOTED_VALUE = re.compile(r'(invalid input syntax for type [^:\n]+: )"[^"\n]*"')
_DETAIL = re.compile(r"\n?(?:DETAIL|LINE \d+):.*", re.DOTALL)  # and the query it quotes


@dataclass(frozen=True)
class PersonalColumn:
    """A column that looks personal though the record says otherwise: undeclared (`declared`
    None) or marked `not personal`. `by_values`: per kind, how many sampled values held it."""

    label: str
    declared: str | None
    by_name: str | None
    by_values: tuple[tuple[str, int], ...]
    sampled: int

    @property
    def evidence(self) -> str:
        """Why it looks personal, in words, counts only."""
        reasons = []
        if self.by_name:
            reasons.append(f"its name says {describe(self.by_name)}")
        for kind, count in self.by_values:
            reasons.append(f"{count} of {self.sampled} sampled values hold {describe(kind)}")
        return "; ".join(reasons)


@dataclass(frozen=True)
class RetentionCount:
    """Rows of a table past its retention rule, and the statement that would delete them."""

    table: str
    column: str
    days: int
    rows: int
    delete_sql: str


@dataclass(frozen=True)
class StaleEntry:
    """A declared entry with no data behind it: `label` (table or table.column) and why."""

    label: str
    category: str | None
    why: str


@dataclass(frozen=True)
class DatabaseAudit:
    """What auditing one database found."""

    database: str
    columns: int
    unclassified: tuple[str, ...]
    personal: tuple[PersonalColumn, ...]
    retention: tuple[RetentionCount, ...]
    stale: tuple[StaleEntry, ...]
    categories_with_data: frozenset[str]
    problems: tuple[str, ...] = ()

    @property
    def classified(self) -> int:
        return self.columns - len(self.unclassified)

    @property
    def coverage(self) -> str:
        return f"{self.classified}/{self.columns} columns classified"

    @property
    def rows_past_retention(self) -> int:
        return sum(count.rows for count in self.retention)


def audit_database(
    connection: ReviewConnection,
    dialect: Dialect,
    database: str,
    tables: tuple[TableRecord, ...],
    sample_rows: int,
) -> DatabaseAudit:
    """Audit the database behind `connection` against its `tables` of the record.
    QueryError when the catalog cannot be read; a later query that fails is a problem."""
    columns = dialect.columns(connection.rows(dialect.columns_query))
    problems: list[str] = []

    def attempt(what: str, query: Callable[[], T], fallback: T) -> T:
        try:
            return query()
        except QueryError as exc:
            problems.append(f"{what}: {without_values(str(exc))}")
            return fallback

    declared = {(t.table, column): kind for t in tables for column, kind in t.columns}
    unclassified, personal, stale = [], [], []
    with_data: set[str] = set()
    for column in columns:
        category = declared.get((column.table_label, column.name))
        if category is None and column.table_label.rsplit(".", 1)[-1] == CANARY_TABLE:
            category = NOT_PERSONAL  # upkeep's own heartbeat (the drill's canary): times, a word
        if category is None:
            unclassified.append(column.label)
        if category is None or category == NOT_PERSONAL:
            found = attempt(
                f"sampling {column.label}",
                lambda c=column, k=category: _looks_personal(
                    connection, dialect, c, k, sample_rows
                ),
                None,
            )
            if found is not None:
                personal.append(found)
            continue
        holds = attempt(
            f"reading {column.label}",
            lambda c=column: bool(connection.rows(dialect.has_value_query(c))),
            True,
        )
        if holds:
            with_data.add(category)
        else:
            stale.append(StaleEntry(column.label, category, "declared, but holds no value"))
    stale += _missing(tables, columns)
    retention = []
    for table in tables:
        if table.retention is not None:
            count = attempt(
                f"counting rows past retention in {table.table}",
                lambda t=table: _past_retention(connection, dialect, t, columns),
                None,
            )
            if count is not None:
                retention.append(count)
    return DatabaseAudit(
        database,
        len(columns),
        tuple(unclassified),
        tuple(personal),
        tuple(retention),
        tuple(stale),
        frozenset(with_data),
        tuple(problems),
    )


def _looks_personal(
    connection: ReviewConnection,
    dialect: Dialect,
    column: Column,
    declared: str | None,
    sample_rows: int,
) -> PersonalColumn | None:
    """The column as a finding when its name (undeclared columns only: a name alone does not
    overrule a person's `not personal`) or its sampled values look personal; else None."""
    by_name = kind_by_name(column.name) if declared is None else None
    kinds: Counter[str] = Counter()
    sampled = 0
    if dialect.sampled(column):
        for row in connection.rows(dialect.sample_query(column, sample_rows)):
            sampled += 1
            kinds.update(kinds_in_text(str(row["value"])))
    if by_name is None and not kinds:
        return None
    return PersonalColumn(column.label, declared, by_name, tuple(sorted(kinds.items())), sampled)


def _missing(tables: tuple[TableRecord, ...], columns: list[Column]) -> list[StaleEntry]:
    """Declared tables and columns the database does not have."""
    present = {(column.table_label, column.name) for column in columns}
    present_tables = {table for table, _ in present}
    stale = []
    for table in tables:
        if table.table not in present_tables:
            stale.append(StaleEntry(table.table, None, "declared, but there is no such table"))
            continue
        for column, category in table.columns:
            if (table.table, column) not in present:
                stale.append(
                    StaleEntry(
                        f"{table.table}.{column}",
                        None if category == NOT_PERSONAL else category,
                        "declared, but there is no such column",
                    )
                )
    return stale


def _past_retention(
    connection: ReviewConnection, dialect: Dialect, table: TableRecord, columns: list[Column]
) -> RetentionCount | None:
    assert table.retention is not None
    rule = table.retention
    column = next(
        (c for c in columns if c.table_label == table.table and c.name == rule.column), None
    )
    if column is None:  # reported as a stale entry
        return None
    condition = dialect.older_than(column, rule.days)
    rows = connection.rows(dialect.count_query(column, condition))
    delete = f"DELETE FROM {dialect.table_sql(column)} WHERE {condition};"
    return RetentionCount(table.table, rule.column, rule.days, int(rows[0]["n"]), delete)


def without_values(message: str) -> str:
    """A query's error without the row values (or the query text) a database quotes in it."""
    return _DETAIL.sub("", _QUOTED_VALUE.sub(r"\1«value»", message))
