"""Responsible for where a log's files are: the rotated copies beside it (`app.log.1`,
`app.log.2.gz`, ... as logrotate's `delaycompress` leaves them, newest first) and the names of
the per-log state files that the scan and the rotation keep under the state directory.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from upkeep.config import LogSource

__all__ = [
    "COMPRESSED_SUFFIX",
    "ROTATION_STATE",
    "SCAN_STATE",
    "RotatedCopy",
    "copies_in_directory",
    "copy_path",
    "recent_copies",
    "state_path",
]

COMPRESSED_SUFFIX = ".gz"
# The folders of the state directory that hold one JSON file per log.
SCAN_STATE = "logscan"  # where the health check's scan stopped
ROTATION_STATE = "logrotate"  # when a log never rotated was first seen


@dataclass(frozen=True)
class RotatedCopy:
    """One rotated copy of a log: `<log>.N`, or `<log>.N.gz` (read through gzip)."""

    path: Path
    index: int
    stat: os.stat_result

    @property
    def compressed(self) -> bool:
        return self.path.name.endswith(COMPRESSED_SUFFIX)

    @property
    def size(self) -> int | None:
        """The size of the log's bytes it holds; None when compressed: known only once read."""
        return None if self.compressed else self.stat.st_size

    def open(self) -> BinaryIO:
        if self.compressed:
            return gzip.open(self.path, "rb")  # type: ignore[return-value]
        return open(self.path, "rb", buffering=0)  # noqa: SIM115


def copy_path(log_path: Path, index: int, *, compressed: bool = False) -> Path:
    """`<log>.<index>`, or `<log>.<index>.gz`."""
    return log_path.with_name(
        f"{log_path.name}.{index}" + (COMPRESSED_SUFFIX if compressed else "")
    )


def recent_copies(log_path: Path, lookback: int) -> list[RotatedCopy]:
    """`<log>.1`, `.2` … up to `.<lookback>` (each plain, else .gz; symlinks followed), newest
    first, up to the first index that has neither."""
    copies = []
    for index in range(1, lookback + 1):
        for compressed in (False, True):
            candidate = copy_path(log_path, index, compressed=compressed)
            try:
                found = candidate.stat()
            except OSError:
                continue
            copies.append(RotatedCopy(candidate, index, found))
            break
        else:
            break
    return copies


def copies_in_directory(
    log_path: Path, vanished: list[Path] | None = None
) -> Iterator[RotatedCopy]:
    """Every entry beside the log named like one of its copies, in no order, with its own
    `lstat`: nothing is followed, and the caller decides what an entry that is not a regular
    file means. An entry gone between the listing and its `lstat` (another rotation, a person)
    is left out, and appended to `vanished` when the caller counts them."""
    name = re.compile(
        re.escape(log_path.name) + r"\.([1-9][0-9]*)(?:" + re.escape(COMPRESSED_SUFFIX) + ")?"
    )
    with os.scandir(log_path.parent) as entries:
        for entry in entries:
            match = name.fullmatch(entry.name)
            if match is None:
                continue
            try:
                found = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                if vanished is not None:
                    vanished.append(Path(entry.path))
                continue
            yield RotatedCopy(Path(entry.path), int(match[1]), found)


def state_path(log: LogSource, folder: str) -> Path:
    """The log's state file in `folder` (relative to the state directory). The hash of the log's
    path is part of the name: pointing a log at another file starts afresh."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", log.name)
    digest = hashlib.sha256(str(log.path).encode("utf-8")).hexdigest()[:10]
    return Path(folder) / f"{safe}-{digest}.json"
