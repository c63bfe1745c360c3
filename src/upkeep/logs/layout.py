"""Responsible for where a log's files are: the files a configured log names (its path, or every
file its wildcard matches, leaving out rotated copies), the rotated copies beside each one, as
logrotate names them (`app.log.1`, `app.log.2.gz`, and with `dateext` `app.log-20261116`,
`app.log.2026-11-16`, gzipped or not), newest first, and the names of the per-log state files that
the scan and the rotation keep under the state directory.
"""

from __future__ import annotations

import contextlib
import fnmatch
import gzip
import hashlib
import heapq
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

from upkeep.config import LogSource
from upkeep.logs.regular_files import open_regular

__all__ = [
    "COMPRESSED_SUFFIX",
    "ROTATION_STATE",
    "SCAN_STATE",
    "RotatedCopy",
    "copied_log",
    "copies_in_directory",
    "copy_path",
    "has_wildcards",
    "matching_logs",
    "newest_first",
    "state_path",
]

COMPRESSED_SUFFIX = ".gz"
# The folders of the state directory that hold one JSON file per log.
SCAN_STATE = "logscan"  # where the health check's scan stopped
ROTATION_STATE = "logrotate"  # when a log never rotated was first seen
# What follows the log's name in a copy's: `.3` (logrotate's default), or a date as logrotate's
# `dateext` writes it (`-20261116`, `-2026111603` hourly) or `dateformat` (`.2026-11-16`).
_NUMBERED = r"\.(?P<index>[1-9][0-9]*)"
_DATED = r"[-.](?P<date>\d{8}(?:\d{2})?|\d{4}-\d{2}-\d{2}(?:[-_]\d{2})?)"
_WILDCARDS = "*?["


@dataclass(frozen=True)
class RotatedCopy:
    """One rotated copy of a log: `<log>.N` (its `index`) or `<log>-<date>` (its `date`, digits
    only: `20261116`, `index` 0), either one possibly gzipped (`.gz`, read through gzip)."""

    path: Path
    index: int
    stat: os.stat_result
    date: str = ""

    @property
    def compressed(self) -> bool:
        return self.path.name.endswith(COMPRESSED_SUFFIX)

    @property
    def size(self) -> int | None:
        """The size of the log's bytes it holds; None when compressed: known only once read."""
        return None if self.compressed else self.stat.st_size

    @contextlib.contextmanager
    def open(self) -> Iterator[BinaryIO]:
        """The copy's content, read through gzip when compressed; opened only when it is a
        regular file (else `regular_files.NotRegularFile`), as the log itself is."""
        with open_regular(self.path) as handle:
            if not self.compressed:
                yield handle
                return
            with gzip.GzipFile(fileobj=handle, mode="rb") as uncompressed:
                yield uncompressed  # type: ignore[misc]


def copy_path(log_path: Path, index: int, *, compressed: bool = False) -> Path:
    """`<log>.<index>`, or `<log>.<index>.gz`."""
    return log_path.with_name(
        f"{log_path.name}.{index}" + (COMPRESSED_SUFFIX if compressed else "")
    )


def _copy_name(log_name: str) -> re.Pattern[str]:
    return re.compile(
        re.escape(log_name) + f"(?:{_NUMBERED}|{_DATED})(?:{re.escape(COMPRESSED_SUFFIX)})?"
    )


def copies_in_directory(
    log_path: Path, vanished: list[Path] | None = None, *, follow_symlinks: bool = False
) -> Iterator[RotatedCopy]:
    """Every entry beside the log named like one of its copies, numbered or dated, in no order,
    with its own `lstat` (its target's `stat` with `follow_symlinks`, or still its `lstat` when
    the link cannot be followed): the caller decides what an entry that is not a regular file
    means. An entry gone between the listing and its
    `stat` (another rotation, a person) is left out, and appended to `vanished` when the caller
    counts them."""
    name = _copy_name(log_path.name)
    with os.scandir(log_path.parent) as entries:
        for entry in entries:
            match = name.fullmatch(entry.name)
            if match is None:
                continue
            try:
                found = entry.stat(follow_symlinks=follow_symlinks)
            except FileNotFoundError:
                if vanished is not None:
                    vanished.append(Path(entry.path))
                continue
            except OSError:
                if not follow_symlinks:
                    raise
                # A link that cannot be followed (a loop, a target it may not reach): the
                # entry's own lstat, a symlink, which no caller reads as a copy's content.
                try:
                    found = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
            date = re.sub(r"\D", "", match["date"] or "")
            yield RotatedCopy(Path(entry.path), int(match["index"] or 0), found, date)


def newest_first(copies: Iterator[RotatedCopy] | list[RotatedCopy]) -> list[RotatedCopy]:
    """The copies in the order they were rotated out, newest first: numbered ones by index,
    dated ones by date, a plain copy before its gzipped twin; when a log has both kinds (its
    naming was changed), the two sequences are merged by modification time."""
    numbered, dated = [], []
    for copy in copies:
        (dated if copy.date else numbered).append(copy)
    numbered.sort(key=lambda copy: (copy.index, copy.compressed))
    dated.sort(key=lambda copy: (copy.date, not copy.compressed), reverse=True)
    return list(heapq.merge(numbered, dated, key=lambda copy: -copy.stat.st_mtime))


def has_wildcards(path: Path) -> bool:
    """Whether the log's file name holds a wildcard (`*`, `?` or `[`)."""
    return any(char in path.name for char in _WILDCARDS)


def matching_logs(log: LogSource) -> list[LogSource]:
    """The logs `log` names: itself, or when its file name holds wildcards one log per file
    that matches, by name (hidden files only when the pattern starts with a dot), named
    `<name>:<file name>`. A match that is a rotated copy of another file there (`app.log.1`
    beside `app.log`) is not a log of its own: the scan of that file reads it."""
    if not has_wildcards(log.path):
        return [log]
    try:
        names = sorted(os.listdir(log.path.parent))
    except (FileNotFoundError, NotADirectoryError):
        return []
    pattern = log.path.name
    matched = [
        name
        for name in names
        if fnmatch.fnmatchcase(name, pattern) and (pattern.startswith(".") or name[0] != ".")
    ]
    present = set(names)
    return [
        replace(log, name=f"{log.name}:{name}", path=log.path.parent / name)
        for name in matched
        if copied_log(name) not in present
    ]


_COPY_SUFFIX = re.compile(f"(?:{_NUMBERED}|{_DATED})(?:{re.escape(COMPRESSED_SUFFIX)})?$")


def copied_log(name: str) -> str | None:
    """The name of the log that `name` would be a rotated copy of (`app.log` for `app.log.1`,
    `app.log-20261116.gz`), or None when it is not named like a copy."""
    suffix = _COPY_SUFFIX.search(name)
    return name[: suffix.start()] if suffix and suffix.start() > 0 else None


def state_path(log: LogSource, folder: str) -> Path:
    """The log's state file in `folder` (relative to the state directory). The hash of the log's
    path is part of the name: pointing a log at another file starts afresh."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", log.name)
    digest = hashlib.sha256(str(log.path).encode("utf-8")).hexdigest()[:10]
    return Path(folder) / f"{safe}-{digest}.json"
