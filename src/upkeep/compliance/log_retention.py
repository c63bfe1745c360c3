"""Responsible for the logs the compliance audit checks: each configured log with a
`retention_days` (its live file and its rotated copies, numbered or dated, gzipped or not, and
every file a wildcard path matches) whose files were last written longer ago than that: lines
that should be gone, still on disk."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from upkeep.config import LogSource
from upkeep.logs.layout import copies_in_directory, matching_logs

__all__ = ["LogPastRetention", "logs_past_retention"]

DAY_S = 86400


@dataclass(frozen=True)
class LogPastRetention:
    """A log's files older than its retention: the paths, their bytes, the oldest one's age."""

    log: str
    retention_days: int
    files: tuple[Path, ...]
    bytes: int
    oldest_days: float


def logs_past_retention(logs: tuple[LogSource, ...], now: datetime) -> list[LogPastRetention]:
    """One entry per log with a retention rule that has files past it (none: all is in time)."""
    found = []
    for log in logs:
        if log.retention_days is None:
            continue
        limit = now.timestamp() - log.retention_days * DAY_S
        old: list[tuple[Path, os.stat_result]] = []
        for file_log in matching_logs(log):
            old += [
                (path, stat) for path, stat in _files_of(file_log.path) if stat.st_mtime < limit
            ]
        if old:
            oldest = min(stat.st_mtime for _, stat in old)
            found.append(
                LogPastRetention(
                    log.name,
                    log.retention_days,
                    tuple(sorted(path for path, _ in old)),
                    sum(stat.st_size for _, stat in old),
                    (now.timestamp() - oldest) / DAY_S,
                )
            )
    return found


def _files_of(path: Path) -> list[tuple[Path, os.stat_result]]:
    """The live log (when it is there) and its rotated copies, as regular files."""
    files = []
    try:
        stat = path.stat()
        files.append((path, stat))
    except OSError:
        pass
    if path.parent.is_dir():
        files += [(copy.path, copy.stat) for copy in copies_in_directory(path)]
    return [(p, s) for p, s in files if os.path.isfile(p)]
