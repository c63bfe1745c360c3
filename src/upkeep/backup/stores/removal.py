"""Responsible for removing a folder upkeep made in a store (a backup past retention, a log
archive, what an interrupted one left): walked by descriptor, never following a symlink (a link
is removed as a link) and never entering a mount point below it, whether another filesystem or a
bind mount of the same one (read from the mount table, as cleaning does: `st_dev` alone cannot
see a bind mount). What cannot be removed (a mount point, an immutable file) is left where it is
and named: `TreeNotRemoved`, after everything else has gone.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path

from upkeep.cleaning.boundaries import mount_points_under
from upkeep.plain_text import shown

__all__ = ["TreeNotRemoved", "remove_tree"]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NAMED = 5  # entries named in the error; the count says how many more


class TreeNotRemoved(OSError):
    """Part of a folder could not be removed; what is left is named, with why."""

    def __init__(self, path: Path, left: list[str]) -> None:
        more = f" and {len(left) - _NAMED} more" if len(left) > _NAMED else ""
        why = f"{len(left)} left: {'; '.join(left[:_NAMED])}{more}"
        super().__init__(errno.ENOTEMPTY, why, str(path))
        self.left = tuple(left)

    def __str__(self) -> str:
        return f"{shown(str(self.filename))} not removed whole: {self.strerror}"


def remove_tree(path: Path) -> None:
    """Remove the folder `path` and everything in it; a file or a symlink at `path` is unlinked,
    and nothing there is fine. Raises TreeNotRemoved (an OSError) when anything was left, or
    OSError when the mount table cannot be read (nothing is removed then)."""
    try:
        top = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(top.st_mode):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        return
    real = os.path.realpath(path)  # its parents may be links; `path` itself is not one
    mounts = mount_points_under(os.path.dirname(real))
    if real in mounts:
        raise TreeNotRemoved(path, [f"{shown(real)}: a mount point, not entered"])
    left: list[str] = []
    descriptor = os.open(real, _DIR_FLAGS)
    if not _same(os.fstat(descriptor), top):
        os.close(descriptor)
        raise TreeNotRemoved(path, [f"{shown(real)}: replaced while it was being removed"])
    _empty(descriptor, real, top.st_dev, mounts, left)
    if not left:
        try:
            os.rmdir(real)
        except FileNotFoundError:
            pass
        except OSError as exc:
            left.append(f"{shown(real)}: {exc.strerror}")
    if left:
        raise TreeNotRemoved(path, left)


def _empty(
    descriptor: int, where: str, device: int, mounts: frozenset[str], left: list[str]
) -> None:
    """Remove everything in the folder open as `descriptor` (closed here), depth first without
    recursion: a tree a run made may be deeper than Python's stack."""
    stack = [(descriptor, where, iter(_names(descriptor, where, left)))]
    try:
        while stack:
            folder, path, names = stack[-1]
            name = next(names, None)
            if name is None:
                stack.pop()
                os.close(folder)
                if stack:
                    _remove(os.rmdir, stack[-1][0], path, left)
                continue
            child = f"{path}/{name}"
            try:
                status = os.lstat(name, dir_fd=folder)
            except FileNotFoundError:
                continue
            except OSError as exc:
                left.append(f"{shown(child)}: {exc.strerror}")
                continue
            if not stat.S_ISDIR(status.st_mode):
                _remove(os.unlink, folder, child, left)
            elif status.st_dev != device or child in mounts:
                left.append(f"{shown(child)}: a mount point, not entered")
            else:
                opened = _open_child(name, folder, status, child, left)
                if opened is not None:
                    stack.append((opened, child, iter(_names(opened, child, left))))
    finally:
        for folder, _, _ in stack:
            os.close(folder)


def _open_child(
    name: str, parent: int, status: os.stat_result, child: str, left: list[str]
) -> int | None:
    try:
        opened = os.open(name, _DIR_FLAGS, dir_fd=parent)
    except OSError as exc:
        left.append(f"{shown(child)}: {exc.strerror}")
        return None
    if not _same(os.fstat(opened), status):  # swapped since the lstat: not what was seen
        os.close(opened)
        left.append(f"{shown(child)}: replaced while it was being removed")
        return None
    return opened


def _names(descriptor: int, path: str, left: list[str]) -> list[str]:
    try:
        return os.listdir(descriptor)
    except OSError as exc:
        left.append(f"{shown(path)}: {exc.strerror}")
        return []


def _remove(remove: Callable[..., None], parent: int, path: str, left: list[str]) -> None:
    """`remove` (unlink, rmdir) the entry `path` names, relative to its folder's descriptor."""
    try:
        remove(os.path.basename(path), dir_fd=parent)
    except FileNotFoundError:
        pass
    except OSError as exc:
        if exc.errno != errno.ENOTEMPTY or not left:  # else what it still holds is named
            left.append(f"{shown(path)}: {exc.strerror}")


def _same(now: os.stat_result, seen: os.stat_result) -> bool:
    return (now.st_dev, now.st_ino) == (seen.st_dev, seen.st_ino)
