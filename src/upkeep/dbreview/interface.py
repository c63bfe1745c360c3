"""Responsible for the interface of a review connection: one read-only connection to one
database that reads its declared relations from the catalog, counts a relation's orphans and
runs a query, each under the statement timeout; `QueryError` and `QueryTimeout` say what failed.
A new engine is one module beside `sqlite.py` and `postgresql.py`, named in `connect`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from upkeep.errors import UpkeepError

__all__ = [
    "ON_DELETE_RULES",
    "OrphanCount",
    "QueryError",
    "QueryTimeout",
    "Relation",
    "ReviewConnection",
    "quote",
]

# A relation's ON DELETE rule, as both engines spell it.
ON_DELETE_RULES = ("no action", "restrict", "cascade", "set null", "set default")


class QueryError(UpkeepError):
    """A query failed (or the database could not be opened): the message says why."""

    exit_code = 3


class QueryTimeout(QueryError):
    """A query ran past the statement timeout and was cancelled."""


def quote(identifier: str) -> str:
    """`identifier` as an SQL identifier, quoted (both engines accept double quotes)."""
    return '"' + identifier.replace('"', '""') + '"'


@dataclass(frozen=True)
class Relation:
    """A child table's columns that refer to a parent table's key: declared in the schema (a
    foreign key, `not_valid` when PostgreSQL never checked the rows already there) or logical
    (listed in `upkeep.yml`)."""

    child_schema: str | None
    child_table: str
    child_columns: tuple[str, ...]
    parent_schema: str | None
    parent_table: str
    parent_columns: tuple[str, ...]
    on_delete: str = "no action"
    declared: bool = True
    not_valid: bool = False
    constraint: str | None = None  # PostgreSQL: the key's name
    key_id: int | None = None  # SQLite: the key's id in pragma_foreign_key_list
    # PostgreSQL: a plain table, read without its inheritance children (ONLY): a foreign key
    # holds for the rows of the table it is declared on, not for those of its children.
    child_only: bool = False
    parent_only: bool = False
    # PostgreSQL: the key's own equality operators (parent = child, one per column), each as
    # `OPERATOR(schema.name)`: a type without a built-in `=` (citext) compares as its key does.
    operators: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """`table.column` (`schema.table.column` outside public, columns in parentheses when
        there are several): the relation's name in findings and messages."""
        return self._named(self.child_schema, self.child_table, self.child_columns)

    @property
    def parent_label(self) -> str:
        return self._named(self.parent_schema, self.parent_table, self.parent_columns)

    @staticmethod
    def _named(schema: str | None, table: str, columns: tuple[str, ...]) -> str:
        prefix = f"{schema}.{table}" if schema not in (None, "public") else table
        inside = columns[0] if len(columns) == 1 else "(" + ", ".join(columns) + ")"
        return f"{prefix}.{inside}"

    def table_sql(self, *, parent: bool) -> str:
        schema, table = (
            (self.parent_schema, self.parent_table)
            if parent
            else (self.child_schema, self.child_table)
        )
        return f"{quote(schema)}.{quote(table)}" if schema else quote(table)

    def from_sql(self, *, parent: bool) -> str:
        """The table as a FROM (or UPDATE, DELETE) names it: ONLY its own rows when so marked."""
        only = self.parent_only if parent else self.child_only
        return ("ONLY " if only else "") + self.table_sql(parent=parent)

    def orphan_condition(self, alias: str = "c", *, key_operators: bool = False) -> str:
        """The SQL condition that a row of the child (as `alias`) is an orphan: every column of
        the key set (a NULL refers to nothing) and no parent row with that key; compared with
        the key's own `operators` when asked and known, else with `=`."""
        present = " AND ".join(f"{alias}.{quote(col)} IS NOT NULL" for col in self.child_columns)
        equals = (
            self.operators if key_operators and self.operators else ("=",) * len(self.child_columns)
        )
        match = " AND ".join(
            f"p.{quote(parent)} {equal} {alias}.{quote(child)}"
            for child, parent, equal in zip(
                self.child_columns, self.parent_columns, equals, strict=True
            )
        )
        return (
            f"{present} AND NOT EXISTS "
            f"(SELECT 1 FROM {self.from_sql(parent=True)} AS p WHERE {match})"
        )

    def cleanup_sql(self) -> str:
        """The statement that would remove the orphans, following the relation's ON DELETE
        rule: SET NULL and SET DEFAULT update the key, the others delete the rows. Proposed,
        never run."""
        where = self.orphan_condition(alias=self.table_sql(parent=False))
        if self.on_delete in ("set null", "set default"):
            value = "NULL" if self.on_delete == "set null" else "DEFAULT"
            assignments = ", ".join(f"{quote(col)} = {value}" for col in self.child_columns)
            return f"UPDATE {self.from_sql(parent=False)} SET {assignments} WHERE {where};"
        return f"DELETE FROM {self.from_sql(parent=False)} WHERE {where};"


@dataclass(frozen=True)
class OrphanCount:
    """How many rows of a relation's child are orphans, and the keys of the first few."""

    orphans: int
    samples: tuple[Any, ...]


class ReviewConnection(ABC):
    """A read-only connection to one database; every query runs under `timeout_s`."""

    engine: ClassVar[str]

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        # What the server said without failing a query (a WARNING, a NOTICE), each once.
        self.server_notes: list[str] = []

    @abstractmethod
    def declared_relations(self) -> list[Relation]:
        """Every foreign key of the database, from its catalog."""

    @abstractmethod
    def count_orphans(self, relation: Relation, samples: int) -> OrphanCount:
        """The orphans of `relation`, with the keys of up to `samples` of them."""

    @abstractmethod
    def rows(self, query: str, *, database_search_path: bool = False) -> list[dict[str, Any]]:
        """The rows `query` returns, each as a mapping of column name to value. upkeep's own
        queries name only the catalog; `database_search_path` is for a user's script, which
        may name its tables as the database's search path finds them."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection."""

    def __enter__(self) -> ReviewConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
