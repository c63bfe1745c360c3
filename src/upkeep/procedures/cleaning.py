"""Responsible for daily cleaning of temp and cache roots: scan, plan, remove safely, record.

Each root is handled in three phases, each a plain function:

1. `scan_root` lists the tree with `os.scandir` on directory descriptors opened without following
   symlinks (one `lstat` per entry); it never descends into a symlink, a `protect`ed directory or
   another filesystem (a mount point is reported, not entered).
2. `plan_temp` / `plan_cache` decide what goes: temp files older than the root's `max_age_days`;
   cache files older than that, then the oldest others until the root fits in `max_bytes`; and,
   in both, directories that would be left empty and were themselves last modified before the
   cutoff (a fresh empty directory may be one an application is about to use). The root itself
   is never removed, and nothing matching a `protect` glob is ever touched: a glob without "/"
   (`*.keep`) is matched against each entry's name, one with "/" (`sessions/vip`) against its
   path relative to the root; a protected directory is not entered at all. `max_bytes` is
   measured over what cleaning may remove (regular files and links, protected entries aside).
3. `execute` hands the plan to `upkeep.procedures.safedelete`, which re-checks every entry and
   removes only what is still what the scan saw. A dry run goes through the same checks and
   removes nothing, so it reports exactly what a real run would remove.

A root may hold 100,000 files, so the data is kept per directory and small: a scan keeps one
`Seen` (name and the few `lstat` fields a removal re-checks) per file in its directory's
`Folder`; a plan is a list of `Batch`es, one per directory; a `RootCleaning` keeps counts, bytes
and the skips, and rebuilds the list of removals from the plan only when asked. The cyclic
garbage collector is paused while a tree is scanned or cleaned (see `_gc_paused`).

`record_cleaning` turns the results into checks, metrics and findings (`upkeep.report`).
"""

from __future__ import annotations

import fnmatch
import gc
import itertools
import os
import re
import stat
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from upkeep import report
from upkeep.config import Cleanup, CleanupRoot
from upkeep.procedures.safedelete import (
    DIR_FLAGS,
    Batch,
    Outcome,
    Removal,
    RootError,
    Seen,
    Tally,
    kind_of,
    open_root,
    remove_batches,
)

__all__ = [
    "DRY_RUN_CHOICES",
    "Plan",
    "RootCleaning",
    "Scan",
    "clean",
    "clean_temp_roots",
    "execute",
    "plan_cache",
    "plan_temp",
    "record_cleaning",
    "record_totals",
    "resolve_dry_run",
    "scan_root",
    "trim_cache_roots",
]

DAY_S = 86400.0
_S_IFMT, _S_IFDIR = 0o170000, stat.S_IFDIR
_FILE_KINDS = frozenset({stat.S_IFREG, stat.S_IFLNK})  # what a scan lists as files
DRY_RUN_CHOICES = ("config", "yes", "no")
MAX_LISTED = 200  # removed entries printed per root; the counts and bytes always cover all
MAX_FINDINGS = 50  # skipped entries recorded as findings per root


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
    skipped: tuple[Removal, ...]  # mount points and unreadable directories, not entered
    protected: int  # entries matching a protect glob (a protected directory counts once)
    total_bytes: int  # sizes of the files (what a max_bytes limit is measured against)

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


@dataclass(frozen=True)
class Plan:
    """What one root's cleaning would remove, in removal order (children before parents)."""

    root: CleanupRoot
    purpose: str  # "temp" | "cache"
    batches: tuple[Batch, ...]  # what goes, directory by directory, in removal order
    skipped: tuple[Removal, ...]  # decided at scan or plan time, never attempted
    bytes_before: int
    protected: int
    error: str | None = None  # the root could not be scanned at all

    @property
    def remove(self) -> tuple[Entry, ...]:
        """Every entry that goes, in removal order."""
        return tuple(_entries(self.batches))


