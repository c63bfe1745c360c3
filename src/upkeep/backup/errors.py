"""Responsible for the errors of the backup subsystem, and the exit code each one ends in."""

from __future__ import annotations

from upkeep.errors import UpkeepError

__all__ = ["BackupDamaged", "BackupError", "BackupNotFound"]


class BackupError(UpkeepError):
    """A backup or restore could not be done: the message says what and where.

    Exit code 3 like other failures of the environment: the input was fine, the run was not.
    Engines raise `EngineError`, stores `StoreError`; the backup logic between them raises this.
    """

    exit_code = 3


class BackupDamaged(BackupError):
    """A stored backup is not what its manifest says (a piece corrupt or missing, a block list
    that does not match): a failed check, exit code 1, like a restore whose checks fail."""

    exit_code = 1


class BackupNotFound(UpkeepError):
    """A person asked for a backup the store does not hold (an unknown id, a database with no
    backup): bad input, exit code 2, nothing was restored."""
