"""Responsible for reading a file only when it is a regular file, and for naming what a path is
when it is not: a FIFO without a writer would hold the read for good, and a device may never
end. Kept free of imports beyond the standard library, since runbook kernels import `secrets`,
which reads secret files through it.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

__all__ = ["file_kind", "read_regular"]

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISLNK, "a symlink"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def file_kind(mode: int) -> str:
    """What a file of `mode` is, in words: "a regular file", "a FIFO", ..."""
    if stat.S_ISREG(mode):
        return "a regular file"
    return next((kind for test, kind in _KINDS if test(mode)), "not a regular file")


def read_regular(path: str | Path, limit: int | None = None) -> bytes:
    """The bytes of the file at `path` (a symlink to one is fine), at most `limit` of them when
    given; OSError (EINVAL) for a FIFO, a device or a directory."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        os.set_blocking(fd, True)
        return handle.read(-1 if limit is None else limit)
