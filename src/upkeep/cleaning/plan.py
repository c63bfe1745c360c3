"""Responsible for deciding what one cleaning root loses: a plan per root, by cleaning kind.

Temp roots lose files older than the root's `max_age_days`; cache roots lose those, then the
oldest others until the root fits in `max_bytes` (measured over what cleaning may remove:
regular files and links, protected entries aside). Both then lose the directories that would be
left empty and were themselves last modified before the cutoff (a fresh empty directory may be
one an application is about to use). The root itself is never removed. A plan is a list of
`Batch`es, one per directory, in removal order (children before parents). A root that cannot be
scanned at all gives a plan with its `error`, naming the path that failed.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import assert_never

from upkeep.cleaning.safedelete import Batch, Removal
from upkeep.cleaning.scan import Entry, Scan, scan_root
from upkeep.config import CleanupRoot

__all__ = [
    "CleaningKind",
    "Plan",
    "failure_message",
    "plan_cache",
    "plan_root",
    "plan_temp",
    "planned_entries",
]

DAY_S = 86400.0


class CleaningKind(StrEnum):
    """What a root holds, which decides what its cleaning removes."""

    TEMP = "temp"  # files nobody needs once they are old
    CACHE = "cache"  # files that may go when old, and the oldest others when over a size


@dataclass(frozen=True)
class Plan:
    """What one root's cleaning would remove, in removal order (children before parents)."""

    root: CleanupRoot
    purpose: CleaningKind
    batches: tuple[Batch, ...]  # what goes, directory by directory, in removal order
    skipped: tuple[Removal, ...]  # decided at scan or plan time, never attempted
    bytes_before: int
    protected: int
    error: str | None = None  # the root could not be scanned at all
    vanished: tuple[Removal, ...] = ()  # listed by the scan, gone before it could look at them

    @property
    def remove(self) -> tuple[Entry, ...]:
        """Every entry that goes, in removal order."""
        return tuple(planned_entries(self.batches))


def planned_entries(batches: Iterable[Batch]) -> Iterator[Entry]:
    """Every entry of `batches`, in order, with its path."""
    for parent, entries in batches:
        for seen in entries:
            yield Entry(f"{parent}/{seen.name}", seen)


def plan_root(
    root: CleanupRoot,
    kind: CleaningKind,
    protect: Sequence[str] = (),
    *,
    now: datetime | None = None,
) -> Plan:
    """The plan for `root` cleaned as `kind` (see `plan_temp` and `plan_cache`)."""
    match kind:
        case CleaningKind.TEMP:
            return _plan(root, protect, kind, now, _expired_only)
        case CleaningKind.CACHE:
            return _plan(root, protect, kind, now, _expired_then_oldest)
        case _:
            assert_never(kind)


def plan_temp(
    root: CleanupRoot, protect: Sequence[str] = (), *, now: datetime | None = None
) -> Plan:
    """Temp files older than `root.max_age_days`, then the directories they leave empty."""
    return plan_root(root, CleaningKind.TEMP, protect, now=now)


def plan_cache(
    root: CleanupRoot, protect: Sequence[str] = (), *, now: datetime | None = None
) -> Plan:
    """Cache files older than `root.max_age_days`, then the oldest others (by modification time)
    until the rest fits in `root.max_bytes`, then the directories they leave empty."""
    return plan_root(root, CleaningKind.CACHE, protect, now=now)


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
    purpose: CleaningKind,
    now: datetime | None,
    choose: Callable[[Scan, float, int | None], list[Batch]],
) -> Plan:
    try:
        scan = scan_root(root.path, protect)
    except OSError as exc:  # RootError: the root itself cannot be opened, listed or cleaned
        return Plan(root, purpose, (), (), 0, 0, error=failure_message(exc, root.path))
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
        vanished=scan.vanished,
    )


def failure_message(exc: OSError, root: Path) -> str:
    """What went wrong and the path it went wrong on (`exc.filename`; the root only if none)."""
    return f"{exc.strerror or exc}: {exc.filename or root}"


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
