"""Responsible for the `backup:` section of `upkeep.yml`: the store's folder, full or incremental
backups, how many of each age retention keeps (at least one: a policy keeping none would delete
every backup it has just made), when a full backup is too old, the zstd level and when a smaller
backup warns."""

from __future__ import annotations

import sys
from pathlib import Path

from upkeep.config.model import BACKUP_MODES, BackupPolicy
from upkeep.config.reader import Section
from upkeep.errors import ConfigError

__all__ = ["read_backup"]

# zstd's compression levels upkeep accepts (zstandard.MAX_COMPRESSION_LEVEL is 22; its fast
# levels go further down, but past -7 they save little CPU for much larger pieces).
MAX_LEVEL = 22
FASTEST_LEVEL = -7
# A hundred years of each period: a long retention policy (15 years of monthlies) is a legal
# requirement somewhere, while counts without a bound make retention step back for ever.
MAX_KEEP = {"keep_daily": 36600, "keep_weekly": 5220, "keep_monthly": 1200}


def read_backup(s: Section | None, base: Path) -> BackupPolicy:
    if s is None:
        return BackupPolicy()
    mode = s.choice("mode", BACKUP_MODES, "full")
    full_every = s.int("full_every", 7, minimum=1)
    keep = {
        key: s.int(key, getattr(BackupPolicy, key), maximum=most) for key, most in MAX_KEEP.items()
    }
    policy = BackupPolicy(
        mode=mode,
        full_every=full_every,
        **keep,
        max_full_age_days=s.number("max_full_age_days", 8.0, maximum=3660),
        compression_level=_compression_level(s),
        shrink_warn_percent=s.number("shrink_warn_percent", 50.0),
        # Without a backup: section nothing is backed up; with one, backups need a store.
        # The verification said "no backup yet" of a store that was a file.
        dir=s.folder("dir", base, "a folder for the backup store (made on the first backup)"),
    )
    s.done()
    if not any(keep.values()):
        # Retention would delete each backup right after the run made (and verified) it.
        raise ConfigError(
            f"{s.file}: {s.where}: keep_daily, keep_weekly and keep_monthly are all 0, which "
            "keeps no backup; expected at least one of them >= 1 (keep_daily: 1 keeps the newest)"
        )
    return policy


def _compression_level(s: Section) -> int:
    """zstd's levels 1 to 22, or its fast levels -1 to -7 (faster still, for larger pieces);
    0 is refused: zstd reads it as "the default level", not as "no compression"."""
    level = s.int("compression_level", 1, minimum=-sys.maxsize)
    if level == 0 or not FASTEST_LEVEL <= level <= MAX_LEVEL:
        s.fail(
            "compression_level",
            f"an integer from 1 to {MAX_LEVEL}, or from -1 to {FASTEST_LEVEL} (zstd's fast levels)",
            level,
        )
    return level
