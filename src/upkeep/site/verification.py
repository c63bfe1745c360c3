"""Responsible for verifying the evidence for a site build while re-hashing only the run folders
that changed since an earlier build: each folder's verdict is kept in a cache under state_dir,
keyed on its ledger line's hash and the identity (size, mtime_ns, inode, ctime_ns) of every file
in it, and checked again (`upkeep.evidence.verify.check_run_folder`) whenever any of that differs.
The ledger's chain and the folders the ledger does not record are checked on every build; a cache
that cannot be read is ignored (everything is checked). The result equals `evidence.verify`'s.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from upkeep import atomic
from upkeep.evidence import ledger
from upkeep.evidence.layout import (
    GENESIS,
    LEDGER,
    RUN_JSON,
    canonical,
    line_hash,
    run_relpath,
    scan_runs,
)
from upkeep.evidence.ledger import DecisionEntry, LedgerEntry, LedgerLine
from upkeep.evidence.verify import Mismatch, VerifyReport, check_run_folder
from upkeep.site.run_page_store import compact_json

CACHE_FILE = "site/verified-runs.json"  # under state_dir: never in the evidence, never published
CACHE_FORMAT = 1


def cache_path(state_dir: Path) -> Path:
    return state_dir / CACHE_FILE


def verify_with_cache(root: Path, cache: Path) -> VerifyReport:
    """`evidence.verify(root)`, reusing the verdict of every run folder unchanged since the
    cache was written; the cache is rewritten (atomically) when anything in it changed."""
    known = _read_cache(cache)
    walk = _CachedWalk(Path(root), known)
    for line in ledger.read_lines(walk.root / LEDGER):
        walk.check_line(line)
    problems = walk.problems + _unrecorded(walk.root, walk.recorded)
    if walk.fresh != known:
        # A cache that cannot be written costs the next build time, nothing else.
        with contextlib.suppress(OSError):
            atomic.write_bytes(cache, compact_json({"format": CACHE_FORMAT, "runs": walk.fresh}))
    return VerifyReport(tuple(problems), walk.runs_checked, walk.decisions_checked)


def _read_cache(cache: Path) -> dict[str, Any]:
    try:
        value = json.loads(cache.read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(value, dict) or value.get("format") != CACHE_FORMAT:
        return {}
    runs = value.get("runs")
    return runs if isinstance(runs, dict) else {}


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
class _CachedWalk:
    """`evidence.verify`'s walk of the ledger, line by line, with cached run folder verdicts."""

    root: Path
    known: dict[str, Any]
    prev_hash: str | None = GENESIS
    prev_seq: int | None = 0
    runs_checked: int = 0
    decisions_checked: int = 0
    problems: list[Mismatch] = field(default_factory=list)
    recorded: set[str] = field(default_factory=set)
    first_line: dict[str, int] = field(default_factory=dict)
    fresh: dict[str, Any] = field(default_factory=dict)  # the cache as it is after this walk

    def flag(self, number: int, message: str, run_id: str | None = None) -> None:
        self.problems.append(Mismatch(run_id, LEDGER, f"ledger line {number}: {message}", number))

    def check_line(self, line: LedgerLine) -> None:
        if not line.complete:
            self.flag(
                line.number, "incomplete last line (an interrupted publish; the next one cuts it)"
            )
            return
        if line.entry is None:
            fault = "empty line" if not line.raw.strip() else f"not a ledger line ({line.fault})"
            self.flag(line.number, fault)
            self.prev_hash = self.prev_seq = None
            return
        self.check_chain(line, line.entry)
        if isinstance(line.entry, DecisionEntry):
            self.decisions_checked += 1
        else:
            self.check_run(line.number, line.entry)
        self.prev_hash, self.prev_seq = line.entry.hash, line.entry.seq

    def check_chain(self, line: LedgerLine, entry: LedgerEntry | DecisionEntry) -> None:
        number = line.number
        run_id = entry.run_id if isinstance(entry, LedgerEntry) else entry.record_id
        if line_hash(line.value) != entry.hash:
            self.flag(number, "hash does not match the line's content (line edited)", run_id)
        elif canonical(line.value) != line.raw:
            self.flag(number, "not in canonical form (line edited)", run_id)
        if self.prev_hash is not None and entry.prev != self.prev_hash:
            if number == 1:
                self.flag(number, "prev hash is not 64 zeros (earlier lines removed?)", run_id)
            else:
                message = (
                    f"prev hash does not match line {number - 1} "
                    "(lines reordered, removed or edited)"
                )
                self.flag(number, message, run_id)
        if self.prev_seq is not None and entry.seq != self.prev_seq + 1:
            message = (
                f"seq {entry.seq} does not follow seq {self.prev_seq} (lines reordered or removed)"
            )
            self.flag(number, message, run_id)

    def check_run(self, number: int, entry: LedgerEntry) -> None:
        self.runs_checked += 1
        run_id = entry.run_id
        if run_id in self.first_line:
            self.flag(
                number,
                f"run {run_id} is already recorded at line {self.first_line[run_id]}",
                run_id,
            )
            return
        self.first_line[run_id] = number
        try:
            relpath = run_relpath(run_id, entry.started_at)
        except ValueError as err:
            self.flag(number, str(err), run_id)
            return
        if entry.path != relpath:
            self.flag(number, f"path {entry.path} should be {relpath}", run_id)
        self.recorded.add(relpath)
        self.problems += self.folder_problems(relpath, entry)

    def folder_problems(self, relpath: str, entry: LedgerEntry) -> list[Mismatch]:
        """The run folder's mismatches: from the cache when its key still holds, else checked."""
        identity = folder_identity(self.root / relpath)
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
        found, value = check_run_folder(self.root, relpath, entry.run_id, entry.run_json_sha256)
        if value is not None:
            found += _compare_with_ledger(value, entry, relpath)
        # Identity taken before the check: a file changed meanwhile shows on the next build.
        if identity is not None:
            self.fresh[relpath] = {"key": key, "found": [[p.path, p.message] for p in found]}
        return found


def _compare_with_ledger(value: dict[str, Any], entry: LedgerEntry, relpath: str) -> list[Mismatch]:
    runbook = value.get("runbook")
    said = {
        "runbook": runbook.get("name") if isinstance(runbook, dict) else None,
        "status": value.get("status"),
        "started_at": value.get("started_at"),
        "as_of": value.get("as_of", value.get("started_at")),
        "dry_run": value.get("dry_run", False),
    }
    ledger_says = {**entry.to_json(), "status": entry.status.value, "dry_run": entry.dry_run}
    return [
        Mismatch(
            entry.run_id,
            f"{relpath}/{RUN_JSON}",
            f"run {entry.run_id}: {RUN_JSON} says {key} {said_value!r}, "
            f"the ledger says {ledger_says[key]!r}",
        )
        for key, said_value in said.items()
        if said_value != ledger_says[key]
    ]


def _unrecorded(root: Path, recorded: set[str]) -> list[Mismatch]:
    folders, strays = scan_runs(root)
    problems = [
        Mismatch(
            PurePosixPath(relpath).name,
            relpath,
            f"run {PurePosixPath(relpath).name}: folder {relpath} is not recorded in the ledger "
            "(ledger line removed, or added by hand)",
        )
        for relpath in folders
        if relpath not in recorded
    ]
    problems += [
        Mismatch(None, relpath, f"{relpath}: not a runs/YYYY/MM/<run_id> folder (added by hand?)")
        for relpath in strays
    ]
    return problems
