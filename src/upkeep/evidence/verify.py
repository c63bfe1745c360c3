"""Responsible for `upkeep verify`: re-check the ledger's hash chain and every run folder, and
name each thing that does not match (an edited byte, a deleted run, a reordered line, a folder
the ledger does not record).
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path, PurePosixPath
from typing import Any

from upkeep.evidence import ledger
from upkeep.evidence.layout import (
    CHUNK,
    GENESIS,
    LEDGER,
    RUN_JSON,
    RUNS,
    canonical,
    entries_under,
    is_hex64,
    line_hash,
    read_json,
    run_relpath,
    safe_name,
    sha256_file,
)
from upkeep.evidence.ledger import DecisionEntry, LedgerEntry, LedgerLine
from upkeep.evidence.unrecorded import unrecorded_folders
from upkeep.records.run import RunIdentity


@dataclass(frozen=True)
class Mismatch:
    """One thing in the evidence that does not match; `message` says exactly what."""

    run_id: str | None
    path: str  # relative to the evidence root, posix
    message: str
    line: int | None = None  # ledger line number, when the mismatch is tied to one

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class VerifyReport:
    """What `verify` found: mismatches in ledger order, then unrecorded run folders."""

    problems: tuple[Mismatch, ...]
    runs_checked: int
    decisions_checked: int = 0

    @property
    def ok(self) -> bool:
        """True when nothing was found wrong."""
        return not self.problems


FolderCheck = Callable[[Path, str, LedgerEntry], list[Mismatch]]


def verify(
    root: Path,
    check_folder: FolderCheck | None = None,
    lines: Iterable[LedgerLine] | None = None,
    *,
    settle: bool = True,
) -> VerifyReport:
    """Re-check the ledger chain and every run folder under `root`; collect every mismatch.

    Mismatches come in ledger order (each line's own, then its run folder's), followed by
    folders under runs/ the ledger does not record. A missing root verifies ok with 0 runs.
    `check_folder(root, relpath, entry)` checks one recorded run folder (called from worker
    threads; `check_recorded_folder` unless given: the site build gives one that reuses a
    cached verdict for a folder unchanged since). `lines` are the ledger's lines as the caller
    has just read them (`ledger.read_lines`), so that a site build reads the ledger once; the
    ledger under `root` is read when None. A folder the ledger does not record is looked at
    again under the ledger lock (a publish in progress places it just before its line), unless
    `settle` is False: the caller holds that lock already.
    """
    root = Path(root)
    if os.path.lexists(root) and not root.is_dir():
        # A file where the folder should be: `upkeep run` fails on it, so it is no empty evidence.
        message = f"{root} is not a folder; expected the evidence folder"
        return VerifyReport((Mismatch(None, "", message),), 0)
    linked = _linked_out(root)
    if lines is None and (problem := _not_a_ledger(root / LEDGER)) is not None:
        return VerifyReport((*linked, Mismatch(None, LEDGER, problem)), 0)
    with ThreadPoolExecutor(_THREADS, thread_name_prefix="upkeep-verify") as pool:
        walk = _LedgerWalk(root, pool, check_folder or check_recorded_folder)
        for line in ledger.read_lines(root / LEDGER) if lines is None else lines:
            walk.check_line(line)
        walk.settle(keep=0)
    problems = linked + walk.problems + _unrecorded(walk.root, walk.recorded, settle)
    return VerifyReport(tuple(problems), walk.runs_checked, walk.decisions_checked)


def _linked_out(root: Path) -> list[Mismatch]:
    """The ledger or the runs folder as a symlink: what it names may be anywhere, changed by
    anyone who may write there, and the evidence folder no longer holds its own record."""
    problems = []
    for name in (LEDGER, RUNS):
        if os.path.islink(root / name):
            to = os.readlink(root / name)
            message = f"{name} is a symlink (to {to}); expected the evidence folder to hold it"
            problems.append(Mismatch(None, name, message))
    return problems


def _not_a_ledger(path: Path) -> str | None:
    """Why `path` cannot be read as the ledger (a folder or a FIFO in its place), or None."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None  # no ledger, no runs: verified as such
    except OSError as err:
        return f"cannot read {LEDGER}: {err.strerror}"
    if stat.S_ISREG(mode):
        return None
    return f"{LEDGER} is not a regular file (a folder or a FIFO in its place); expected the ledger"


