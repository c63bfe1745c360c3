"""Responsible for the database engines by name: `engine_for` builds the one a database names.

The interface is `engines.interface`; each engine is one module, imported only when a configured
database needs it (the PostgreSQL engine is not loaded to back up a SQLite file).
"""

from __future__ import annotations

import importlib

from upkeep.backup.engines.interface import (
    DatabaseEngine,
    EngineError,
    RestoreReport,
    RestoreTargetError,
    Snapshot,
)
from upkeep.config import Database

ENGINES = {
    "sqlite": ("upkeep.backup.engines.sqlite", "SQLiteEngine"),
    "postgresql": ("upkeep.backup.engines.postgresql", "PostgreSQLEngine"),
}

__all__ = [
    "ENGINES",
    "DatabaseEngine",
    "EngineError",
    "RestoreReport",
    "RestoreTargetError",
    "Snapshot",
    "engine_for",
]


def engine_for(database: Database) -> DatabaseEngine:
    """The engine for a configured database, by its `engine` name."""
    try:
        module_name, class_name = ENGINES[database.engine]
    except KeyError:
        raise EngineError(
            f"database {database.name!r}: no backup engine for {database.engine!r}; "
            f"expected one of {', '.join(ENGINES)}"
        ) from None
    engine_class = getattr(importlib.import_module(module_name), class_name)
    return engine_class(database)