@dataclass(frozen=True)
class RootCleaning:
    """The outcome for one root: counts and bytes of what went, every skip with its reason.

    Only skips are kept entry by entry; the full list of removals is rebuilt on demand from the
    plan (every planned entry that was not skipped went), so a large cleaning stays cheap."""

    root: CleanupRoot
    purpose: str
    dry_run: bool
    attempted: tuple[Batch, ...]  # the plan's batches, in the order they were attempted
    failures: tuple[Outcome, ...]  # attempted entries that were not removed, with the reason
    removed_count: int  # removed (in a dry run: that a real run would remove)
    freed_bytes: int
    skipped: tuple[Removal, ...]  # skipped at scan or plan time
    bytes_before: int
    protected: int
    error: str | None = None

    def iter_outcomes(self) -> Iterator[Outcome]:
        """Every attempted removal, in order: removed (would be, in a dry run) or skipped."""
        failed = {outcome.path: outcome for outcome in self.failures}
        done, dry = not self.dry_run, self.dry_run
        for path, seen in _entries(self.attempted):
            if path in failed:
                yield failed[path]
            else:
                kind = kind_of(seen.st_mode)
                yield Outcome(path, kind, 0 if kind == "dir" else seen.st_size, done, None, dry)

    @property
    def outcomes(self) -> tuple[Outcome, ...]:
        return tuple(self.iter_outcomes())

    @property
    def removals(self) -> tuple[Removal, ...]:
        """Every attempted removal, removed or skipped."""
        return tuple(outcome.removal() for outcome in self.iter_outcomes())

    @property
    def removed(self) -> tuple[Removal, ...]:
        """Removed entries (in a dry run: the entries a real run would remove)."""
        return tuple(o.removal() for o in self.iter_outcomes() if o.would_remove)

    @property
    def failed(self) -> tuple[Removal, ...]:
        """Attempted removals that did not happen (or, in a dry run, would not)."""
        return tuple(outcome.removal() for outcome in self.failures)

    @property
    def all_skipped(self) -> tuple[Removal, ...]:
        return self.skipped + self.failed

    @property
    def bytes_after(self) -> int:
        return self.bytes_before - self.freed_bytes

    @property
    def over_limit(self) -> bool:
        return self.root.max_bytes is not None and self.bytes_after > self.root.max_bytes


def _entries(batches: Iterable[Batch]) -> Iterator[Entry]:
    for parent, entries in batches:
        for seen in entries:
            yield Entry(f"{parent}/{seen.name}", seen)


# ---------------------------------------------------------------- scan


class _Protect:
    """The protect globs: one without "/" is matched against an entry's name, one with "/"
    against its path relative to the root (fnmatch rules: `*` also matches "/")."""

    def __init__(self, globs: Sequence[str]) -> None:
        self.by_name = _any_of(g for g in globs if "/" not in g)
        self.by_path = _any_of(g.strip("/") for g in globs if "/" in g)


def _any_of(globs: Iterable[str]) -> Callable[[str], object] | None:
    patterns = [f"(?:{fnmatch.translate(glob)})" for glob in globs]
    return re.compile("|".join(patterns)).match if patterns else None