# --- one run folder -----------------------------------------------------------------------


def check_run_folder(
    root: Path,
    relpath: str,
    run_id: str,
    run_json_sha256: str | None,
    *,
    buffer: bytearray | None = None,
) -> tuple[list[Mismatch], dict[str, Any] | None]:
    """Mismatches in one run folder, and its run.json as JSON when it could be read. `buffer`
    is the read buffer to hash with (see `sha256_file`), reused across folders by `verify`."""
    folder = os.path.join(root, relpath)
    try:
        mode: int | None = os.lstat(folder).st_mode
    except OSError as err:
        if err.errno not in _NO_SUCH_PATH:
            raise
        mode = None
    if mode is not None and not stat.S_ISDIR(mode):
        message = f"run {run_id}: {relpath} is not a folder (replaced after publication)"
        return [Mismatch(run_id, relpath, message)], None
    if mode is None:
        message = f"run {run_id}: folder {relpath} is missing (deleted?)"
        return [Mismatch(run_id, relpath, message)], None
    # One listing of the folder answers "is it there, is it a regular file" for every name.
    entries = entries_under(folder)
    problems, value = _read_run_json(folder, entries, relpath, run_id, run_json_sha256)
    if value is None:
        return problems, None
    problems += _check_identity(value, relpath, run_id)
    artifacts = value.get("artifacts")
    problems += _check_artifacts(folder, entries, relpath, run_id, artifacts, buffer)
    return problems, value


# The errors for which pathlib's exists() and is_dir() answer False rather than raise.
_NO_SUCH_PATH = frozenset({errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP})


def _read_run_json(
    folder: str,
    entries: dict[str, bool],
    relpath: str,
    run_id: str,
    expected_sha: str | None,
) -> tuple[list[Mismatch], dict[str, Any] | None]:
    where = f"{relpath}/{RUN_JSON}"
    if RUN_JSON in entries and not entries[RUN_JSON]:  # a symlink, a FIFO: never followed
        return [Mismatch(run_id, where, f"run {run_id}: {RUN_JSON}: {_NOT_REGULAR}")], None
    if not entries.get(RUN_JSON):
        return [Mismatch(run_id, where, f"run {run_id}: {RUN_JSON} is missing")], None
    with open(f"{folder}/{RUN_JSON}", "rb", buffering=0) as handle:
        data = handle.readall()
    problems = []
    if expected_sha is not None and hashlib.sha256(data).hexdigest() != expected_sha:
        message = f"run {run_id}: {RUN_JSON}: sha256 mismatch (edited after publication)"
        problems.append(Mismatch(run_id, where, message))
    try:
        value = read_json(data)
    except ValueError as err:
        message = f"run {run_id}: {RUN_JSON} is not valid JSON ({err})"
        problems.append(Mismatch(run_id, where, message))
        return problems, None
    if not isinstance(value, dict):
        problems.append(Mismatch(run_id, where, f"run {run_id}: {RUN_JSON} is not a JSON object"))
        return problems, None
    return problems, value


def _check_identity(value: dict[str, Any], relpath: str, run_id: str) -> list[Mismatch]:
    where = f"{relpath}/{RUN_JSON}"
    if value.get("run_id") != run_id:
        message = f"run {run_id}: {RUN_JSON} says run_id {value.get('run_id')!r}"
        return [Mismatch(run_id, where, message)]
    try:
        started = RunIdentity.from_json(value).started_at.astimezone(UTC)
        expected = f"{RUNS}/{started.year:04d}/{started.month:02d}/{run_id}"
    except ValueError as err:
        return [Mismatch(run_id, where, f"run {run_id}: {RUN_JSON}: {err}")]
    if expected != relpath:
        said = value["started_at"]
        message = f"run {run_id}: {RUN_JSON} says started_at {said}, not in {relpath}"
        return [Mismatch(run_id, where, message)]
    return []


