"""Responsible for keeping the run folders of the last build across MkDocs' clean-up of the site.

MkDocs empties site_dir before every build (all but its hidden entries); over years of history
that cost each nightly build the removal and the re-creation of every run's folders and links
(about a third of a nightly build over 5 years: 13,078 folders removed and made again for
6,461 runs). Before the clean-up `runs/` is moved aside, by one rename, to a hidden folder of the
site; after the build, each run folder that holds exactly the files the run page store gives for
that run (the same names, each the same file: a hard link to the stored one) is moved back by one
rename, and what is left of the old tree (runs gone from the evidence, changed runs, the old
month pages) is removed. Nothing that differs by one file is reused: it is placed again.
A run folder whose folders still have the identity (inode, mtime_ns, ctime_ns) they had when the
last build placed it, with the same stored files, is known to hold them without being listed:
a folder's mtime and ctime change whenever an entry in it is added, removed or replaced.
"""

from __future__ import annotations

import functools
import os
import shutil
import stat
from pathlib import Path
from typing import Any

KEPT = ".upkeep-runs-kept"  # hidden: MkDocs' clean-up leaves it alone
RUNS = "runs"


def keep_runs(site_dir: Path, previous: Path | None = None) -> Path | None:
    """Move `site_dir/runs` of the last build aside before MkDocs cleans the site; the folder
    it is in now, or None when there is none (a first build, a symlink, another filesystem).
    A build into a new folder beside the served site (`swap.staged`) takes the run folders from
    that site's `runs/` itself (`previous`), which is left where it is: a folder is moved out of
    it only when the build reuses it, and moved back if the build fails."""
    if previous is not None:
        runs = previous / RUNS
        return runs if os.path.isdir(runs) and not os.path.islink(runs) else None
    kept = site_dir / KEPT
    shutil.rmtree(kept, ignore_errors=True)  # left by a build that failed after moving it
    runs = site_dir / RUNS
    try:
        if not stat.S_ISDIR(os.lstat(runs).st_mode):
            return None
        os.rename(runs, kept)
    except OSError:
        return None
    return kept


def reuse(
    kept: Path | None,
    relpath: str,
    target: str | Path,
    stored: dict[str, tuple[int, int]],
    placed_as: Any = None,
) -> bool:
    """Move the run's folder of the last build (`relpath` under runs/) to `target`, whose
    parent the caller has made, when it holds exactly the `stored` files (by name, their device
    and inode), each the same file; False leaves it to be removed. `placed_as`: the
    `folder_identity` the folder had when the last build placed the same stored files in it
    (None when they were not the same): a folder that still has it is not listed."""
    if kept is None or not relpath.startswith(f"{RUNS}/"):
        return False
    old = os.path.join(kept, relpath.removeprefix(f"{RUNS}/"))
    try:
        if placed_as is not None and folder_identity(old, stored) == placed_as:
            os.rename(old, target)
            return True
        own = os.lstat(old)
        if not stat.S_ISDIR(own.st_mode):
            return False
        found: dict[str, int] = {}
        if not _files(old, "", found) or found.keys() != stored.keys():
            return False
        if any(stored[name] != (own.st_dev, inode) for name, inode in found.items()):
            return False
        os.rename(old, target)
    except OSError:
        return False
    return True


def folder_identity(folder: str | Path, stored: dict[str, Any]) -> list[list[int]] | None:
    """The (inode, mtime_ns, ctime_ns) of a run folder in the site and of each folder in it
    that the names of `stored` go through, in order; None when one is not a folder."""
    identity = []
    for name in _folders_of(tuple(stored)):
        try:
            info = os.lstat(os.path.join(folder, name))
        except OSError:
            return None
        if not stat.S_ISDIR(info.st_mode):
            return None
        identity.append([info.st_ino, info.st_mtime_ns, info.st_ctime_ns])
    return identity


@functools.lru_cache(maxsize=64)
def _folders_of(names: tuple[str, ...]) -> tuple[str, ...]:
    """`report/index.html` -> `report`: the run folder itself (`""`), then every folder the
    names go through, sorted (the same few names for every run: worked out once)."""
    folders = set()
    for name in names:
        parts = name.split("/")[:-1]
        folders |= {"/".join(parts[: depth + 1]) for depth in range(len(parts))}
    return ("", *sorted(folders))


def discard(kept: Path | None) -> None:
    """Remove what is left of the last build's run folders moved aside (`KEPT`); the served
    site's `runs/` (a build beside it) goes with the rest of the old site when the new one is
    put in place, never before."""
    if kept is not None and kept.name == KEPT:
        shutil.rmtree(kept, ignore_errors=True)


def _files(folder: str, prefix: str, found: dict[str, int]) -> bool:
    """Add every regular file under `folder` to `found` by its relative name, with its inode;
    False when anything else is there (a symlink, a special file). The listing gives both the
    kind and the inode (no stat per file: the nightly build looks at every run's folder); on a
    filesystem whose listing gives other inode numbers than stat, nothing matches and every run
    folder is placed again."""
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_file(follow_symlinks=False):
                found[prefix + entry.name] = entry.inode()
                continue
            inner = f"{prefix}{entry.name}/"
            if not (entry.is_dir(follow_symlinks=False) and _files(entry.path, inner, found)):
                return False
    return True
