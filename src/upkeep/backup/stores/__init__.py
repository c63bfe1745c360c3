"""Responsible for the backup stores: the interface (`stores.interface`) and its implementations,
one module each (`directory.py`: a local directory)."""

from __future__ import annotations

from upkeep.backup.stores.directory import DirectoryStore
from upkeep.backup.stores.interface import (
    MANIFEST_FORMAT,
    BackupKind,
    BackupStore,
    CorruptPiece,
    Manifest,
    MissingPiece,
    PieceRef,
    StoreError,
)

__all__ = [
    "MANIFEST_FORMAT",
    "BackupKind",
    "BackupStore",
    "CorruptPiece",
    "DirectoryStore",
    "Manifest",
    "MissingPiece",
    "PieceRef",
    "StoreError",
]
