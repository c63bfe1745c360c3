"""Responsible for keeping the run folders of the last build across MkDocs' clean-up of the site.

MkDocs empties site_dir before every build (all but its hidden entries); over years of history
that cost each nightly build the removal and the re-creation of every run's folders and links
(about a third of a nightly build over 5 years: 13,078 folders removed and made again for
6,461 runs). Before the clean-up `runs/` is moved aside, by one rename, to a hidden folder of the
site; after the build, each run folder that holds exactly the files the run page store gives for
that run (the same names, each the same file: a hard link to the stored one) is moved back by one
rename, and what is left of the old tree (runs gone from the evidence, changed runs, the old
month pages) is removed. Nothing that differs by one file is reused: it is placed again.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

KEPT = ".upkeep-runs-kept"  # hidden: MkDocs' clean-up leaves it alone
RUNS = "runs"


def keep_runs(site_dir: Path) -> Path | None:
    """Move `site_dir/runs` of the last build aside before MkDocs cleans the site; the folder
    it is in now, or None when there is none (a first build, a symlink, another filesystem)."""
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


def reuse(kept: Path | None, relpath: str, target: Path, stored: dict[str, Path]) -> bool:
    """Move the run's folder of the last build (`relpath` under runs/) to `target` when it
    holds exactly the `stored` files, each the same file; False leaves it to be removed."""
    if kept is None or not relpath.startswith(f"{RUNS}/"):
        return False
    old = kept / relpath.removeprefix(f"{RUNS}/")
    try:
        found = _files(old, "")
        if found is None or set(found) != set(stored):
            return False
        for name, path in stored.items():
            info = os.lstat(path)
            if (info.st_dev, info.st_ino) != found[name]:
                return False
        os.makedirs(target.parent, exist_ok=True)
        os.rename(old, target)
    except OSError:
        return False
    return True


def discard(kept: Path | None) -> None:
    """Remove what is left of the last build's run folders."""
    if kept is not None:
        shutil.rmtree(kept, ignore_errors=True)


def _files(folder: Path, prefix: str) -> dict[str, tuple[int, int]] | None:
    """Every regular file under `folder` by its relative name, with its device and inode; None
    when anything else is there (a symlink, a special file)."""
    found: dict[str, tuple[int, int]] = {}
    with os.scandir(folder) as entries:
        for entry in entries:
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode):
                found[prefix + entry.name] = (info.st_dev, info.st_ino)
            elif stat.S_ISDIR(info.st_mode):
                inner = _files(Path(entry.path), f"{prefix}{entry.name}/")
                if inner is None:
                    return None
                found |= inner
            else:
                return None
    return found
