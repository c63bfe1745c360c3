"""Responsible for opening the review connection of a configured database, by its engine."""

from __future__ import annotations

from upkeep.config import Database
from upkeep.dbreview.interface import ReviewConnection
from upkeep.dbreview.postgresql import PostgreSQLReview
from upkeep.dbreview.sqlite import SQLiteReview

__all__ = ["connect"]


def connect(database: Database, timeout_s: float) -> ReviewConnection:
    """A read-only connection to `database`; QueryError when it cannot be opened."""
    if database.engine == SQLiteReview.engine:
        assert database.path is not None  # the config refuses a sqlite database without one
        return SQLiteReview(database.path, timeout_s)
    return PostgreSQLReview(database, timeout_s)
