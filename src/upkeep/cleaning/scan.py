"""Responsible for listing a cleaning root's tree, safely and cheaply, for a plan to choose from.

`scan_root` walks the tree with `os.scandir` on directory descriptors opened without following
symlinks (one `lstat` per entry); it never descends into a symlink, a `protect`ed directory, a
mount point (another filesystem or a bind mount), a directory another process locked, a
PostgreSQL data directory or a git work tree: those are reported, not entered. Names that
systemd-tmpfiles and tmpreaper leave alone by default are always protected (`ALWAYS_PROTECTED`,
`ALWAYS_PROTECTED_AT_TOP`).
An entry that vanishes between the listing and its `lstat` is counted as vanished; only the root
itself failing raises. A glob without "/" (`*.keep`) is matched against each entry's name, one
with "/" (`sessions/vip`) against its path relative to the root. A root may hold 100,000 files,
so a scan keeps one small `Seen` per file in its directory's `Folder` and pauses the cyclic
garbage collector while it runs (`gc_paused`).
"""

from __future__ import annotations

import errno
import fnmatch
import os
import re
import stat
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from upkeep.cleaning.boundaries import locked_by_another, mount_points_under
from upkeep.cleaning.safedelete import DIR_FLAGS, Removal, RootError, Seen, kind_of, open_root
from upkeep.config.system_paths import GUARD_MARKERS
from upkeep.gc_pause import gc_paused

__all__ = [
    "ALWAYS_PROTECTED",
    "ALWAYS_PROTECTED_AT_TOP",
    "VANISHED",
    "DirEntry",
    "Entry",
    "Folder",
    "Scan",
    "scan_root",
]

_S_IFMT, _S_IFDIR = 0o170000, stat.S_IFDIR
_FILE_KINDS = frozenset({stat.S_IFREG, stat.S_IFLNK})  # what a scan lists as files

# Protected in every root, whatever `cleanup.protect` says: what systemd-tmpfiles (tmp.conf,
# x11.conf) and Debian's tmpreaper leave alone by default. The X11, ICE and font socket folders
# and X lock files belong to running sessions, systemd-private-* to services' private /tmp.
# The plain names anywhere in the tree; the two patterns, as those tools place them, at the top
# of a root (a pattern costs a match per entry listed, a plain name a set lookup).
ALWAYS_PROTECTED_AT_TOP = (".X*-lock", "systemd-private-*")
ALWAYS_PROTECTED = (
    ".X11-unix",
    ".ICE-unix",
    ".XIM-unix",
    ".font-unix",
    ".Test-unix",
    "lost+found",
    "quota.user",
    "quota.group",
    "aquota.user",
    "aquota.group",
)
VANISHED = "vanished after the listing (removed or renamed by someone else)"


class Entry(NamedTuple):
    """One scanned entry: its path and what the scan saw of it (a `Seen`)."""

    path: str
    stat: Seen


class Folder(NamedTuple):
    """One directory the scan listed: its removable files, by name, and how many entries it held.

    Kept per directory (not one `Entry` per file): removal then opens each directory once and
    builds no path string per file."""

    path: str
    stat: Seen  # as its parent's listing saw it (the root: its own fstat)
    files: list[Seen]  # regular files and symlinks, not protected
    children: int  # every entry it held, protected and others included


@dataclass(frozen=True)
class DirEntry:
    """A scanned directory below the root, with how many entries it held."""

    entry: Entry
    children: int


@dataclass(frozen=True)
class Scan:
    """What `scan_root` saw under one root. `folders` lists the root first, then every directory
    after its parent (depth first)."""

    root: Path
    folders: tuple[Folder, ...]  # the root and every directory entered, not protected
    others: tuple[Entry, ...]  # FIFOs, sockets, devices: never removed
    skipped: tuple[Removal, ...]  # mount points, guarded and unreadable directories, not entered
    protected: int  # entries matching a protect glob (a protected directory counts once)
    total_bytes: int  # sizes of the files (what a max_bytes limit is measured against)
    vanished: tuple[Removal, ...] = ()  # listed, then gone before the scan could look at them

    @property
    def files(self) -> tuple[Entry, ...]:
        """Regular files and symlinks, not protected, in scan order."""
        return tuple(
            Entry(f"{folder.path}/{seen.name}", seen)
            for folder in self.folders
            for seen in folder.files
        )

    @property
    def dirs(self) -> tuple[DirEntry, ...]:
        """Directories below the root, not protected, children before their parents."""
        return tuple(
            DirEntry(Entry(folder.path, folder.stat), folder.children)
            for folder in self.folders[:0:-1]
        )


