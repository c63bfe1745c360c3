"""Responsible for the evidence store: staging folders for runs being written, and publishing a
run: every artifact hashed, fsynced and given the evidence's mode (`upkeep.atomic.file_mode`),
run.json written, the folder renamed into `runs/` and its ledger line appended, under one lock.
Timestamps and run ids come from the caller.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from upkeep.atomic import dir_mode, file_mode, fsync_dir, naming
from upkeep.errors import EvidenceError
from upkeep.evidence import ledger
from upkeep.evidence.in_progress import hold
from upkeep.evidence.layout import (
    CHUNK,
    LEDGER,
    LOCK,
    PENDING,
    RUN_JSON,
    RUNS,
    STAGING,
    canonical,
    check_run_id,
    read_json,
    run_json_bytes,
    run_relpath,
)
from upkeep.evidence.ledger import DecisionEntry, LedgerEntry
from upkeep.records import Decision, RunRecord, Status, iso, parse_time
from upkeep.regular_file import read_regular

if TYPE_CHECKING:
    from filelock import FileLock

LOCK_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True)
class PublishedRun:
    """A run folder that is in place under runs/ and recorded in the ledger."""

    record: RunRecord  # as run.json holds it, artifacts included
    path: Path
    seq: int
    run_json_sha256: str
    notes: tuple[str, ...] = ()  # silent repairs made on the way (a torn ledger tail removed)

    @property
    def run_id(self) -> str:
        return self.record.run_id


class EvidenceStore:
    """The evidence under one root: publish runs, read the ledger and run records."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        # Each staging folder this store made and still holds: its descriptor with the flock.
        self._held: dict[Path, int] = {}

    @property
    def ledger_path(self) -> Path:
        """`<root>/ledger.jsonl`."""
        return self.root / LEDGER

    def new_staging(self, run_id: str) -> Path:
        """Create and return `.staging/<pid>-<run_id>/` for the runner to write artifacts into,
        held (`in_progress.hold`) until it is published or discarded."""
        check_run_id(run_id)
        parent = self.root / STAGING
        parent.mkdir(parents=True, exist_ok=True)
        staging = parent / f"{os.getpid()}-{run_id}"
        if os.path.lexists(staging):
            raise EvidenceError(f"staging folder {staging} already exists")
        # Made and held under a name no recovery takes for a run's (no pid in front), then
        # renamed: another container's runner, with the same pid, never sees it unheld.
        making = Path(tempfile.mkdtemp(prefix="making-", dir=parent))
        descriptor = hold(making)
        try:
            os.rename(making, staging)
        except OSError:
            if descriptor is not None:
                os.close(descriptor)
            shutil.rmtree(making, ignore_errors=True)
            raise EvidenceError(f"staging folder {staging} already exists") from None
        if descriptor is not None:
            self._held[staging] = descriptor
        return staging

    def _release(self, staging: Path) -> None:
        descriptor = self._held.pop(Path(staging), None)
        if descriptor is not None:
            os.close(descriptor)

    def discard_staging(self, staging: Path) -> None:
        """Remove a staging folder whose run will not be published."""
        shutil.rmtree(staging, ignore_errors=True)
        self._release(staging)

    def publish(self, staging: Path, record: RunRecord) -> PublishedRun:
        """Seal `staging` as the run folder of `record` and append its ledger line.

        Records the sha256 of every file in `staging` (run.json excluded) as the run's
        artifacts, writes run.json, fsyncs everything, renames the folder to
        runs/YYYY/MM/<run_id> and appends the ledger line. EvidenceError when the store refuses.
        """
        check_run_id(record.run_id)
        held = Path(staging)
        staging = self._own_staging(held)
        record = replace(record, artifacts=_seal_files(staging))
        run_json = run_json_bytes(record.to_json())
        write_synced(staging / RUN_JSON, run_json)
        fsync_dir(staging)
        relpath = run_relpath(record.run_id, iso(record.started_at))
        sha = hashlib.sha256(run_json).hexdigest()
        with self.lock():
            # The intent names the one folder that may lack its ledger line if we are killed
            # between the rename and the append; recovery adopts that folder and no other.
            intent = self.root / PENDING
            write_synced(intent, canonical({"path": relpath, "run_json_sha256": sha}))
            fsync_dir(self.root)
            self._place(staging, relpath)
            entry, notes = self.append(ledger.fields_for(record, relpath, sha))
            assert isinstance(entry, LedgerEntry)
            intent.unlink()
            fsync_dir(self.root)
        self._release(held)
        return PublishedRun(record, self.root / relpath, entry.seq, sha, notes)

    def record_decision(self, decision: Decision) -> DecisionEntry:
        """Append a person's decision to the ledger, chained with the runs. What people type
        (the reason, an incident's title or note) is masked as run output is: a password or a
        token pasted into it must not stay in the ledger for good."""
        decision = _masked(decision)
        with self.lock():
            fields = ledger.fields_for_decision(decision.new_id(), decision)
            entry, _ = self.append(fields)
        assert isinstance(entry, DecisionEntry)
        return entry

    def entries(self, *, strict: bool = True) -> list[LedgerEntry]:
        """Every run in the ledger, in ledger order (see `ledger.entries` for `strict`)."""
        return list(ledger.entries(self.ledger_path, strict=strict))

    def decisions(self, *, strict: bool = True) -> list[DecisionEntry]:
        """Every decision in the ledger, in ledger order."""
        return list(ledger.decisions(self.ledger_path, strict=strict))

    def load(self, entry: LedgerEntry) -> RunRecord:
        """The run record of `entry`; EvidenceError if it is missing or differs from the ledger."""
        relpath = run_relpath(entry.run_id, entry.started_at)
        try:
            data = read_regular(self.root / relpath / RUN_JSON)  # a FIFO would hold us for good
        except OSError as err:
            message = f"run {entry.run_id}: cannot read {relpath}/{RUN_JSON}: {err}"
            raise EvidenceError(message) from None
        if hashlib.sha256(data).hexdigest() != entry.run_json_sha256:
            raise EvidenceError(
                f"run {entry.run_id}: {relpath}/{RUN_JSON} does not match the ledger "
                "(edited after publication); run `upkeep verify`"
            )
        return RunRecord.from_json(read_json(data))

    def read_record(self, relpath: str) -> RunRecord | None:
        """The run record in the folder `relpath`, unchecked; None when it cannot be read
        (`verify` says why)."""
        try:
            # os.path, not pathlib: a review reads thousands of these one after another. Only a
            # regular file: a FIFO put in its place would hold the command for good.
            return RunRecord.from_json(
                read_json(read_regular(os.path.join(self.root, relpath, RUN_JSON)))
            )
        except (OSError, ValueError):
            return None

    def latest_by_runbook(
        self, status_filter: Callable[[Status], bool] | None = None
    ) -> dict[str, LedgerEntry]:
        """The latest entry per runbook name (by started_at, then seq), among entries whose
        status passes `status_filter` (all when None), e.g. `lambda s: s is not Status.SKIPPED`."""
        latest: dict[str, tuple[datetime, int, LedgerEntry]] = {}
        for entry in ledger.entries(self.ledger_path):
            if status_filter is not None and not status_filter(entry.status):
                continue
            key = (_started_utc(entry), entry.seq, entry)
            if entry.runbook not in latest or key[:2] > latest[entry.runbook][:2]:
                latest[entry.runbook] = key
        return {name: value[2] for name, value in sorted(latest.items())}

    # --- for this package ---

    def lock(self) -> _HeldLock:
        """The ledger lock: held while a folder is placed and its line appended."""
        from filelock import FileLock  # here: reading the evidence (list, show) never locks

        self.root.mkdir(parents=True, exist_ok=True)
        # The mode given explicitly: filelock's default is 0644 whatever the umask in some versions.
        return _HeldLock(FileLock(str(self.root / LOCK), mode=file_mode()), self.root / LOCK)

    def append(self, fields: dict[str, Any]) -> tuple[LedgerEntry | DecisionEntry, tuple[str, ...]]:
        """Append one chained line; the caller holds the lock."""
        created = not self.ledger_path.exists()
        with naming(self.ledger_path):
            result = ledger.append(self.ledger_path, fields)
        if created:
            os.chmod(self.ledger_path, file_mode())  # the ledger creates it 0644, umask or not
            fsync_dir(self.root)
        return result

    def _own_staging(self, staging: Path) -> Path:
        if staging.is_symlink() or not staging.is_dir():
            raise EvidenceError(f"staging folder {staging} does not exist or is not a folder")
        if staging.resolve().parent != (self.root / STAGING).resolve():
            raise EvidenceError(
                f"{staging} is not a staging folder of {self.root}; create it with new_staging()"
            )
        return staging

    def _place(self, staging: Path, relpath: str) -> None:
        target = self.root / relpath
        if os.path.lexists(target):
            raise EvidenceError(f"{relpath} already exists: run ids must be unique")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(staging, target)
        for directory in (target.parent, target.parent.parent, self.root / RUNS, self.root):
            fsync_dir(directory)
        fsync_dir(staging.parent)


