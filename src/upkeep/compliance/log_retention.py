"""Responsible for the logs the compliance audit checks: each configured log with a
`retention_days` (its live file and its rotated copies, numbered or dated, gzipped or not, and
every file a wildcard path matches) whose files hold lines older than that: lines that should be
gone, still on disk. A file last written longer ago is past it whole; one written since is past
it when its first line's timestamp is (a log that is never rotated keeps its oldest lines)."""

from __future__ import annotations

import gzip
import os
import zlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from upkeep.config import LogSource
from upkeep.logs.layout import copies_in_directory, matching_logs
from upkeep.logs.line_times import line_time

__all__ = ["LogPastRetention", "logs_past_retention"]

DAY_S = 86400
FIRST_LINE_BYTES = 4096  # enough for any timestamp at a line's start


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
        old: list[tuple[Path, os.stat_result, float]] = []
        for file_log in matching_logs(log):
            for path, stat in _files_of(file_log.path):
                oldest = stat.st_mtime if stat.st_mtime < limit else _first_line_time(path, now)
                if oldest is not None and oldest < limit:
                    old.append((path, stat, oldest))
        if old:
            found.append(
                LogPastRetention(
                    log.name,
                    log.retention_days,
                    tuple(sorted(path for path, _, _ in old)),
                    sum(stat.st_size for _, stat, _ in old),
                    (now.timestamp() - min(oldest for _, _, oldest in old)) / DAY_S,
                )
            )
    return found


def _first_line_time(path: Path, now: datetime) -> float | None:
    """When the file's first line was written, by its timestamp (None: it has none known)."""
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            line = handle.readline(FIRST_LINE_BYTES)
    except (OSError, EOFError, zlib.error):
        return None
    moment = line_time(line, now)
    return moment.timestamp() if moment is not None else None


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
