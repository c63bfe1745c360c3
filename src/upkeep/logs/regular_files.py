"""Responsible for opening a log, or one of its rotated copies, only when it is a regular file
(symlinks followed): it is looked at before it is opened and opened without waiting, so that
neither a FIFO without a writer nor a device's open can hold a scan up, and looked at again once
open, in case it was swapped meanwhile. Anything else is refused with `NotRegularFile`, which
says what the path is. A copy read for an archive is opened only when it is still the file its
folder's listing showed (`open_listed`: no symlink followed, the same device and inode), else
`ChangedSinceListed`: a copy swapped meanwhile, for a link to a file its owner alone may read
say, is never read under the copy's name.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

from upkeep.regular_file import file_kind

__all__ = ["ChangedSinceListed", "NotRegularFile", "open_listed", "open_regular"]


class NotRegularFile(OSError):
    """A log path, or a rotated copy, that is a FIFO, a device, a socket or a directory."""

    def __init__(self, path: Path, kind: str) -> None:
        super().__init__(f"{path} is {kind}, not a regular file")
        self.kind = kind


class ChangedSinceListed(OSError):
    """A rotated copy that is no longer the file its folder's listing showed."""

    def __init__(self, path: Path, now: str) -> None:
        super().__init__(f"{path} changed since it was listed: it is now {now}")
        self.now = now


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


def open_listed(path: Path, listed: os.stat_result) -> BinaryIO:
    """`path` opened for reading, unbuffered, when it is still the regular file `listed` (its
    `lstat` when its folder was listed); else NotRegularFile or ChangedSinceListed."""
    if not stat.S_ISREG(listed.st_mode):
        raise NotRegularFile(path, file_kind(listed.st_mode))
    _check_listed(path, os.lstat(path), listed)  # no open at all of what was swapped in
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
    try:
        descriptor = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a symlink swapped in since the lstat
            raise ChangedSinceListed(path, "a symlink") from None
        raise
    try:
        _check_listed(path, os.fstat(descriptor), listed)
    except BaseException:
        os.close(descriptor)
        raise
    return os.fdopen(descriptor, "rb", buffering=0)


def _check_listed(path: Path, found: os.stat_result, listed: os.stat_result) -> None:
    if stat.S_ISLNK(found.st_mode):
        raise ChangedSinceListed(path, "a symlink")
    if not stat.S_ISREG(found.st_mode):
        raise ChangedSinceListed(path, file_kind(found.st_mode))
    if (found.st_dev, found.st_ino) != (listed.st_dev, listed.st_ino):
        raise ChangedSinceListed(path, "another file")