class _Protect:
    """The protect globs: one without "/" is matched against an entry's name, one with "/"
    against its path relative to the root (fnmatch rules: `*` also matches "/"). A glob without
    wildcards is a plain name, looked up in `names` (cheaper than a pattern, per entry)."""

    def __init__(self, globs: Sequence[str], at_top: Sequence[str] = ()) -> None:
        named = [g for g in globs if "/" not in g]
        patterns = [g for g in named if _WILDCARDS.search(g)]
        self.names = frozenset(g for g in named if not _WILDCARDS.search(g))
        self.by_name = _any_of(patterns)
        self.by_name_at_top = _any_of([*patterns, *at_top])  # the root's own entries
        self.by_path = _any_of(g.strip("/") for g in globs if "/" in g)


_WILDCARDS = re.compile(r"[*?\[]")


def _any_of(globs: Iterable[str]) -> Callable[[str], object] | None:
    patterns = [f"(?:{fnmatch.translate(glob)})" for glob in globs]
    return re.compile("|".join(patterns)).match if patterns else None


def scan_root(root: Path, protect: Sequence[str] = ()) -> Scan:
    """List `root`'s tree without following symlinks or leaving its filesystem. Raises
    `RootError` (an OSError) only when the root itself cannot be opened, listed or cleaned."""
    root_fd = open_root(root)
    try:
        root_stat = os.fstat(root_fd)
        if locked_by_another(root_fd):
            reason = "locked by another process (flock): left alone"
            return Scan(root, (), (), (_skipped(str(root), root_stat.st_mode, reason),), 0, 0)
        scanner = _Scanner(
            root,
            _Protect((*protect, *ALWAYS_PROTECTED), ALWAYS_PROTECTED_AT_TOP),
            root_stat.st_dev,
            mount_points_under(str(root)),
        )
        with gc_paused():
            return scanner.walk(root_fd, root_stat)
    finally:
        os.close(root_fd)


class _Guarded(Exception):
    """The directory being listed holds a `GUARD_MARKERS` name: it is not to be cleaned."""


