"""Responsible for the backup stores: the interface (`stores.interface`) and its implementations,
one module each (`directory.py`: a local directory)."""

from __future__ import annotations

from upkeep.backup.stores.directory import DirectoryStore
from upkeep.backup.stores.interface import (
    MANIFEST_FORMAT,
    BackupKind,
    BackupStore,
    CorruptPiece,
    DamagedEntry,
    Manifest,
    MissingPiece,
    PieceRef,
    StoreError,
    Verification,
    missing_base,
)

__all__ = [
    "MANIFEST_FORMAT",
    "BackupKind",
    "BackupStore",
    "CorruptPiece",
    "DamagedEntry",
    "DirectoryStore",
    "Manifest",
    "MissingPiece",
    "PieceRef",
    "StoreError",
    "Verification",
    "missing_base",
]
