"""Responsible for the SQL the compliance audit speaks to each database engine: one interface
(`interface.Dialect`), one module per engine, picked by `dialect_for`."""

from __future__ import annotations

from upkeep.compliance.dialects.interface import Column, Dialect
from upkeep.compliance.dialects.postgresql import PostgreSQLDialect
from upkeep.compliance.dialects.sqlite import SQLiteDialect

__all__ = ["Column", "Dialect", "dialect_for"]

_DIALECTS: dict[str, Dialect] = {d.engine: d for d in (SQLiteDialect(), PostgreSQLDialect())}


def dialect_for(engine: str) -> Dialect:
    """The dialect of a configured database's engine (the config allows no other)."""
    return _DIALECTS[engine]
