"""Responsible for building a site beside the one being served and putting it in place whole.

`upkeep site build` has MkDocs write the new site into a hidden folder inside the site folder
(`.upkeep-building-<pid>-*`: the same filesystem, so every step is a rename), and only once the
build has succeeded moves each of its top-level entries into place, the old entry going aside
first; what is left of the old site is then removed. A build that fails (a full disk, a broken
link under --strict, Ctrl-C) leaves the site as it was: the run folders the build had already
taken over from the old site (`kept_runs`: moved, not copied) are moved back, and the hidden
folder is removed. The site folder itself is never replaced (its inode, owner and mode stay;
a web server's or a container's bind mount of it keeps seeing it), nor its other hidden entries
(a gh-pages checkout's `.git`).

A build killed outright (SIGKILL, a power cut) cannot clean up: the next build first gives back
what such a build left, as a failed one would have (`recover`). Until then the run folders it
had taken over are missing from the served site.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from upkeep.evidence.in_progress import process_alive, unheld
from upkeep.site.kept_runs import KEPT, RUNS

BUILDING_PREFIX = ".upkeep-building-"
REPLACED_PREFIX = ".upkeep-replaced-"
_LEFT = re.compile(rf"({re.escape(BUILDING_PREFIX)}|{re.escape(REPLACED_PREFIX)})(\d+)-\w+")


@contextlib.contextmanager
def staged(site: Path, cleared: list[str]) -> Iterator[Path]:
    """A new hidden folder inside the folder `site` (made if need be) for MkDocs to build into,
    held with `flock` while in use. When the block ends without an error its entries replace
    the site's; otherwise the site is given back what the build took (`_give_back`). What
    killed builds left is cleared first (`recover`), one line each in `cleared`."""
    site.mkdir(parents=True, exist_ok=True)
    with _one_build_at_a_time(site):
        cleared += recover(site)
        staging = Path(tempfile.mkdtemp(prefix=f"{BUILDING_PREFIX}{os.getpid()}-", dir=site))
        held = os.open(staging, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            fcntl.flock(held, fcntl.LOCK_EX)
            try:
                yield staging
            except BaseException:
                _give_back(staging, site)
                raise
            _put_in_place(staging, site)
        finally:
            os.close(held)


@contextlib.contextmanager
def _one_build_at_a_time(site: Path) -> Iterator[None]:
    """An exclusive `flock` on the site folder itself: a second build into it (a nightly's and
    one by hand) waits for the first, saying so, rather than taking its run folders away."""
    held = os.open(site, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"upkeep: waiting for the site build running into {site}", file=sys.stderr)
            fcntl.flock(held, fcntl.LOCK_EX)
        except OSError:  # no flock on folders here (NFS): builds are not kept apart
            pass
        yield
    finally:
        os.close(held)


def recover(site: Path) -> list[str]:
    """Give back what builds killed part way left in `site` (their folder held by no one, their
    process gone); return one line per folder cleared. An in-place build's kept run folders
    (`kept_runs.KEPT`) go back to `runs/` when the site has none."""
    cleared = []
    try:
        names = sorted(os.listdir(site), key=lambda name: not name.startswith(REPLACED_PREFIX))
    except OSError:
        return cleared
    for name in names:
        match = _LEFT.fullmatch(name)
        left = site / name
        if match is None or not _abandoned(left, int(match[2])):
            continue
        if match[1] == REPLACED_PREFIX:  # killed while putting a new site in place
            _merge_missing(left, site)
            shutil.rmtree(left, ignore_errors=True)
        else:
            _give_back(left, site)
        cleared.append(f"cleared {left}: left by a site build that was stopped")
    kept = site / KEPT
    if os.path.isdir(kept) and not os.path.islink(kept):
        if not os.path.lexists(site / RUNS):
            with contextlib.suppress(OSError):
                os.rename(kept, site / RUNS)
        shutil.rmtree(kept, ignore_errors=True)
    return cleared


def _put_in_place(staging: Path, site: Path) -> None:
    """Move every entry of `staging` into `site`, each old entry of that name going aside first
    (two renames: no moment without either), then the old site's remaining visible entries."""
    aside = Path(tempfile.mkdtemp(prefix=f"{REPLACED_PREFIX}{os.getpid()}-", dir=site))
    new = os.listdir(staging)
    for name in new:
        with contextlib.suppress(FileNotFoundError):
            os.rename(site / name, aside / name)
        os.rename(staging / name, site / name)
    for name in set(os.listdir(site)) - set(new):
        if not name.startswith("."):  # hidden entries are the folder's own (.git, a marker)
            os.rename(site / name, aside / name)
    os.rmdir(staging)
    shutil.rmtree(aside, ignore_errors=True)


def _give_back(staging: Path, site: Path) -> None:
    """Move the run folders a build took from the old site back into its `runs/` (any the old
    site lacks: a new run's folder is a page of its own too), then remove the build's folder."""
    with contextlib.suppress(OSError):
        _merge_missing(staging / RUNS, site / RUNS)
    shutil.rmtree(staging, ignore_errors=True)


def _merge_missing(source: Path, target: Path) -> None:
    """Move each entry of the folder `source` that `target` lacks into it, and go down into the
    folders both hold; symlinks are never followed."""
    if not os.path.lexists(target):
        os.rename(source, target)
        return
    if os.path.islink(target) or not os.path.isdir(target):
        return
    with os.scandir(source) as entries:
        for entry in list(entries):
            inside = target / entry.name
            if not os.path.lexists(inside):
                with contextlib.suppress(OSError):
                    os.rename(entry.path, inside)
            elif entry.is_dir(follow_symlinks=False):
                _merge_missing(Path(entry.path), inside)


def _abandoned(folder: Path, pid: int) -> bool:
    """Whether `folder` was left by a build that is gone: no process holds its `flock`, and its
    process does not run (a pid reused since is taken as running: the folder waits)."""
    return unheld(folder) and not process_alive(pid)