def _check_artifacts(
    folder: str,
    entries: dict[str, bool],
    relpath: str,
    run_id: str,
    artifacts: Any,
    buffer: bytearray | None,
) -> list[Mismatch]:
    if not isinstance(artifacts, dict) or not all(
        safe_name(name) and is_hex64(digest) for name, digest in artifacts.items()
    ):
        message = f"run {run_id}: {RUN_JSON} has no valid artifacts map (name -> sha256)"
        return [Mismatch(run_id, f"{relpath}/{RUN_JSON}", message)]
    problems = []
    for name, digest in sorted(artifacts.items()):
        regular = entries.get(name)
        if regular:
            mismatch = sha256_file(f"{folder}/{name}", buffer) != digest
            message = _EDITED if mismatch else None
        elif regular is False:
            message = _NOT_REGULAR
        else:  # not in the listing: a folder, missing, or behind a symlinked folder
            message = _artifact_mismatch(Path(folder, name), digest)
        if message:
            problems.append(
                Mismatch(run_id, f"{relpath}/{name}", f"run {run_id}: {name}: {message}")
            )
    for name in sorted(entries):
        if name != RUN_JSON and name not in artifacts:
            message = f"run {run_id}: {name}: not listed in {RUN_JSON} (added after publication)"
            problems.append(Mismatch(run_id, f"{relpath}/{name}", message))
    return problems


_EDITED = "sha256 mismatch (edited after publication)"
_NOT_REGULAR = "not a regular file (replaced after publication)"


def _artifact_mismatch(path: Path, digest: str) -> str | None:
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return "listed in run.json but missing (deleted after publication)"
    if not stat.S_ISREG(mode):
        return _NOT_REGULAR
    if sha256_file(path) != digest:
        return _EDITED
    return None


# --- the ledger, line by line -------------------------------------------------------------


@dataclass
class _LedgerWalk:
    """State carried from one ledger line to the next while verifying."""

    root: Path
    pool: Executor | None  # run folders are checked there, in turn when None
    check_folder: FolderCheck
    prev_hash: str | None = GENESIS
    prev_seq: int | None = 0
    runs_checked: int = 0
    decisions_checked: int = 0
    problems: list[Mismatch] = field(default_factory=list)
    recorded: set[str] = field(default_factory=set)
    first_line: dict[str, int] = field(default_factory=dict)
    # Problems not yet in `problems`, in ledger order: a run folder's are a future until the
    # pool has checked it.
    pending: deque[list[Mismatch] | Future[list[Mismatch]]] = field(default_factory=deque)
    threaded: bool = False  # folders go to the pool (see `adapt`)
    timed_s: float = 0.0  # how long the folders of the current sample took, checked here
    timed_n: int = 0

    def flag(self, number: int, message: str, run_id: str | None = None) -> None:
        mismatch = Mismatch(run_id, LEDGER, f"ledger line {number}: {message}", number)
        self.pending.append([mismatch])
        self.settle(keep=_LOOKAHEAD)

    def settle(self, keep: int) -> None:
        """Move pending problems into `problems`, in order, until at most `keep` are left
        waiting behind the first folder still being checked (`keep=0`: wait for all)."""
        while self.pending and (
            len(self.pending) > keep or not isinstance(self.pending[0], Future)
        ):
            first = self.pending.popleft()
            self.problems += first.result() if isinstance(first, Future) else first

    def check_line(self, line: LedgerLine) -> None:
        if not line.complete:
            self.flag(
                line.number,
                "incomplete last line (an interrupted publish: the next one cuts it, or, when"
                " only its newline is missing, adds that back)",
            )
            return
        if line.entry is None:
            fault = "empty line" if not line.raw.strip() else f"not a ledger line ({line.fault})"
            self.flag(line.number, fault)
            self.prev_hash = self.prev_seq = None
            return
        self.check_chain(line, line.entry)
        if isinstance(line.entry, DecisionEntry):
            self.decisions_checked += 1  # held whole in its line: the chain is all to check
        else:
            self.check_run(line.number, line.entry)
        self.prev_hash, self.prev_seq = line.entry.hash, line.entry.seq

    def check_chain(self, line: LedgerLine, entry: LedgerEntry | DecisionEntry) -> None:
        number = line.number
        run_id = entry.run_id if isinstance(entry, LedgerEntry) else entry.record_id
        if not _canonical_and_hashed(line, entry.hash):
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
        if self.pool is not None and self.threaded:
            self.pending.append(self.pool.submit(self.check_folder, self.root, relpath, entry))
        else:
            started = time.perf_counter()
            self.pending.append(self.check_folder(self.root, relpath, entry))
            self.adapt(time.perf_counter() - started)
        self.settle(keep=_LOOKAHEAD)

    def adapt(self, seconds: float) -> None:
        """Check folders here, one after another, while they come off the page cache; switch
        to the pool for the rest once they take as long as reads from disk do. On a warm cache
        the threads only add their hand-offs of the GIL (one futex call per read: twice the
        time, measured by benchmarks/verify.py); from disk, several reads at a time pay."""
        self.timed_s += seconds
        self.timed_n += 1
        if self.timed_n == _SAMPLE:
            self.threaded = self.pool is not None and self.timed_s / _SAMPLE > _COLD_FOLDER_S
            self.timed_s, self.timed_n = 0.0, 0


