"""Responsible for removing entries under an allow-listed root without ever following a symlink.

The root is opened from "/" one component at a time, so neither it nor a directory above it may
be a symlink; every removal then walks down from it with directory descriptors opened `O_NOFOLLOW |
O_DIRECTORY`, re-checks the entry with `lstat` relative to its parent's descriptor, and removes
it with `unlink`/`rmdir` relative to that descriptor. An entry is removed only when it is still
what the caller scanned (same device, inode and type; for a non-directory also the same change
time), lies on the root's filesystem, and is a regular file, a symlink (removed as a link) or an
empty directory; anything else is reported as skipped, with the reason, and left alone. An entry
no longer there (removed or renamed by someone else) is counted as vanished, not as a failure.
No directory on the way down may be a mount point (bind mounts included) or locked by another
process (see `boundaries`). A swap between the re-check and the removal cannot make it follow
anything: `unlink` removes a symlink itself, and `rmdir` refuses a non-directory. A dry run makes
the same checks and removes nothing, and foresees what the kernel would refuse (`refusals`:
immutable entries, folders it may not write, sticky folders); it cannot know whether a directory
would be empty by then (the files that a real run would remove first are still there), so it
leaves that to the caller's plan.

Two ways in: `remove_entry` (and `remove_entries`/`remove_many`) for a few paths, and
`remove_batches` for a whole scanned tree, directory by directory (`Batch` of `Seen` entries):
each directory is opened once and only skips are kept entry by entry. Both go through the same
checks, in one loop.

    removal = remove_entry(root, root / "sessions" / "sess_1", os.lstat(...), dry_run=False)
    batch = Batch(f"{root}/sessions", [Seen.of("sess_1", os.lstat(...))])
    counts = remove_batches(root, [batch], dry_run=False)
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from upkeep.cleaning.boundaries import locked_by_another, mount_points_under
from upkeep.cleaning.refusals import PERMITTED, FolderRules

__all__ = [
    "Batch",
    "Outcome",
    "Removal",
    "RemovalCounts",
    "RootError",
    "Seen",
    "open_root",
    "remove_batches",
    "remove_entries",
    "remove_entry",
    "remove_many",
]

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
KINDS = {stat.S_IFREG: "file", stat.S_IFLNK: "symlink", stat.S_IFDIR: "dir"}
_S_IFMT = 0o170000  # the file-type bits of st_mode, as stat.S_IFMT masks them
_S_IFDIR = stat.S_IFDIR
GONE = "already gone"  # the reason given for an entry that vanished before its removal


@dataclass(frozen=True)
class Removal:
    """What happened to one entry: removed, or skipped with the reason (`skipped`).

    In a dry run nothing is removed: an entry that a real run would remove has `removed` False,
    `skipped` None and `dry_run` True (see `would_remove`).
    """

    path: Path
    kind: str  # "file" | "symlink" | "dir" | "other"
    size: int
    removed: bool
    skipped: str | None  # why it was not removed; None when removed (or removable in a dry run)
    dry_run: bool = False

    @property
    def would_remove(self) -> bool:
        """Removed, or (dry run) would have been removed."""
        return self.removed or (self.dry_run and self.skipped is None)


class Outcome(NamedTuple):
    """A `Removal` with the path kept as the string it was given: what `remove_many` returns.

    A tuple rather than a dataclass, and a string rather than a Path: building a Path costs
    more than removing the file, and a large cleaning removes 100,000 of them."""

    path: str
    kind: str
    size: int
    removed: bool
    skipped: str | None
    dry_run: bool

    @property
    def would_remove(self) -> bool:
        return self.removed or (self.dry_run and self.skipped is None)

    def removal(self) -> Removal:
        return Removal(Path(self.path), *self[1:])


class RootError(OSError):
    """The root itself cannot be used: missing, not a directory, or a symlink."""


def kind_of(mode: int) -> str:
    return KINDS.get(stat.S_IFMT(mode), "other")


def open_root(root: Path) -> int:
    """A descriptor of `root`, an absolute path to a real directory, opened from "/" one
    component at a time so that neither the root nor any directory above it may be a symlink."""
    if not root.is_absolute():
        raise RootError(errno.EINVAL, "cleaning root must be an absolute path", str(root))
    fd = os.open("/", DIR_FLAGS)
    where = Path("/")
    for name in root.parts[1:]:
        where = where / name
        try:
            child = os.open(name, DIR_FLAGS, dir_fd=fd)
        except OSError as exc:
            what = "the cleaning root" if where == root else f"{where}, on the way to the root,"
            reason = "is a symlink or not a directory"
            if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                reason = f"cannot be opened: {exc.strerror}"
            raise RootError(exc.errno, f"{what} {reason}", str(root)) from None
        finally:
            os.close(fd)
        fd = child
    return fd


def remove_entry(root: Path, path: Path, expected: os.stat_result, *, dry_run: bool) -> Removal:
    """Remove `path` (under `root`) if it is still the entry `expected` describes (an lstat)."""
    [removal] = remove_entries(root, [(path, expected)], dry_run=dry_run)
    return removal


def remove_entries(
    root: Path, entries: Iterable[tuple[Path | str, os.stat_result]], *, dry_run: bool
) -> list[Removal]:
    """`remove_entry` for many entries, in the order given (children before their directory),
    reusing the open descriptors of the directories they share. Paths may be given as strings
    (as a scan makes them); every `Removal.path` is a Path."""
    return [outcome.removal() for outcome in remove_many(root, entries, dry_run=dry_run)]


def remove_many(
    root: Path, entries: Iterable[tuple[Path | str, os.stat_result]], *, dry_run: bool
) -> list[Outcome]:
    """`remove_entries`, returning `Outcome`s: for callers removing very many entries."""
    with _DirWalker(root) as walker:
        return [walker.remove(os.fspath(path), expected, dry_run) for path, expected in entries]


class Seen(NamedTuple):
    """An entry as a scan saw it: its name and what a removal re-checks of its `lstat`.

    Field names follow `os.stat_result`. The rest of the `lstat` is dropped on purpose: a scan
    keeps one of these per file, and keeping whole `os.stat_result`s instead (a dozen objects
    each) made a scan of 100,000 files about a fifth slower."""

    name: str
    st_mtime: float
    st_mode: int
    st_dev: int
    st_ino: int
    st_ctime_ns: int
    st_size: int

    @classmethod
    def of(cls, name: str, st: os.stat_result) -> Seen:
        return _new_tuple(
            cls, (name, st.st_mtime, st.st_mode, st.st_dev, st.st_ino, st.st_ctime_ns, st.st_size)
        )


# `Seen.of` without the Python-level `__new__` a NamedTuple call goes through: a scan makes one
# per file.
_new_tuple = tuple.__new__


class Batch(NamedTuple):
    """Entries of one directory to remove, as the scan saw them.

    `parent` is the directory's path (the root or below it). A scan lists a tree directory by
    directory, so a batch costs no path parsing per entry and one directory open."""

    parent: str
    entries: Sequence[Seen]


@dataclass(frozen=True)
class RemovalCounts:
    """What `remove_batches` did: how many entries it removed, their bytes, each skip in detail."""

    removed: int  # entries removed (dry run: that would be removed)
    freed: int  # their bytes: a file's once its last link goes (directories count 0)
    skipped: tuple[Outcome, ...]  # entries not removed, in order, each with the reason
    vanished: tuple[Outcome, ...] = ()  # entries no longer there to remove (reason: GONE)


def remove_batches(root: Path, batches: Iterable[Batch], *, dry_run: bool) -> RemovalCounts:
    """Remove every entry of `batches`, in order, with the same checks as `remove_entry`.

    Each batch's directory is opened once; only skips are kept entry by entry, so removing
    100,000 files keeps no object per removed file."""
    removed = freed = 0
    skipped: list[Outcome] = []
    vanished: list[Outcome] = []
    with _DirWalker(root) as walker:
        for parent, entries in batches:
            count, size = walker.remove_batch(parent, entries, dry_run, skipped, vanished)
            removed += count
            freed += size
    return RemovalCounts(removed, freed, tuple(skipped), tuple(vanished))


class _DirWalker:
    """Open directory descriptors along one path from the root, reused for the next batch.

    It works on path strings, and a batch in the same directory as the one before reuses its
    descriptor after one string comparison: on a large tree, pathlib and re-parsing every path
    would cost more than the removals themselves."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root_text = os.fspath(root).rstrip("/")
        self.prefix = self.root_text + "/"
        self.root_fd = -1
        self.root_dev = 0
        self.chain: list[tuple[str, int, int]] = []  # (name, fd, inode) from the root down
        self.parent_text: str | None = None  # the directory `chain` leads to, as a path string
        self.mounts: frozenset[str] = frozenset()  # mount points below the root
        self.links: dict[tuple[int, int], int] = {}  # a dry run's removed links of a file
        # A file whose link this walk removed, while it kept others: its change time since.
        self.unlinked: dict[tuple[int, int], int] = {}

    def __enter__(self) -> _DirWalker:
        self.root_fd = open_root(self.root)
        try:
            self.root_dev = os.fstat(self.root_fd).st_dev
            if locked_by_another(self.root_fd):
                raise RootError(
                    errno.EWOULDBLOCK,
                    "the cleaning root is locked by another process (flock): left alone",
                    self.root_text,
                )
            self.mounts = mount_points_under(self.root_text)
        except OSError:
            os.close(self.root_fd)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._truncate(0)
        os.close(self.root_fd)

    def remove(self, text: str, expected: os.stat_result, dry_run: bool) -> Outcome:
        """One entry given by its path: a batch of one, after the checks only a path needs."""
        kind = KINDS.get(expected.st_mode & _S_IFMT, "other")
        size = expected.st_size if kind != "dir" else 0
        if text == self.root_text:
            return _skip(text, kind, size, dry_run, "is the cleaning root itself (never removed)")
        if not text.startswith(self.prefix):
            return _skip(text, kind, size, dry_run, f"outside the cleaning root {self.root}")
        parent, _, name = text.rpartition("/")
        skipped: list[Outcome] = []
        # One entry given by its path: gone is reported as a skip, as it always was.
        self.remove_batch(parent, (Seen.of(name, expected),), dry_run, skipped, skipped)
        return skipped[0] if skipped else Outcome(text, kind, size, not dry_run, None, dry_run)

    def remove_batch(
        self,
        parent: str,
        entries: Iterable[Seen],
        dry_run: bool,
        skipped: list[Outcome],
        vanished: list[Outcome],
    ) -> tuple[int, int]:
        """Remove `entries` of directory `parent`; append each skip to `skipped` and each entry
        no longer there to `vanished`; return how many were removed and their bytes. The hot
        loop of a large cleaning: one `lstat` and one `unlink` per entry, names bound locally,
        file types compared as integers."""
        lstat, root_dev, fd = os.lstat, self.root_dev, -1
        removed = freed = 0
        rules: FolderRules | None = None  # a dry run's view of what the kernel would refuse
        for seen in entries:
            name, _, mode, dev, ino, ctime_ns, size = seen
            kind = mode & _S_IFMT
            if kind not in _REMOVABLE or dev != root_dev or name in _NOT_NAMES:
                skipped.append(self._refused(parent, seen, dry_run))
                continue
            try:
                if fd < 0:  # opened once the batch has an entry worth checking
                    fd = self._parent_fd(parent)
                now = lstat(name, dir_fd=fd)
            except _Gone:
                vanished.append(_skip_entry(parent, seen, dry_run, GONE))
                continue
            except _Refused as refused:
                skipped.append(_skip_entry(parent, seen, dry_run, str(refused)))
                continue
            except OSError as exc:
                gone = exc.errno == errno.ENOENT
                reason = GONE if gone else f"cannot check it: {exc.strerror}"
                (vanished if gone else skipped).append(_skip_entry(parent, seen, dry_run, reason))
                continue
            if (
                now.st_ino != ino
                or now.st_dev != dev
                or (now.st_mode ^ mode) & _S_IFMT
                # An inode number can be reused by a new file at once; its change time cannot
                # go back. A directory's change time moves as its children go: not compared,
                # nor a file's moved by this walk removing another of its links.
                or (
                    kind != _S_IFDIR
                    and now.st_ctime_ns != ctime_ns
                    and now.st_ctime_ns != self.unlinked.get((dev, ino))
                )
            ):
                skipped.append(_skip_entry(parent, seen, dry_run, _changed(seen, now)))
                continue
            if dry_run:
                rules = rules or FolderRules(fd)
                refusal = rules.refusal(name, fd, now)
                if refusal is not None:
                    skipped.append(_skip_entry(parent, seen, dry_run, refusal))
                    continue
            else:
                try:
                    if kind == _S_IFDIR:
                        os.rmdir(name, dir_fd=fd)
                    elif now.st_nlink > 1:
                        self._unlink_one_of_several(name, fd, dev, ino)
                    else:
                        os.unlink(name, dir_fd=fd)
                except OSError as exc:
                    outcome = _skip_entry(parent, seen, dry_run, _removal_error(exc))
                    (vanished if exc.errno == errno.ENOENT else skipped).append(outcome)
                    continue
            removed += 1
            if kind != _S_IFDIR and (now.st_nlink == 1 or self._last_link(now, dry_run)):
                freed += size
        return removed, freed

    def _unlink_one_of_several(self, name: str, fd: int, dev: int, ino: int) -> None:
        """Unlink one link of a file with others, and keep the change time that gives the
        file: its other links in the root are then still the file the scan saw."""
        handle = os.open(name, os.O_PATH | os.O_NOFOLLOW, dir_fd=fd)
        try:
            os.unlink(name, dir_fd=fd)
            self.unlinked[(dev, ino)] = os.fstat(handle).st_ctime_ns
        finally:
            os.close(handle)

    def _last_link(self, now: os.stat_result, dry_run: bool) -> bool:
        """Whether removing this link of a file with several frees its bytes: only the last
        link's removal does. A real run sees the count drop as it unlinks; a dry run, which
        unlinks nothing, counts the file's links it would have removed."""
        if not dry_run:
            return False
        key = (now.st_dev, now.st_ino)
        self.links[key] = self.links.get(key, 0) + 1
        return self.links[key] >= now.st_nlink

    def _refused(self, parent: str, seen: Seen, dry_run: bool) -> Outcome:
        """The skip of an entry refused before any look at the disk, with the first reason."""
        if seen.name in _NOT_NAMES:
            reason = f"outside the cleaning root {self.root}"
        elif seen.st_mode & _S_IFMT not in _REMOVABLE:
            reason = "not a regular file, symlink or directory"
        else:
            reason = "on another filesystem than the cleaning root"
        return _skip_entry(parent, seen, dry_run, reason)

    def _parent_fd(self, parent: str) -> int:
        """The descriptor of directory `parent` (the root or below it), opened without
        following, each directory on the way checked to be on the root's filesystem."""
        if parent == self.parent_text and self._in_place(len(self.chain)) == len(self.chain):
            return self.chain[-1][1] if self.chain else self.root_fd
        self.parent_text = None
        if parent != self.root_text and not parent.startswith(self.prefix):
            raise _Refused(f"outside the cleaning root {self.root}")
        parts = [] if parent == self.root_text else parent[len(self.prefix) :].split("/")
        if "" in parts or "." in parts or ".." in parts:
            raise _Refused(f"outside the cleaning root {self.root}")
        common = 0
        while (
            common < len(self.chain)
            and common < len(parts)
            and self.chain[common][0] == parts[common]
        ):
            common += 1
        self._truncate(self._in_place(common))
        for depth in range(len(self.chain), len(parts)):
            name = parts[depth]
            fd = _open_dir(name, self.chain[-1][1] if self.chain else self.root_fd)
            refusal, status = None, os.fstat(fd)
            if status.st_dev != self.root_dev:
                refusal = f"{name} on the way is a mount point: another filesystem"
            elif self.mounts and self.prefix + "/".join(parts[: depth + 1]) in self.mounts:
                refusal = f"{name} on the way is a mount point (a bind mount)"
            elif locked_by_another(fd):
                refusal = f"{name} on the way is locked by another process (flock)"
            if refusal is not None:
                os.close(fd)
                raise _Refused(refusal)
            self.chain.append((name, fd, status.st_ino))
        self.parent_text = parent
        return self.chain[-1][1] if self.chain else self.root_fd

    def _in_place(self, upto: int) -> int:
        """How many of the first `upto` directories of the chain are still at their names in
        the one above: a directory moved out of the root since it was opened (between batches)
        would have its descriptor remove entries where it is now."""
        for depth in range(upto):
            name, _, inode = self.chain[depth]
            try:
                now = os.lstat(name, dir_fd=self.chain[depth - 1][1] if depth else self.root_fd)
            except OSError:
                return depth
            if now.st_ino != inode or now.st_dev != self.root_dev:
                return depth
        return upto

    def _truncate(self, keep: int) -> None:
        while len(self.chain) > keep:
            os.close(self.chain.pop()[1])


