"""Responsible for the backup subsystem's public face: two interface families and the logic
between them.

`engines/` holds the database engines (`engines.interface`: `DatabaseEngine`, `Snapshot`,
`RestoreReport`; one module per engine; `engine_for` picks one by name) and `stores/` the
backup stores (`stores.interface`: `BackupStore`, `Manifest`, `PieceRef`; one module per store).
Beside them, the logic that only talks to those interfaces: `incremental` (taking a backup),
`pieces` and `delta` (how blocks are stored), `manifest` (the stored descriptions), `chunking`,
`restore`, `verification` (checking backups, keeping the verdicts) and `retention`.
"""

from __future__ import annotations

from upkeep.backup.engines import ENGINES, engine_for
from upkeep.backup.engines.interface import (
    DatabaseEngine,
    EngineError,
    RestoreReport,
    RestoreTargetError,
    Snapshot,
)
from upkeep.backup.errors import BackupDamaged, BackupError, BackupNotFound
from upkeep.backup.stores.interface import (
    BackupKind,
    BackupStore,
    CorruptPiece,
    DamagedEntry,
    Manifest,
    MissingPiece,
    PieceRef,
    StoreError,
    Verification,
)

__all__ = [
    "ENGINES",
    "BackupDamaged",
    "BackupError",
    "BackupKind",
    "BackupNotFound",
    "BackupStore",
    "CorruptPiece",
    "DamagedEntry",
    "DatabaseEngine",
    "EngineError",
    "Manifest",
    "MissingPiece",
    "PieceRef",
    "RestoreReport",
    "RestoreTargetError",
    "Snapshot",
    "StoreError",
    "Verification",
    "engine_for",
]