# Threads that check run folders once they come from disk: hashlib and reads release the GIL,
# so a cold cache is read several files at a time.
_THREADS = 4
# Folders timed together before deciding where the next ones are checked, and the mean time
# per folder above which they count as read from disk: about 0.12 ms each from the page cache,
# 0.5 ms from an SSD with a cold cache (benchmarks/verify.py's evidence, 2 cores).
_SAMPLE = 32
_COLD_FOLDER_S = 0.0003
# Run folders checked ahead of the ledger line being read: enough to keep every thread and the
# disk busy, few enough that a huge ledger does not wait in memory.
_LOOKAHEAD = 64
_buffers = threading.local()  # each thread's read buffer, to hash with


def check_recorded_folder(root: Path, relpath: str, entry: LedgerEntry) -> list[Mismatch]:
    """A run folder's problems, then its run.json's disagreements with its ledger line."""
    buffer = getattr(_buffers, "buffer", None)
    if buffer is None:
        buffer = _buffers.buffer = bytearray(CHUNK)
    problems, value = check_run_folder(
        root, relpath, entry.run_id, entry.run_json_sha256, buffer=buffer
    )
    if value is not None:
        problems += _compare_with_ledger(value, entry, relpath)
    return problems


def _canonical_and_hashed(line: LedgerLine, digest: str) -> bool:
    """Whether the line is in canonical form and `digest` is its hash, with one encoding of it
    instead of two: the canonical form without the hash is then the line's own bytes without
    its `"hash"` member. False says only "look again" (`line_hash` and `canonical` tell which):
    should a nested `"hash"` member be cut instead, the sha256 cannot match."""
    raw = line.raw
    if canonical(line.value) != raw:
        return False
    member = b'"hash":"' + digest.encode() + b'"'
    at = raw.find(member)
    end = at + len(member)
    if at > 0 and raw[at - 1 : at] == b",":
        without = raw[: at - 1] + raw[end:]
    elif at == 1 and raw[end : end + 1] == b",":
        without = raw[:at] + raw[end + 1 :]
    elif at == 1:
        without = raw[:at] + raw[end:]
    else:
        return False
    return hashlib.sha256(without).hexdigest() == digest


def _compare_with_ledger(value: dict[str, Any], entry: LedgerEntry, relpath: str) -> list[Mismatch]:
    runbook = value.get("runbook")
    said = {
        "runbook": runbook.get("name") if isinstance(runbook, dict) else None,
        "status": value.get("status"),
        "started_at": value.get("started_at"),
        "as_of": value.get("as_of", value.get("started_at")),
        "dry_run": value.get("dry_run", False),
    }
    ledger_says = {
        "runbook": entry.runbook,
        "status": entry.status.value,
        "started_at": entry.started_at,
        "as_of": entry.as_of,
        "dry_run": entry.dry_run,
    }
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


def _unrecorded(root: Path, recorded: set[str], settle: bool = True) -> list[Mismatch]:
    found = unrecorded_folders(root, recorded, settle=settle)
    problems = [
        Mismatch(
            PurePosixPath(relpath).name,
            relpath,
            f"run {PurePosixPath(relpath).name}: folder {relpath} is not recorded in the ledger "
            + (
                "(its publish was interrupted before the ledger line was written: the next"
                " `upkeep run` finishes it)"
                if relpath == found.interrupted
                else "(ledger line removed, or added by hand)"
            ),
        )
        for relpath in found.folders
    ]
    problems += [
        Mismatch(None, relpath, f"{relpath}: not a runs/YYYY/MM/<run_id> folder (added by hand?)")
        for relpath in found.strays
    ]
    return problems
