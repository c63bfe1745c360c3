"""Responsible for what a dry run must foresee that a real removal would be refused: an entry, or
its folder, made immutable or append-only (`chattr +i`, `+a`: root cannot unlink it either), a
folder the cleaning process may not write, and a sticky folder (`/tmp`) holding another user's
entry. A dry run that said "would remove" of these was contradicted by the real run's warning.
Linux only, where the flags are read with the `FS_IOC_GETFLAGS` ioctl; a filesystem without
them tells nothing, and nothing is foreseen.
"""

from __future__ import annotations

import fcntl
import functools
import os
import stat
import struct
import sys

__all__ = ["FolderRules"]

_FS_IOC_GETFLAGS = 0x80086601  # _IOR('f', 1, long) on 64-bit Linux: the kernel writes an int
_FS_IMMUTABLE_FL = 0x00000010
_FS_APPEND_FL = 0x00000020
_ENTRY_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NOCTTY
_CAP_FOWNER = 3  # linux/capability.h: acts as any file's owner (the sticky rule included)
PERMITTED = "(immutable or append-only, or in a sticky directory and owned by another user)"


class FolderRules:
    """What a folder (open as `fd`) says of removing any entry in it, read once per batch."""

    def __init__(self, fd: int) -> None:
        status = os.fstat(fd)
        self.uid = status.st_uid
        self.sticky = bool(status.st_mode & stat.S_ISVTX)
        self.euid = os.geteuid()
        self.owner_anyway = _capable(_CAP_FOWNER)  # root, unless the capability was dropped
        self.of_folder: str | None = None  # refused for every entry, if anything
        if _flags(fd) & (_FS_IMMUTABLE_FL | _FS_APPEND_FL):
            self.of_folder = f"cannot remove: Operation not permitted {PERMITTED}"
        elif not os.access(".", os.W_OK | os.X_OK, dir_fd=fd, effective_ids=True):
            self.of_folder = "cannot remove: Permission denied"

    def refusal(self, name: str, parent: int, now: os.stat_result) -> str | None:
        """Why removing `name` (its lstat `now`) would be refused, or None when it would not
        be as far as can be seen."""
        if self.of_folder is not None:
            return self.of_folder
        owner = now.st_uid
        if self.sticky and not self.owner_anyway and self.euid not in (owner, self.uid):
            return f"cannot remove: Operation not permitted {PERMITTED}"
        if stat.S_ISLNK(now.st_mode):
            return None  # a link has no flags of its own
        try:
            fd = os.open(name, _ENTRY_FLAGS, dir_fd=parent)
        except OSError:
            return None  # cannot look: the real run will say
        try:
            flags = _flags(fd)
        finally:
            os.close(fd)
        if flags & (_FS_IMMUTABLE_FL | _FS_APPEND_FL):
            return f"cannot remove: Operation not permitted {PERMITTED}"
        return None


@functools.cache
def _capable(capability: int) -> bool:
    """Whether this process has `capability` in its effective set (/proc/self/status, CapEff);
    off Linux, or when it cannot be read: whether it runs as root."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> capability & 1)
    except OSError:
        pass
    return os.geteuid() == 0


def _flags(fd: int) -> int:
    if not sys.platform.startswith("linux"):
        return 0
    try:
        raw = fcntl.ioctl(fd, _FS_IOC_GETFLAGS, b"\0" * 8)
    except OSError:  # a filesystem without these flags, or a file that is neither
        return 0
    return struct.unpack("i", raw[:4])[0]
