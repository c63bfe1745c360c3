"""Responsible for the boundaries a cleaning walk never crosses besides symlinks: mount points below
the root, bind mounts included, read from the kernel's mount table (`/proc/self/mountinfo`: a
folder bind-mounted from the same filesystem has the device number of the folder it sits in, so
`st_dev` alone cannot see it), and directories another process keeps out of cleaning with an
exclusive `flock`, the rule systemd-tmpfiles follows.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import sys
from pathlib import Path

__all__ = ["MOUNTINFO", "MountTableError", "locked_by_another", "mount_points_under"]

MOUNTINFO = Path("/proc/self/mountinfo")
_ESCAPED = re.compile(rb"\\([0-7]{3})")  # the kernel writes space, tab, newline, \ as \ooo


class MountTableError(OSError):
    """The mount table cannot be read: bind mounts inside a root could not be told apart."""


def mount_points_under(root: str) -> frozenset[str]:
    """Every mount point strictly below `root` (an absolute path without symlinks), as the path
    strings a walk from `root` builds. Off Linux there is no mount table to read: empty."""
    try:
        table = MOUNTINFO.read_bytes()
    except OSError as exc:
        if not sys.platform.startswith("linux"):
            return frozenset()
        raise MountTableError(
            exc.errno or errno.EIO,
            f"the mount table cannot be read ({exc.strerror}); it is how bind mounts inside "
            "the root are found",
            str(MOUNTINFO),
        ) from None
    prefix = root.rstrip("/") + "/"
    found = set()
    for line in table.splitlines():
        # "36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw": the 5th field
        # is the mount point.
        fields = line.split(b" ", 5)
        if len(fields) < 5:
            continue
        point = os.fsdecode(_ESCAPED.sub(lambda m: bytes([int(m[1], 8)]), fields[4]))
        if point.startswith(prefix):
            found.add(point.rstrip("/"))
    return frozenset(found)


def locked_by_another(fd: int) -> bool:
    """Whether another process holds an exclusive `flock` on directory `fd`; if not, a shared
    lock is taken, held until `fd` is closed (as systemd-tmpfiles does while it ages a tree)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:  # a filesystem without flock: nobody can have locked it either
        return False
    return False
