"""Responsible for the backup subsystem's public face: engines by name, stores, backup, restore.

`interface.py` holds the two interfaces (`DatabaseEngine`, `BackupStore`) and their exceptions;
each engine and each store is one module. Engines are imported only when a database needs them.
"""

from __future__ import annotations

import importlib

from upkeep.backup.interface import (
    BackupError,
    BackupStore,
    CorruptPiece,
    DatabaseEngine,
    Manifest,
    MissingPiece,
    PieceRef,
    RestoreReport,
    Snapshot,
)
from upkeep.config import Database

ENGINES = {
    "sqlite": ("upkeep.backup.sqlite", "SQLiteEngine"),
    "postgresql": ("upkeep.backup.postgresql", "PostgreSQLEngine"),
}

__all__ = [
    "ENGINES",
    "BackupError",
    "BackupStore",
    "CorruptPiece",
    "DatabaseEngine",
    "Manifest",
    "MissingPiece",
    "PieceRef",
    "RestoreReport",
    "Snapshot",
    "engine_for",
]


def engine_for(database: Database) -> DatabaseEngine:
    """The engine for a configured database, by its `engine` name."""
    try:
        module_name, class_name = ENGINES[database.engine]
    except KeyError:
        raise BackupError(
            f"database {database.name!r}: no backup engine for {database.engine!r}; "
            f"expected one of {', '.join(ENGINES)}"
        ) from None
    engine_class = getattr(importlib.import_module(module_name), class_name)
    return engine_class(database)
