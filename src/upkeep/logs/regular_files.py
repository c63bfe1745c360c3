"""Responsible for opening a log, or one of its rotated copies, only when it is a regular file
(symlinks followed): it is looked at before it is opened and opened without waiting, so that
neither a FIFO without a writer nor a device's open can hold a scan up, and looked at again once
open, in case it was swapped meanwhile. Anything else is refused with `NotRegularFile`, which
says what the path is.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

__all__ = ["NotRegularFile", "file_kind", "open_regular"]

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class NotRegularFile(OSError):
    """A log path, or a rotated copy, that is a FIFO, a device, a socket or a directory."""

    def __init__(self, path: Path, kind: str) -> None:
        super().__init__(f"{path} is {kind}, not a regular file")
        self.kind = kind


def file_kind(mode: int) -> str:
    """What a file of `mode` is, in words: "a regular file", "a FIFO", ..."""
    if stat.S_ISREG(mode):
        return "a regular file"
    return next((kind for test, kind in _KINDS if test(mode)), "not a regular file")


def open_regular(path: Path) -> BinaryIO:
    """`path` opened for reading, unbuffered, when it is a regular file; else NotRegularFile."""
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise NotRegularFile(path, file_kind(mode))
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    mode = os.fstat(descriptor).st_mode
    if not stat.S_ISREG(mode):  # swapped since it was looked at
        os.close(descriptor)
        raise NotRegularFile(path, file_kind(mode))
    return os.fdopen(descriptor, "rb", buffering=0)
