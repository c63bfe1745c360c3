"""Responsible for verifying the evidence for a site build while re-hashing only the run folders
that changed since an earlier build: `evidence.verify` walks the ledger as always, and each run
folder's verdict is kept in a cache under state_dir, keyed on its ledger line's hash and the
identity (size, mtime_ns, inode, ctime_ns, mode) of every file in it, and checked again
(`check_recorded_folder`) whenever any of that differs. The chain and the folders the ledger does
not record are checked on every build; a cache that cannot be read is ignored (everything is
checked). The result equals `evidence.verify`'s.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from upkeep import atomic
from upkeep.evidence.ledger import LedgerEntry, LedgerLine
from upkeep.evidence.verify import Mismatch, VerifyReport, check_recorded_folder, verify
from upkeep.site.run_page_store import compact_json, read_runs_cache

CACHE_FILE = "site/verified-runs.json"  # under state_dir: never in the evidence, never published
CACHE_FORMAT = 1


def cache_path(state_dir: Path) -> Path:
    return state_dir / CACHE_FILE


def verify_with_cache(
    root: Path, cache: Path, lines: Iterable[LedgerLine] | None = None
) -> VerifyReport:
    """`evidence.verify(root)`, reusing the verdict of every run folder unchanged since the
    cache was written; the cache is rewritten (atomically) when anything in it changed.
    `lines`: the ledger as the caller read it (`evidence.verify`'s), else it is read here."""
    known = read_runs_cache(cache, CACHE_FORMAT)
    folders = _CachedFolders(known)
    report = verify(root, folders.check, lines)
    if folders.fresh != known:
        # A cache that cannot be written costs the next build time, nothing else.
        with contextlib.suppress(OSError):
            atomic.write_bytes(cache, compact_json({"format": CACHE_FORMAT, "runs": folders.fresh}))
    return report


def folder_identity(folder: Path) -> list[list[Any]] | None:
    """Every entry under a run folder that is not a folder (symlinks included, as verify counts
    them) with its (size, mtime_ns, inode, ctime_ns, mode), sorted; None when the run folder is
    not a plain folder (verify says why, and that is never cached)."""
    try:
        own = os.lstat(folder)
    except OSError:
        return None
    if not stat.S_ISDIR(own.st_mode):
        return None
    identity: list[list[Any]] = [[".", own.st_ino, own.st_mtime_ns, own.st_ctime_ns]]
    _add_entries(os.fspath(folder), "", identity)
    identity.sort()
    return identity


def _add_entries(directory: str, prefix: str, identity: list[list[Any]]) -> None:
    # os.scandir rather than layout.files_under: its lstat comes with the listing.
    with os.scandir(directory) as entries:
        for entry in entries:
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(info.st_mode):
                _add_entries(entry.path, f"{prefix}{entry.name}/", identity)
                continue
            identity.append(
                [
                    f"{prefix}{entry.name}",
                    info.st_size,
                    info.st_mtime_ns,
                    info.st_ino,
                    info.st_ctime_ns,
                    info.st_mode,
                ]
            )


@dataclass
class _CachedFolders:
    """Run folder verdicts: from the cache when a folder's key still holds, else checked by
    `check_recorded_folder` (called from verify's worker threads: each folder is its own key)."""

    known: dict[str, Any]
    fresh: dict[str, Any] = field(default_factory=dict)  # the cache as it is after this walk

    def check(self, root: Path, relpath: str, entry: LedgerEntry) -> list[Mismatch]:
        identity = folder_identity(root / relpath)
        key = [entry.hash, identity]
        cached = self.known.get(relpath)
        if identity is not None and isinstance(cached, dict) and cached.get("key") == key:
            try:
                found = [Mismatch(entry.run_id, path, message) for path, message in cached["found"]]
            except (KeyError, TypeError, ValueError):
                found = None
            if found is not None:
                self.fresh[relpath] = cached
                return found
        found = check_recorded_folder(root, relpath, entry)
        # Identity taken before the check: a file changed meanwhile shows on the next build.
        if identity is not None:
            self.fresh[relpath] = {"key": key, "found": [[p.path, p.message] for p in found]}
        return found
