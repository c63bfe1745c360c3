"""Responsible for the logs the compliance audit checks: each configured log with a
`retention_days` (its live file and its rotated copies, numbered or dated, gzipped or not, and
every file a wildcard path matches) whose files hold lines older than that: lines that should be
gone, still on disk. A file last written longer ago is past it whole; one written since is past
it when its first line's timestamp is (a log that is never rotated keeps its oldest lines). A
file whose age cannot be told is named as such, never counted as in time."""

from __future__ import annotations

import gzip
import os
import zlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from stat import S_ISLNK, S_ISREG

from upkeep.config import LogSource
from upkeep.logs.layout import copies_in_directory, matching_logs
from upkeep.logs.line_times import line_time
from upkeep.logs.regular_files import NotRegularFile, open_regular
from upkeep.regular_file import file_kind, path_kind

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


def logs_past_retention(
    logs: tuple[LogSource, ...], now: datetime, unchecked: list[str] | None = None
) -> list[LogPastRetention]:
    """One entry per log with a retention rule that has files past it (none: all is in time);
    a file whose age cannot be told (a FIFO, a device, a symlink loop, one without a timestamp
    in its first line) is named in `unchecked`, with why, never counted as in time."""
    unchecked = [] if unchecked is None else unchecked
    found = []
    for log in logs:
        if log.retention_days is None:
            continue
        limit = now.timestamp() - log.retention_days * DAY_S
        old: list[tuple[Path, os.stat_result, float]] = []
        for file_log in matching_logs(log):
            for path, stat in _files_of(file_log.path, unchecked):
                try:
                    oldest = stat.st_mtime if stat.st_mtime < limit else _first_line_time(path, now)
                except _Undated as exc:
                    unchecked.append(f"{path}: {exc}")
                    continue
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


class _Undated(Exception):
    """Why a file's oldest line cannot be dated."""


def _first_line_time(path: Path, now: datetime) -> float | None:
    """When the file's first line was written, by its timestamp; None for an empty file (it
    holds nothing to keep); _Undated when the file cannot be read or its line has none known.
    At most FIRST_LINE_BYTES are read, from a file opened only when it is a regular one."""
    try:
        with open_regular(path) as raw:
            handle = gzip.GzipFile(fileobj=raw, mode="rb") if path.name.endswith(".gz") else raw
            head = handle.read(FIRST_LINE_BYTES)
    except NotRegularFile as exc:
        raise _Undated(f"{exc.kind}, not a regular file") from None
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:  # BadGzipFile: an OSError
        raise _Undated(f"damaged: {exc}") from None
    except OSError as exc:
        raise _Undated(f"cannot read it: {exc.strerror or exc}") from None
    if not head:
        return None
    moment = line_time(head[: head.find(b"\n") + 1] or head, now)
    if moment is None:
        raise _Undated("no timestamp known in its first line")
    return moment.timestamp()


def _files_of(path: Path, unchecked: list[str]) -> list[tuple[Path, os.stat_result]]:
    """The live log (when it is there) and its rotated copies, as regular files (symlinks to
    one followed); anything else there is named in `unchecked`."""
    files = []
    try:
        files.append((path, path.stat()))
    except OSError:
        kind = path_kind(path)
        if kind is not None:  # nothing at all: no live file to check
            unchecked.append(f"{path}: {_not_regular(kind)}")
    if path.parent.is_dir():
        copies = copies_in_directory(path, follow_symlinks=True)
        files += [(copy.path, copy.stat) for copy in copies]
    regular = []
    for file, stat in files:
        if S_ISREG(stat.st_mode):
            regular.append((file, stat))
        else:  # a copy's link that cannot be followed keeps its own lstat: ask again
            kind = file_kind(stat.st_mode)
            if S_ISLNK(stat.st_mode):
                kind = path_kind(file) or "gone since it was listed"
            unchecked.append(f"{file}: {_not_regular(kind)}")
    return regular


def _not_regular(kind: str) -> str:
    # "a FIFO", "a symlink loop": what is there; else why it could not be looked at
    return f"{kind}, not a regular file" if kind.startswith("a ") else kind