class _HeldLock:
    """The ledger lock, turning a long wait into an EvidenceError."""

    def __init__(self, lock: FileLock, path: Path) -> None:
        self._lock, self._path = lock, path

    def __enter__(self) -> None:
        from filelock import Timeout

        try:
            self._lock.acquire(timeout=LOCK_TIMEOUT_SECONDS)
        except Timeout:
            raise EvidenceError(
                f"{self._path} has been held by another process for {LOCK_TIMEOUT_SECONDS:.0f} s"
            ) from None

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


def _seal_files(staging: Path) -> dict[str, str]:
    """Hash and fsync every regular file under `staging`, each folder and file given the
    evidence's mode whoever wrote it; refuse symlinks and special files."""
    artifacts: dict[str, str] = {}
    folder_mode, artifact_mode = dir_mode(), file_mode()
    for dirpath, dirnames, filenames in os.walk(staging, onerror=_unreadable):
        base = Path(dirpath)
        os.chmod(base, folder_mode)
        for name in sorted(dirnames + filenames):
            path = base / name
            mode = path.lstat().st_mode
            if stat.S_ISDIR(mode):
                continue
            relname = path.relative_to(staging).as_posix()
            if not stat.S_ISREG(mode):
                raise EvidenceError(
                    f"{path}: only regular files can be evidence (symlinks and special files "
                    "are refused); copy the content into the staging folder instead"
                )
            if relname != RUN_JSON:
                artifacts[relname] = _hash_and_sync(path, artifact_mode)
        fsync_dir(base)
    return dict(sorted(artifacts.items()))