# Names that would leave the directory they are looked up in, or have no entry of their own.
_NOT_NAMES = frozenset({"", ".", ".."})
_REMOVABLE = frozenset({stat.S_IFREG, stat.S_IFLNK, stat.S_IFDIR})


def _skip(text: str, kind: str, size: int, dry_run: bool, reason: str) -> Outcome:
    return Outcome(text, kind, size, False, reason, dry_run)


def _skip_entry(parent: str, seen: Seen, dry_run: bool, reason: str) -> Outcome:
    kind = kind_of(seen.st_mode)
    size = seen.st_size if kind != "dir" else 0
    return Outcome(f"{parent}/{seen.name}", kind, size, False, reason, dry_run)


class _Refused(Exception):
    """A directory on the way down cannot be entered safely."""


class _Gone(_Refused):
    """A directory on the way down is no longer there: its entries vanished with it."""


def _open_dir(name: str, parent_fd: int) -> int:
    try:
        return os.open(name, DIR_FLAGS, dir_fd=parent_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise _Refused(f"{name} on the way is no longer a directory (a symlink?)") from None
        if exc.errno == errno.ENOENT:
            raise _Gone(f"{name} on the way is gone") from None
        raise _Refused(f"cannot open {name} on the way: {exc.strerror}") from None


def _changed(expected: Seen, now: os.stat_result) -> str:
    """Why `now` is not the entry the scan saw."""
    if (now.st_mode ^ expected.st_mode) & _S_IFMT:
        return (
            f"changed since the scan: was a {kind_of(expected.st_mode)}, "
            f"now a {kind_of(now.st_mode)}"
        )
    if (now.st_dev, now.st_ino) != (expected.st_dev, expected.st_ino):
        return "changed since the scan: replaced by another entry of the same name"
    return "changed since the scan: modified, or replaced by another entry of the same name"


def _removal_error(exc: OSError) -> str:
    if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
        return "directory not empty"
    if exc.errno in (errno.EISDIR, errno.ENOTDIR):
        return f"changed while being removed: {exc.strerror}"
    if exc.errno == errno.EPERM:  # Linux: an immutable or append-only file, or a sticky folder
        return f"cannot remove: {exc.strerror} {PERMITTED}"
    if exc.errno == errno.ENOENT:
        return GONE
    return f"cannot remove: {exc.strerror}"