def scan_root(root: Path, protect: Sequence[str] = ()) -> Scan:
    """List `root`'s tree without following symlinks or leaving its filesystem."""
    root_fd = open_root(root)
    try:
        root_stat = os.fstat(root_fd)
        with _gc_paused():
            return _Scanner(root, _Protect(protect), root_stat.st_dev).walk(root_fd, root_stat)
    finally:
        os.close(root_fd)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """The cyclic garbage collector paused while a large tree is scanned or cleaned.

    Both allocate a few container objects per entry and create no reference cycles, yet every
    700 allocations trigger a collection: on 100,000 files the collections cost about 15% of
    the scan's CPU time. Reference counting still frees everything as usual."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Scanner:
    def __init__(self, root: Path, protect: _Protect, root_dev: int) -> None:
        self.root = str(root)
        self.by_name = protect.by_name
        self.by_path = protect.by_path
        self.root_dev = root_dev
        self.folders: list[Folder] = []
        self.others: list[Entry] = []
        self.skipped: list[Removal] = []
        self.protected_count = 0
        self.total = 0

    def walk(self, root_fd: int, root_stat: os.stat_result) -> Scan:
        # Depth first with an explicit stack: open descriptors stay as few as the tree is deep.
        top = self._list(root_fd, Entry(self.root, Seen.of("", root_stat)), "")
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
        )

    def _list(self, fd: int, directory: Entry, rel: str) -> list[Entry]:
        """Record the entries of `directory` (open as `fd`); return its subdirectories to enter."""
        # The hot loop of a scan: names bound locally, file types compared as integers, and one
        # small `Seen` per file rather than a path string and a whole `os.stat_result`.
        path = directory.path
        subdirs: list[Entry] = []
        files: list[Seen] = []
        add_file, new, total, count, protected = files.append, tuple.__new__, 0, 0, 0
        by_name, by_path = self.by_name, self.by_path
        with os.scandir(fd) as listing:
            for item in listing:
                count += 1
                name = item.name
                if (by_name and by_name(name)) or (by_path and by_path(rel + name)):
                    protected += 1
                    continue
                st = item.stat(follow_symlinks=False)
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
                        self._skip(entry, "a mount point (another filesystem): not entered")
                    else:
                        subdirs.append(entry)
                else:
                    self.others.append(Entry(f"{path}/{name}", seen))
        self.folders.append(Folder(path, directory.stat, files, count))
        self.protected_count += protected
        self.total += total
        return subdirs

    def _enter(self, parent_fd: int, name: str, entry: Entry) -> int | None:
        try:
            fd = os.open(name, DIR_FLAGS, dir_fd=parent_fd)
        except OSError as exc:
            self._skip(entry, f"cannot enter: {exc.strerror}")
            return None
        now = os.fstat(fd)
        if (now.st_dev, now.st_ino) != (entry.stat.st_dev, entry.stat.st_ino):
            os.close(fd)
            self._skip(entry, "changed during the scan: not entered")
            return None
        return fd

    def _skip(self, entry: Entry, reason: str) -> None:
        self.skipped.append(
            Removal(Path(entry.path), kind_of(entry.stat.st_mode), 0, False, reason)
        )


# ---------------------------------------------------------------- plan


def plan_temp(
    root: CleanupRoot, protect: Sequence[str] = (), *, now: datetime | None = None
) -> Plan:
    """Temp files older than `root.max_age_days`, then the directories they leave empty."""
    return _plan(root, protect, "temp", now, _expired_only)


def plan_cache(
    root: CleanupRoot, protect: Sequence[str] = (), *, now: datetime | None = None
) -> Plan:
    """Cache files older than `root.max_age_days`, then the oldest others (by modification time)
    until the rest fits in `root.max_bytes`, then the directories they leave empty."""
    return _plan(root, protect, "cache", now, _expired_then_oldest)


def _expired_only(scan: Scan, cutoff: float, max_bytes: int | None) -> list[Batch]:
    batches = []
    for folder in scan.folders:
        expired = [seen for seen in folder.files if seen.st_mtime < cutoff]
        if expired:
            batches.append(Batch(folder.path, expired))
    return batches


def _expired_then_oldest(scan: Scan, cutoff: float, max_bytes: int | None) -> list[Batch]:
    oldest_first = sorted(
        (seen.st_mtime, f"{folder.path}/{seen.name}", folder.path, seen)
        for folder in scan.folders
        for seen in folder.files
    )
    count = sum(1 for file in oldest_first if file[0] < cutoff)
    if max_bytes is not None:
        total = scan.total_bytes - sum(file[3].st_size for file in oldest_first[:count])
        for file in oldest_first[count:]:
            if total <= max_bytes:
                break
            count += 1
            total -= file[3].st_size
    # Removed oldest first: consecutive files of one directory share a batch.
    return [
        Batch(parent, [file[3] for file in files])
        for parent, files in itertools.groupby(oldest_first[:count], key=lambda file: file[2])
    ]


def _plan(
    root: CleanupRoot,
    protect: Sequence[str],
    purpose: str,
    now: datetime | None,
    choose: Callable[[Scan, float, int | None], list[Batch]],
) -> Plan:
    try:
        scan = scan_root(root.path, protect)
    except OSError as exc:  # RootError, or the root cannot be listed
        return Plan(root, purpose, (), (), 0, 0, error=f"{exc.strerror}: {root.path}")
    cutoff = (now.timestamp() if now else time.time()) - root.max_age_days * DAY_S
    files = choose(scan, cutoff, root.max_bytes)
    skipped = [
        Removal(Path(e.path), "other", 0, False, "not a regular file, symlink or directory")
        for e in scan.others
        if e.stat.st_mtime < cutoff
    ]
    return Plan(
        root=root,
        purpose=purpose,
        batches=tuple(files + _emptied_dirs(scan, files, cutoff)),
        skipped=tuple(scan.skipped) + tuple(skipped),
        bytes_before=scan.total_bytes,
        protected=scan.protected,
    )


def _emptied_dirs(scan: Scan, files: Iterable[Batch], cutoff: float) -> list[Batch]:
    """Directories all of whose entries go, children first; never the root."""
    going: Counter[str] = Counter()
    for parent, entries in files:
        going[parent] += len(entries)
    emptied = []
    for folder in scan.folders[:0:-1]:  # children before parents, so counts are complete
        if going[folder.path] == folder.children and folder.stat.st_mtime < cutoff:
            parent = folder.path.rpartition("/")[0]
            emptied.append(Batch(parent, [folder.stat]))
            going[parent] += 1
    return emptied


# ---------------------------------------------------------------- execute


def execute(plan: Plan, *, dry_run: bool) -> RootCleaning:
    """Remove what `plan` lists, each entry re-checked by `safedelete` (nothing in a dry run)."""
    tally = Tally(0, 0, ())
    error = plan.error
    if error is None and plan.batches:
        try:
            with _gc_paused():
                tally = remove_batches(plan.root.path, plan.batches, dry_run=dry_run)
        except RootError as exc:
            error = f"{exc.strerror}: {plan.root.path}"
    return RootCleaning(
        root=plan.root,
        purpose=plan.purpose,
        dry_run=dry_run,
        attempted=plan.batches if error is None else (),
        failures=tally.skipped,
        removed_count=tally.removed,
        freed_bytes=tally.freed,
        skipped=plan.skipped,
        bytes_before=plan.bytes_before,
        protected=plan.protected,
        error=error,
    )


def clean_temp_roots(
    cleanup: Cleanup, *, dry_run: bool, now: datetime | None = None
) -> list[RootCleaning]:
    """Plan and clean every configured temp root, in order."""
    return [
        execute(plan_temp(root, cleanup.protect, now=now), dry_run=dry_run)
        for root in cleanup.temp_roots
    ]


def trim_cache_roots(
    cleanup: Cleanup, *, dry_run: bool, now: datetime | None = None
) -> list[RootCleaning]:
    """Plan and trim every configured cache root, in order."""
    return [
        execute(plan_cache(root, cleanup.protect, now=now), dry_run=dry_run)
        for root in cleanup.cache_roots
    ]


def clean(
    cleanup: Cleanup, *, dry_run: bool | None = None, now: datetime | None = None
) -> list[RootCleaning]:
    """Clean every temp root, then trim every cache root; `dry_run` defaults to the config's."""
    dry = cleanup.dry_run if dry_run is None else dry_run
    return clean_temp_roots(cleanup, dry_run=dry, now=now) + trim_cache_roots(
        cleanup, dry_run=dry, now=now
    )