class _Scanner:
    def __init__(self, root: Path, protect: _Protect, root_dev: int, mounts: frozenset[str]):
        self.root = str(root)
        self.by_name = protect.by_name
        self.by_name_at_top = protect.by_name_at_top
        self.by_path = protect.by_path
        self.special = protect.names | GUARD_MARKERS.keys()
        self.root_dev = root_dev
        self.mounts = mounts
        self.folders: list[Folder] = []
        self.others: list[Entry] = []
        self.skipped: list[Removal] = []
        self.vanished: list[Removal] = []
        self.protected_count = 0
        self.total = 0

    def walk(self, root_fd: int, root_stat: os.stat_result) -> Scan:
        try:
            top = self._list(root_fd, Entry(self.root, Seen.of("", root_stat)), "")
        except _Guarded as guarded:
            raise RootError(errno.EPERM, f"the cleaning root is {guarded}", self.root) from None
        except OSError as exc:
            message = f"the cleaning root cannot be listed: {exc.strerror}"
            raise RootError(exc.errno, message, self.root) from None
        # Depth first with an explicit stack: open descriptors stay as few as the tree is deep.
        frames = [(root_fd, "", deque(top))]
        try:
            while frames:
                fd, rel, pending = frames[-1]
                if not pending:
                    frames.pop()
                    if fd != root_fd:
                        os.close(fd)
                    continue
                entry = pending.popleft()
                name = entry.path.rpartition("/")[2]
                child_fd = self._enter(fd, name, entry)
                if child_fd is None:
                    continue
                child_rel = f"{rel}{name}/"
                frames.append((child_fd, child_rel, deque()))
                try:
                    # A directory that cannot be listed gets no Folder: never planned as emptied.
                    frames[-1][2].extend(self._list(child_fd, entry, child_rel))
                except _Guarded as guarded:
                    self._skip(entry, f"{guarded}: never cleaned")
                except OSError as exc:
                    self._skip(entry, f"cannot list it: {exc.strerror}")
        finally:
            for fd, *_ in frames:
                if fd != root_fd:
                    os.close(fd)
        return Scan(
            root=Path(self.root),
            folders=tuple(self.folders),
            others=tuple(self.others),
            skipped=tuple(self.skipped),
            protected=self.protected_count,
            total_bytes=self.total,
            vanished=tuple(self.vanished),
        )

    def _list(self, fd: int, directory: Entry, rel: str) -> list[Entry]:
        """Record the entries of `directory` (open as `fd`); return its subdirectories to enter.
        Raises `_Guarded` when the directory holds a `GUARD_MARKERS` name (nothing recorded)."""
        # The hot loop of a scan: names bound locally, file types compared as integers, and one
        # small `Seen` per file rather than a path string and a whole `os.stat_result`.
        path = directory.path
        subdirs: list[Entry] = []
        files: list[Seen] = []
        vanished: list[Removal] = []
        add_file, new, total, count, protected = files.append, tuple.__new__, 0, 0, 0
        by_name = self.by_name_at_top if directory.path == self.root else self.by_name
        by_path, mounts, special = self.by_path, self.mounts, self.special
        with os.scandir(fd) as listing:
            for item in listing:
                # A vanished entry still counts: its folder is not planned as emptied on a
                # listing that saw it.
                count += 1
                name = item.name
                if name in special:  # a guard marker (first: protecting .git spares no file)
                    if name in GUARD_MARKERS:  # or a protected plain name
                        raise _Guarded(GUARD_MARKERS[name])
                    protected += 1
                    continue
                if (by_name and by_name(name)) or (by_path and by_path(rel + name)):
                    protected += 1
                    continue
                try:
                    st = item.stat(follow_symlinks=False)
                except OSError as exc:
                    self._unreadable(f"{path}/{name}", item, exc, vanished)
                    continue
                if mounts and f"{path}/{name}" in mounts:
                    self._skip(Entry(f"{path}/{name}", Seen.of(name, st)), self._mount_point(st))
                    continue
                # `Seen.of(name, st)`, inlined: this line runs once per entry of the tree.
                seen = new(
                    Seen,
                    (
                        name,
                        st.st_mtime,
                        st.st_mode,
                        st.st_dev,
                        st.st_ino,
                        st.st_ctime_ns,
                        st.st_size,
                    ),
                )
                kind = seen.st_mode & _S_IFMT
                if kind in _FILE_KINDS:
                    add_file(seen)
                    total += seen.st_size
                elif kind == _S_IFDIR:
                    entry = Entry(f"{path}/{name}", seen)
                    if seen.st_dev != self.root_dev:
                        self._skip(entry, self._mount_point(st))
                    else:
                        subdirs.append(entry)
                else:
                    self.others.append(Entry(f"{path}/{name}", seen))
        self.folders.append(Folder(path, directory.stat, files, count))
        self.protected_count += protected
        self.total += total
        self.vanished += vanished
        return subdirs

    def _unreadable(
        self, path: str, item: os.DirEntry[str], exc: OSError, vanished: list[Removal]
    ) -> None:
        """An entry listed whose `lstat` failed: vanished, or skipped with the reason."""
        # What the listing's file type said: the lstat that would say more is what failed.
        kind = "dir" if item.is_dir(follow_symlinks=False) else "file"
        kind = "symlink" if item.is_symlink() else kind
        if exc.errno == errno.ENOENT:
            vanished.append(Removal(Path(path), kind, 0, False, VANISHED))
        else:
            self.skipped.append(
                Removal(Path(path), kind, 0, False, f"cannot check it: {exc.strerror}")
            )

    def _enter(self, parent_fd: int, name: str, entry: Entry) -> int | None:
        try:
            fd = os.open(name, DIR_FLAGS, dir_fd=parent_fd)
        except FileNotFoundError:
            self.vanished.append(Removal(Path(entry.path), "dir", 0, False, VANISHED))
            return None
        except OSError as exc:
            self._skip(entry, f"cannot enter: {exc.strerror}")
            return None
        now = os.fstat(fd)
        reason = None
        if (now.st_dev, now.st_ino) != (entry.stat.st_dev, entry.stat.st_ino):
            reason = "changed during the scan: not entered"
        elif locked_by_another(fd):
            reason = "locked by another process (flock): left alone"
        if reason is not None:
            os.close(fd)
            self._skip(entry, reason)
            return None
        return fd

    def _skip(self, entry: Entry, reason: str) -> None:
        self.skipped.append(_skipped(entry.path, entry.stat.st_mode, reason))

    def _mount_point(self, st: os.stat_result) -> str:
        if st.st_dev != self.root_dev:
            return "a mount point (another filesystem): not entered"
        return "a mount point (a bind mount of the same filesystem): not entered"


def _skipped(path: str, mode: int, reason: str) -> Removal:
    return Removal(Path(path), kind_of(mode), 0, False, reason)
