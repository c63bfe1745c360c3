"""Responsible for reading a file only when it is a regular file, and for naming what a path is
when it is not: a FIFO without a writer would hold the read for good, and a device may never
end. `read_regular` follows a symlink to a regular file (a config, a secret file); `read_own`,
for the files of a store upkeep wrote, follows none and refuses one larger than expected, both
unread; `path_kind` names what is at a path, a symlink loop included. Kept free of imports
beyond the standard library, since runbook kernels import `secrets`, which reads secret files
through it.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

__all__ = ["NotAFile", "TooLarge", "file_kind", "path_kind", "read_own", "read_regular"]

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


def path_kind(path: str | Path) -> str | None:
    """What is at `path`, in words, symlinks followed: `file_kind` of what a link leads to, "a
    symlink loop", "a symlink to nothing", or why it cannot be looked at; None when nothing is
    there at all. For a message that names what was found instead of calling it "not found"."""
    try:
        return file_kind(os.stat(path).st_mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symlink loop"
        if exc.errno != errno.ENOENT:
            return f"not to be looked at ({exc.strerror})"
    return "a symlink to nothing" if os.path.islink(path) else None


def read_regular(path: str | Path, limit: int | None = None) -> bytes:
    """The bytes of the file at `path` (a symlink to one is fine), at most `limit` of them when
    given; OSError (EINVAL) for a FIFO, a device or a directory."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        os.set_blocking(fd, True)
        return handle.read(-1 if limit is None else limit)


class NotAFile(OSError):
    """What `read_own` found is no regular file of its own (a symlink, a FIFO, a folder)."""

    def __init__(self, path: str | Path, kind: str) -> None:
        super().__init__(errno.EINVAL, f"{kind}, not a regular file", str(path))
        self.kind = kind


class TooLarge(OSError):
    """What `read_own` found holds more bytes than the caller can use: never read."""

    def __init__(self, path: str | Path, size: int, limit: int) -> None:
        super().__init__(errno.EFBIG, f"{size} bytes, more than the {limit} expected", str(path))
        self.size = size


def read_own(path: str | Path, limit: int) -> bytes:
    """The bytes of the regular file at `path`, read only when it is one itself (no symlink
    followed: a link to /dev/zero would be read for ever) and holds at most `limit` bytes;
    NotAFile or TooLarge otherwise, nothing read. For the files of a store upkeep wrote."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NotAFile(path, "a symlink") from None
        raise
    with os.fdopen(fd, "rb") as handle:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise NotAFile(path, file_kind(status.st_mode))
        if status.st_size > limit:
            raise TooLarge(path, status.st_size, limit)
        os.set_blocking(fd, True)
        # Its size, not `limit`: a read of n bytes allocates n first (16 MiB for a manifest).
        return handle.read(status.st_size + 1)