def resolve_dry_run(choice: str, cleanup: Cleanup) -> bool:
    """The runbook's `dry_run` parameter: "config" (the config's `cleanup.dry_run`), "yes", "no"."""
    if choice not in DRY_RUN_CHOICES:
        raise ValueError(f"dry_run must be one of {', '.join(DRY_RUN_CHOICES)}, got {choice!r}")
    return cleanup.dry_run if choice == "config" else choice == "yes"


# ---------------------------------------------------------------- record


def record_cleaning(results: Sequence[RootCleaning]) -> None:
    """One check per root, metrics of what was freed, a finding per skipped entry, and a list of
    what was removed. A check fails when a root could not be used at all, and warns when the root
    is still over its `max_bytes` afterwards or an expected removal failed."""
    for result in results:
        _record_root(result)


def record_totals(results: Sequence[RootCleaning]) -> None:
    """A closing check over every root: what was freed in all; it warns when no root is configured
    (the runbook would otherwise clean nothing, every day, without anyone noticing)."""
    verb = "would free" if any(r.dry_run for r in results) else "freed"
    freed = sum(r.freed_bytes for r in results)
    report.metric("cleaning_freed_bytes_total", freed, unit="B")
    if not results:
        report.check(
            "cleaning:total", "warn", message="no temp or cache roots under cleanup: in upkeep.yml"
        )
        return
    removed = sum(r.removed_count for r in results)
    report.check(
        "cleaning:total",
        "ok",
        value=freed,
        unit="B",
        message=f"{verb} {_size(freed)} ({removed} entries) in {len(results)} roots",
    )


