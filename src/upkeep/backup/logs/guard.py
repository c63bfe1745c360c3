"""Responsible for the rule that cleaning never loses a rotated log copy that is not archived:
`ArchiveFirst` is the `CopyKeeper` the log rotation asks before it deletes a copy; a copy whose
content the store does not hold (and that is not past its retention) is archived first, under
the store's lock, so a log backup running at the same time archives nothing twice. The copy
archived is the file that was judged: one swapped meanwhile (for a symlink, another file) is
not read, and its archiving fails."""

from __future__ import annotations

import os
import zlib
from datetime import UTC, datetime
from pathlib import Path

from upkeep.backup.logs.archive import archive_copy, expired, read_content, retention_days
from upkeep.backup.logs.store import LogArchiveStore, archive_id, copy_key
from upkeep.backup.stores.interface import StoreError
from upkeep.config import LogSource
from upkeep.config.log_backup import LogBackup

__all__ = ["ArchiveFirst", "keeper_for"]


class ArchiveFirst:
    """Archives a rotated copy of a covered log before rotation deletes it."""

    def __init__(self, settings: LogBackup, now: datetime | None = None) -> None:
        assert settings.dir is not None
        self.settings = settings
        self.store = LogArchiveStore(settings.dir)
        self.now = now or datetime.now(UTC)
        # Each copy's lstat as `must_archive` judged it, for `archive` to read that file only.
        self._listed: dict[Path, os.stat_result] = {}

    def must_archive(self, log: LogSource, copy: Path) -> bool:
        """True unless the log is not covered, or the copy's content is archived or past its
        retention; a copy that cannot be read is archived first too (and that will say why)."""
        if not self.settings.covers(log.name):
            return False
        try:
            listed = os.lstat(copy)
        except OSError:
            return True
        self._listed[copy] = listed
        try:
            known = self.store.known_copies().get(copy_key(listed))
        except OSError:
            known = None
        if known is not None and self.store.holds(known):
            return False
        try:
            facts, status = read_content(copy, self.now, listed)
        except (OSError, EOFError, zlib.error):
            return True
        newest = facts.last_line_at or datetime.fromtimestamp(status.st_mtime, tz=UTC)
        if expired(newest, retention_days(log, self.settings), self.now):
            return False
        return not self.store.holds(archive_id(log.name, facts.sha256))

    def archive(self, log: LogSource, copy: Path) -> None:
        listed = self._listed.pop(copy, None) or os.lstat(copy)
        try:
            archive_copy(self.store, log, copy, self.settings, self.now, listed=listed)
        except (StoreError, EOFError, zlib.error) as exc:
            raise OSError(0, str(exc), str(copy)) from exc


def keeper_for(settings: LogBackup, now: datetime | None = None) -> ArchiveFirst | None:
    """The keeper rotation must ask when log backups are configured, else None."""
    return ArchiveFirst(settings, now) if settings.configured else None