def _unreadable(error: OSError) -> None:
    """A folder of the run that cannot be listed: its files would go unhashed into the
    evidence (os.walk skips it silently)."""
    raise EvidenceError(
        f"{error.filename}: a folder of the run that cannot be read ({error.strerror}); "
        "its files cannot be sealed"
    )


# Details of a decision that hold text a person typed (an incident's title, an update's note).
_TYPED_DETAILS = ("title", "note")


def _masked(decision: Decision) -> Decision:
    from upkeep.masking import mask_sensitive  # here: only a decision pays for its detectors

    details = dict(decision.details)
    for key in _TYPED_DETAILS:
        if isinstance(details.get(key), str):
            details[key] = mask_sensitive(details[key])
    return replace(decision, reason=mask_sensitive(decision.reason), details=details)


def _hash_and_sync(path: Path, mode: int) -> str:
    digest = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with naming(path), os.fdopen(fd, "rb") as handle:
        if os.fstat(handle.fileno()).st_nlink > 1:
            return _hash_own_copy(path, handle, mode)
        os.fchmod(handle.fileno(), mode)
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
        os.fsync(handle.fileno())
    return digest.hexdigest()


def _hash_own_copy(path: Path, shared: BinaryIO, mode: int) -> str:
    """A file hard-linked from elsewhere (a runbook linked a backup in rather than copy it) is
    replaced by a copy of its own: the other name could change the evidence after it was
    sealed, and the evidence's mode must not be set on a file outside it."""
    digest = hashlib.sha256()
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".own-")
    try:
        with os.fdopen(fd, "wb") as copy:
            while chunk := shared.read(CHUNK):
                digest.update(chunk)
                copy.write(chunk)
            copy.flush()
            os.fchmod(copy.fileno(), mode)
            os.fsync(copy.fileno())
        os.rename(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return digest.hexdigest()


def write_synced(path: Path, data: bytes) -> None:
    with naming(path), open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _started_utc(entry: LedgerEntry) -> datetime:
    try:
        return parse_time(entry.started_at).astimezone(UTC)
    except ValueError:
        raise EvidenceError(
            f"{LEDGER} line for run {entry.run_id} has started_at {entry.started_at!r}, "
            "not an ISO-8601 time with a time zone; run `upkeep verify`"
        ) from None