def _record_root(result: RootCleaning) -> None:
    root = result.root
    name = f"cleaning:{result.purpose}:{root.path}"
    labels = {"root": str(root.path), "purpose": result.purpose}
    verb = "would remove" if result.dry_run else "removed"
    if result.error is not None:
        report.check(name, "fail", message=f"root refused: {result.error}")
        return
    count = result.removed_count
    skipped = result.all_skipped
    report.metric("cleaning_removed_entries", count, labels=labels)
    report.metric("cleaning_freed_bytes", result.freed_bytes, unit="B", labels=labels)
    report.metric("cleaning_root_bytes", result.bytes_after, unit="B", labels=labels)
    report.metric("cleaning_skipped_entries", len(skipped), labels=labels)
    _print_removed(result, verb, count)
    failed = result.failed
    for skip in skipped[:MAX_FINDINGS]:
        report.finding(f"{name}:skipped:{skip.path}", skip.skipped or "", severity="warn")
    if len(skipped) > MAX_FINDINGS:
        report.finding(
            f"{name}:skipped:more",
            f"{len(skipped) - MAX_FINDINGS} more skipped entries not listed",
            severity="warn",
        )
    summary = (
        f"{verb} {count} entries, {_size(result.freed_bytes)}; "
        f"{_size(result.bytes_after)} left; {len(skipped)} skipped; "
        f"{result.protected} protected"
    )
    if result.over_limit:
        report.check(
            name,
            "warn",
            value=result.bytes_after,
            limit=root.max_bytes,
            unit="B",
            message=f"still over its limit after cleaning: {summary}",
        )
    elif failed:
        report.check(name, "warn", message=f"{len(failed)} removals did not happen: {summary}")
    else:
        report.check(
            name, "ok", value=result.bytes_after, limit=root.max_bytes, unit="B", message=summary
        )


def _print_removed(result: RootCleaning, verb: str, count: int) -> None:
    print(f"{result.purpose} root {result.root.path}: {verb} {count} entries")
    listed = (o for o in result.iter_outcomes() if o.would_remove)
    for outcome in itertools.islice(listed, MAX_LISTED):
        print(f"  {verb} {outcome.kind:7} {outcome.size:>12,} B  {outcome.path}")
    if count > MAX_LISTED:
        print(f"  ... and {count - MAX_LISTED} more")


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    value, unit = n / 1024, "KiB"
    for bigger in ("MiB", "GiB", "TiB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{value:,.1f} {unit}"
