"""Responsible for the error every backup failure derives from, whichever family raised it."""

from __future__ import annotations

from upkeep.errors import UpkeepError

__all__ = ["BackupError"]


class BackupError(UpkeepError):
    """A backup or restore could not be done: the message says what and where.

    Exit code 3 like other failures of the environment: the input was fine, the run was not.
    Engines raise `EngineError`, stores `StoreError`; the backup logic between them raises this.
    """

    exit_code = 3
