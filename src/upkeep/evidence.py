"""Responsible for the evidence store: run folders published atomically and an append-only,
hash-chained ledger that `verify` re-checks.

Layout under an evidence root::

    runs/YYYY/MM/<run_id>/     run.json, notebook.ipynb, report.html, ... (immutable once there)
    ledger.jsonl               one canonical JSON line per published run, chained to the one before
    .staging/<pid>-<run_id>/   run folders being written; the pid tells `recover` if the owner lives
    .publishing.json           while a run is being published: the folder it is placing
    .ledger.lock               serialises the rename of a run folder into runs/ and its ledger line

Timestamps and run ids come from the caller; this module never invents them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import stat
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import psutil
from filelock import FileLock, Timeout

from upkeep.atomic import fsync_dir
from upkeep.errors import EvidenceError

log = logging.getLogger(__name__)

LEDGER = "ledger.jsonl"
RUNS = "runs"
STAGING = ".staging"
PENDING = ".publishing.json"
LOCK = ".ledger.lock"
RUN_JSON = "run.json"
GENESIS = "0" * 64
CHUNK = 1 << 20
LOCK_TIMEOUT_SECONDS = 120.0

_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_YEAR = re.compile(r"[0-9]{4}")
_MONTH = re.compile(r"[0-9]{2}")


@dataclass(frozen=True)
class PublishedRun:
    """A run folder that is in place under runs/ and recorded in the ledger."""

    run_id: str
    path: Path
    seq: int
    run_json_sha256: str
    notes: tuple[str, ...] = ()  # silent repairs made on the way (a torn ledger tail removed)


@dataclass(frozen=True)
class LedgerEntry:
    """One line of ledger.jsonl."""

    seq: int
    run_id: str
    path: str
    runbook: str
    status: str
    started_at: str
    run_json_sha256: str
    prev: str
    hash: str
    as_of: str  # the schedule's clock for the run (`run --due --at`), else started_at

    @classmethod
    def from_json(cls, value: Any) -> LedgerEntry:
        """Build an entry from a parsed line; ValueError names every missing or malformed field."""
        if not isinstance(value, dict):
            raise ValueError("not a JSON object")
        bad = [name for name, ok in _FIELD_CHECKS.items() if not ok(value.get(name))]
        if bad:
            raise ValueError(f"missing or malformed field(s): {', '.join(bad)}")
        return cls(**{name: value[name] for name in _FIELD_CHECKS})

    def as_dict(self) -> dict[str, Any]:
        """The entry as the JSON object its ledger line holds."""
        return asdict(self)


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def _is_hex64(value: Any) -> bool:
    return isinstance(value, str) and _HEX64.fullmatch(value) is not None


_FIELD_CHECKS: dict[str, Callable[[Any], bool]] = {
    "seq": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
    "run_id": _is_text,
    "path": _is_text,
    "runbook": _is_text,
    "status": _is_text,
    "started_at": _is_text,
    "run_json_sha256": _is_hex64,
    "prev": _is_hex64,
    "hash": _is_hex64,
    "as_of": _is_text,
}


@dataclass(frozen=True)
class Problem:
    """One thing in the evidence that does not match; `message` says exactly what."""

    run_id: str | None
    path: str  # relative to the evidence root, posix
    message: str
    line: int | None = None  # ledger line number, when the problem is tied to one

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class VerifyReport:
    """What `verify` found: problems in ledger order, then unrecorded run folders."""

    problems: tuple[Problem, ...]
    runs_checked: int

    @property
    def ok(self) -> bool:
        """True when nothing was found wrong."""
        return not self.problems


@dataclass(frozen=True)
class _RunFacts:
    run_id: str
    runbook: str
    status: str
    started_at: str
    as_of: str


# --- hashing and canonical form -----------------------------------------------------------


def sha256_file(path: Path) -> str:
    """The sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _line_hash(line: dict[str, Any]) -> str:
    return hashlib.sha256(_canonical({k: v for k, v in line.items() if k != "hash"})).hexdigest()


def _run_json_bytes(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


# --- what a run record must say -----------------------------------------------------------


def check_run_id(run_id: Any) -> str:
    """Return `run_id` if it can name a folder; ValueError otherwise."""
    if not isinstance(run_id, str) or _RUN_ID.fullmatch(run_id) is None:
        raise ValueError(
            f"run_id {run_id!r} is not a valid run id (letters, digits, '.', '_', '-'; "
            "starting with a letter or digit)"
        )
    return run_id


def run_relpath(run_id: str, started_at: str) -> str:
    """`runs/YYYY/MM/<run_id>` for a run, year and month taken from `started_at` in UTC."""
    check_run_id(run_id)
    if not isinstance(started_at, str):
        raise ValueError(f"started_at {started_at!r} is not an ISO-8601 string")
    try:
        moment = datetime.fromisoformat(started_at)
    except ValueError:
        raise ValueError(f"started_at {started_at!r} is not an ISO-8601 time") from None
    if moment.tzinfo is None:
        raise ValueError(f"started_at {started_at!r} has no time zone (use UTC, e.g. ...Z)")
    moment = moment.astimezone(UTC)
    return f"{RUNS}/{moment.year:04d}/{moment.month:02d}/{run_id}"


def _describe(record: Any) -> _RunFacts:
    if not isinstance(record, dict):
        raise ValueError("the run record is not a JSON object")
    runbook = record.get("runbook")
    name = runbook.get("name") if isinstance(runbook, dict) else None
    if not _is_text(name):
        raise ValueError("runbook.name is missing or not a string")
    if not _is_text(record.get("status")):
        raise ValueError("status is missing or not a string")
    run_id = check_run_id(record.get("run_id"))
    run_relpath(run_id, record.get("started_at"))
    as_of = record.get("as_of", record["started_at"])
    if not _is_text(as_of):
        raise ValueError("as_of is not a string")
    return _RunFacts(run_id, name, record["status"], record["started_at"], as_of)


def _ledger_fields(facts: _RunFacts, relpath: str, run_json_sha256: str) -> dict[str, Any]:
    return {
        "run_id": facts.run_id,
        "path": relpath,
        "runbook": facts.runbook,
        "status": facts.status,
        "started_at": facts.started_at,
        "as_of": facts.as_of,
        "run_json_sha256": run_json_sha256,
    }


def _safe_name(name: Any) -> bool:
    if not isinstance(name, str) or not name or "\\" in name:
        return False
    pure = PurePosixPath(name)
    return (
        not pure.is_absolute()
        and str(pure) == name
        and all(part not in ("", ".", "..") for part in pure.parts)
    )


# --- the store ----------------------------------------------------------------------------


class EvidenceStore:
    """The evidence under one root: publish runs, read the ledger, recover after a crash."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def ledger_path(self) -> Path:
        """`<root>/ledger.jsonl`."""
        return self.root / LEDGER

    def new_staging(self, run_id: str) -> Path:
        """Create and return `.staging/<pid>-<run_id>/` for the runner to write artifacts into."""
        check_run_id(run_id)
        parent = self.root / STAGING
        parent.mkdir(parents=True, exist_ok=True)
        staging = parent / f"{os.getpid()}-{run_id}"
        try:
            staging.mkdir()
        except FileExistsError:
            raise EvidenceError(f"staging folder {staging} already exists") from None
        return staging

    def publish(self, staging: Path, record: dict[str, Any]) -> PublishedRun:
        """Seal `staging` as the run folder of `record` and append its ledger line.

        Sets `record["artifacts"]` to {relative posix name: sha256} of every file in `staging`
        (run.json excluded), writes run.json, fsyncs everything, renames the folder to
        runs/YYYY/MM/<run_id> and appends the ledger line. ValueError for a record that lacks
        run_id, started_at, runbook.name or status; EvidenceError when the store refuses.
        """
        facts = _describe(record)
        staging = self._own_staging(Path(staging))
        record["artifacts"] = _seal_files(staging)
        run_json = _run_json_bytes(record)
        _write_synced(staging / RUN_JSON, run_json)
        fsync_dir(staging)
        relpath = run_relpath(facts.run_id, facts.started_at)
        sha = hashlib.sha256(run_json).hexdigest()
        with self._lock():
            # The intent names the one folder that may lack its ledger line if we are killed
            # between the rename and the append; recover() adopts that folder and no other.
            intent = self.root / PENDING
            _write_synced(intent, _canonical({"path": relpath, "run_json_sha256": sha}))
            fsync_dir(self.root)
            self._place(staging, relpath)
            entry, notes = self._append(_ledger_fields(facts, relpath, sha))
            intent.unlink()
            fsync_dir(self.root)
        return PublishedRun(facts.run_id, self.root / relpath, entry.seq, sha, notes)

    def iter_entries(self) -> Iterator[LedgerEntry]:
        """Ledger entries in order; a torn last line is skipped, a damaged line raises."""
        for lineno, raw, complete in _ledger_lines(self.ledger_path):
            if not complete:
                return
            try:
                yield LedgerEntry.from_json(json.loads(raw))
            except ValueError as err:
                raise EvidenceError(
                    f"{self.ledger_path} line {lineno} is damaged ({err}); "
                    "run `upkeep verify` to see what is wrong"
                ) from None

    def entries(self) -> list[LedgerEntry]:
        """Every ledger entry, in ledger order."""
        return list(self.iter_entries())

    def load(self, entry: LedgerEntry) -> dict[str, Any]:
        """The run.json of `entry`; EvidenceError if it is missing or differs from the ledger."""
        relpath = run_relpath(entry.run_id, entry.started_at)
        try:
            data = (self.root / relpath / RUN_JSON).read_bytes()
        except OSError as err:
            message = f"run {entry.run_id}: cannot read {relpath}/{RUN_JSON}: {err}"
            raise EvidenceError(message) from None
        if hashlib.sha256(data).hexdigest() != entry.run_json_sha256:
            raise EvidenceError(
                f"run {entry.run_id}: {relpath}/{RUN_JSON} does not match the ledger "
                "(edited after publication); run `upkeep verify`"
            )
        return json.loads(data)

    def latest_by_runbook(
        self, status_filter: Callable[[str], bool] | None = None
    ) -> dict[str, LedgerEntry]:
        """The latest entry per runbook name (by started_at, then seq), among entries whose
        status passes `status_filter` (all when None), e.g. `lambda s: s != "skipped"`."""
        latest: dict[str, tuple[datetime, int, LedgerEntry]] = {}
        for entry in self.iter_entries():
            if status_filter is not None and not status_filter(entry.status):
                continue
            key = (_started_utc(entry), entry.seq, entry)
            if entry.runbook not in latest or key[:2] > latest[entry.runbook][:2]:
                latest[entry.runbook] = key
        return {name: value[2] for name, value in sorted(latest.items())}

    def recover(self) -> list[str]:
        """Clean up after crashed runners; return one note per thing done or found.

        Removes `.staging/<pid>-*` folders whose process is gone. Finishes a publish that was
        killed between placing its run folder and appending its ledger line (the only folder
        its intent record names, and only if its run.json still matches). Any other run folder
        without a ledger line is left where it is: `verify` keeps reporting it.
        """
        if not self.root.is_dir():
            return []
        notes = self._remove_dead_staging()
        with self._lock():
            notes += self._finish_interrupted_publish()
            notes += self._report_orphans()
        return notes

    # --- publishing internals ---

    def _lock(self) -> _HeldLock:
        self.root.mkdir(parents=True, exist_ok=True)
        return _HeldLock(FileLock(str(self.root / LOCK)), self.root / LOCK)

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

    def _append(self, fields: dict[str, Any]) -> tuple[LedgerEntry, tuple[str, ...]]:
        """Append one chained line; the caller holds the lock."""
        created = not self.ledger_path.exists()
        fd = os.open(self.ledger_path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            notes = _cut_torn_tail(fd)
            seq, prev = _chain_point(fd)
            line = {**fields, "seq": seq + 1, "prev": prev}
            line["hash"] = _line_hash(line)
            _write_all(fd, _canonical(line) + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            fsync_dir(self.root)
        return LedgerEntry.from_json(line), notes

    # --- recovery internals ---

    def _remove_dead_staging(self) -> list[str]:
        parent = self.root / STAGING
        if not parent.is_dir():
            return []
        notes = []
        for child in sorted(parent.iterdir()):
            pid = _owner_pid(child.name)
            if pid is None or _process_alive(pid):
                continue
            try:
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
            except OSError as err:
                notes.append(f"could not remove {STAGING}/{child.name}: {err}")
                continue
            notes.append(f"removed {STAGING}/{child.name}: its process {pid} is no longer running")
        return notes

    def _finish_interrupted_publish(self) -> list[str]:
        intent_path = self.root / PENDING
        if not intent_path.exists():
            return []
        try:
            intent = json.loads(intent_path.read_bytes())
            relpath, sha = intent["path"], intent["run_json_sha256"]
        except (OSError, ValueError, KeyError, TypeError):
            intent_path.unlink()
            return [f"removed an unreadable {PENDING}"]
        recorded, damaged = _recorded_paths(self.ledger_path)
        notes: list[str] = []
        run_json = self.root / relpath / RUN_JSON
        if relpath not in recorded and not damaged and run_json.is_file():
            problems, record = _check_run_folder(
                self.root, relpath, PurePosixPath(relpath).name, None
            )
            if not problems and record is not None and sha256_file(run_json) == sha:
                entry, cut = self._append(_ledger_fields(_describe(record), relpath, sha))
                notes += [
                    *cut,
                    f"finished publishing {relpath} as ledger line {entry.seq} "
                    "(its runner was killed before writing the line)",
                ]
        intent_path.unlink()
        fsync_dir(self.root)
        return notes

    def _report_orphans(self) -> list[str]:
        if not (self.root / RUNS).is_dir():
            return []
        recorded, _ = _recorded_paths(self.ledger_path)
        folders, _ = _scan_runs(self.root)
        return [
            f"run folder {relpath} is not recorded in the ledger and was left in place; "
            "run `upkeep verify`"
            for relpath in folders
            if relpath not in recorded
        ]


class _HeldLock:
    """The ledger lock, turning a long wait into an EvidenceError."""

    def __init__(self, lock: FileLock, path: Path) -> None:
        self._lock, self._path = lock, path

    def __enter__(self) -> None:
        try:
            self._lock.acquire(timeout=LOCK_TIMEOUT_SECONDS)
        except Timeout:
            raise EvidenceError(
                f"{self._path} has been held by another process for {LOCK_TIMEOUT_SECONDS:.0f} s"
            ) from None

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


# --- file and ledger helpers --------------------------------------------------------------


def _seal_files(staging: Path) -> dict[str, str]:
    """Hash and fsync every regular file under `staging`; refuse symlinks and special files."""
    artifacts: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(staging):
        base = Path(dirpath)
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
                artifacts[relname] = _hash_and_sync(path)
        fsync_dir(base)
    return dict(sorted(artifacts.items()))


def _hash_and_sync(path: Path) -> str:
    digest = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
        os.fsync(handle.fileno())
    return digest.hexdigest()


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _write_all(fd: int, data: bytes) -> None:
    # One write() for a regular file; the loop only matters if the kernel writes short.
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _last_newline(fd: int, end: int) -> int:
    """Offset of the last b"\\n" before `end`, or -1."""
    while end > 0:
        start = max(0, end - 65536)
        at = os.pread(fd, end - start, start).rfind(b"\n")
        if at >= 0:
            return start + at
        end = start
    return -1


def _cut_torn_tail(fd: int) -> tuple[str, ...]:
    """Truncate a last line without its newline (a writer killed mid-write)."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return ()
    keep = _last_newline(fd, size) + 1
    os.ftruncate(fd, keep)
    os.fsync(fd)
    note = (
        f"{LEDGER}: removed an incomplete last line ({size - keep} bytes) left by a publish "
        "that was interrupted mid-write"
    )
    log.warning(note)
    return (note,)


def _chain_point(fd: int) -> tuple[int, str]:
    """(seq, hash) of the last line, or (0, GENESIS) for an empty ledger."""
    size = os.fstat(fd).st_size
    if size == 0:
        return 0, GENESIS
    start = _last_newline(fd, size - 1) + 1
    raw = os.pread(fd, size - 1 - start, start)
    try:
        entry = LedgerEntry.from_json(json.loads(raw))
    except ValueError as err:
        raise EvidenceError(
            f"the last line of {LEDGER} is damaged ({err}), so no line can be chained to it; "
            "run `upkeep verify` to see what is wrong"
        ) from None
    return entry.seq, entry.hash


def _ledger_lines(path: Path) -> Iterator[tuple[int, bytes, bool]]:
    """(line number, line without its newline, whether it had one), streamed."""
    if not path.exists():
        return
    with open(path, "rb") as handle:
        for lineno, raw in enumerate(handle, 1):
            complete = raw.endswith(b"\n")
            yield lineno, raw[:-1] if complete else raw, complete


def _recorded_paths(ledger: Path) -> tuple[set[str], bool]:
    """Paths the ledger records, and whether any complete line is damaged."""
    recorded: set[str] = set()
    damaged = False
    for _, raw, complete in _ledger_lines(ledger):
        if not complete:
            break
        try:
            recorded.add(LedgerEntry.from_json(json.loads(raw)).path)
        except ValueError:
            damaged = True
    return recorded, damaged


def _started_utc(entry: LedgerEntry) -> datetime:
    try:
        moment = datetime.fromisoformat(entry.started_at)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise EvidenceError(
            f"{LEDGER} line for run {entry.run_id} has started_at {entry.started_at!r}, "
            "not an ISO-8601 time with a time zone; run `upkeep verify`"
        )
    return moment.astimezone(UTC)


def _owner_pid(name: str) -> int | None:
    head, sep, _ = name.partition("-")
    return int(head) if sep and head.isdigit() else None


def _process_alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return True  # exists, but we may not look at it


def _scan_runs(root: Path) -> tuple[list[str], list[str]]:
    """(run folders runs/YYYY/MM/<id>, entries under runs/ that do not fit that layout)."""
    folders: list[str] = []
    strays: list[str] = []
    patterns = (_YEAR, _MONTH, _RUN_ID)

    def walk(directory: Path, depth: int) -> None:
        for child in sorted(directory.iterdir()):
            relpath = child.relative_to(root).as_posix()
            if (
                child.is_symlink()
                or not child.is_dir()
                or not patterns[depth].fullmatch(child.name)
            ):
                strays.append(relpath)
            elif depth == 2:
                folders.append(relpath)
            else:
                walk(child, depth + 1)

    if (root / RUNS).is_dir():
        walk(root / RUNS, 0)
    return folders, strays


# --- checking one run folder --------------------------------------------------------------


def _check_run_folder(
    root: Path, relpath: str, run_id: str, run_json_sha256: str | None
) -> tuple[list[Problem], dict[str, Any] | None]:
    """Problems with one run folder, and its run.json when it could be read."""
    folder = root / relpath
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        message = f"run {run_id}: {relpath} is not a folder (replaced after publication)"
        return [Problem(run_id, relpath, message)], None
    if not folder.is_dir():
        message = f"run {run_id}: folder {relpath} is missing (deleted?)"
        return [Problem(run_id, relpath, message)], None
    problems, record = _read_run_json(folder, relpath, run_id, run_json_sha256)
    if record is None:
        return problems, None
    problems += _check_identity(record, relpath, run_id)
    problems += _check_artifacts(folder, relpath, run_id, record.get("artifacts"))
    return problems, record


def _read_run_json(
    folder: Path, relpath: str, run_id: str, expected_sha: str | None
) -> tuple[list[Problem], dict[str, Any] | None]:
    where = f"{relpath}/{RUN_JSON}"
    path = folder / RUN_JSON
    if path.is_symlink() or not path.is_file():
        return [Problem(run_id, where, f"run {run_id}: {RUN_JSON} is missing")], None
    problems = []
    if expected_sha is not None and sha256_file(path) != expected_sha:
        message = f"run {run_id}: {RUN_JSON}: sha256 mismatch (edited after publication)"
        problems.append(Problem(run_id, where, message))
    try:
        record = json.loads(path.read_bytes())
    except ValueError as err:
        message = f"run {run_id}: {RUN_JSON} is not valid JSON ({err})"
        problems.append(Problem(run_id, where, message))
        return problems, None
    if not isinstance(record, dict):
        problems.append(Problem(run_id, where, f"run {run_id}: {RUN_JSON} is not a JSON object"))
        return problems, None
    return problems, record


def _check_identity(record: dict[str, Any], relpath: str, run_id: str) -> list[Problem]:
    where = f"{relpath}/{RUN_JSON}"
    if record.get("run_id") != run_id:
        message = f"run {run_id}: {RUN_JSON} says run_id {record.get('run_id')!r}"
        return [Problem(run_id, where, message)]
    try:
        facts = _describe(record)
    except ValueError as err:
        return [Problem(run_id, where, f"run {run_id}: {RUN_JSON}: {err}")]
    if run_relpath(run_id, facts.started_at) != relpath:
        message = f"run {run_id}: {RUN_JSON} says started_at {facts.started_at}, not in {relpath}"
        return [Problem(run_id, where, message)]
    return []


def _check_artifacts(folder: Path, relpath: str, run_id: str, artifacts: Any) -> list[Problem]:
    if not isinstance(artifacts, dict) or not all(
        _safe_name(name) and _is_hex64(digest) for name, digest in artifacts.items()
    ):
        message = f"run {run_id}: {RUN_JSON} has no valid artifacts map (name -> sha256)"
        return [Problem(run_id, f"{relpath}/{RUN_JSON}", message)]
    problems = []
    for name, digest in sorted(artifacts.items()):
        message = _artifact_mismatch(folder / name, digest)
        if message:
            problems.append(
                Problem(run_id, f"{relpath}/{name}", f"run {run_id}: {name}: {message}")
            )
    for name in _files_under(folder):
        if name != RUN_JSON and name not in artifacts:
            message = f"run {run_id}: {name}: not listed in {RUN_JSON} (added after publication)"
            problems.append(Problem(run_id, f"{relpath}/{name}", message))
    return problems


def _artifact_mismatch(path: Path, digest: str) -> str | None:
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return "listed in run.json but missing (deleted after publication)"
    if not stat.S_ISREG(mode):
        return "not a regular file (replaced after publication)"
    if sha256_file(path) != digest:
        return "sha256 mismatch (edited after publication)"
    return None


def _files_under(folder: Path) -> list[str]:
    """Every non-directory entry under `folder` (symlinks included), as sorted posix names."""
    names = []
    for dirpath, dirnames, filenames in os.walk(folder):
        base = Path(dirpath)
        for name in dirnames + filenames:
            path = base / name
            if path.is_symlink() or not path.is_dir():
                names.append(path.relative_to(folder).as_posix())
    return sorted(names)


# --- verify -------------------------------------------------------------------------------


@dataclass
class _LedgerWalk:
    """State carried from one ledger line to the next while verifying."""

    root: Path
    prev_hash: str | None = GENESIS
    prev_seq: int | None = 0
    runs_checked: int = 0
    problems: list[Problem] = field(default_factory=list)
    recorded: set[str] = field(default_factory=set)
    first_line: dict[str, int] = field(default_factory=dict)

    def flag(self, lineno: int, message: str, run_id: str | None = None) -> None:
        self.problems.append(Problem(run_id, LEDGER, f"ledger line {lineno}: {message}", lineno))

    def check_line(self, lineno: int, raw: bytes, complete: bool) -> None:
        if not complete:
            self.flag(lineno, "incomplete last line (an interrupted publish; the next one cuts it)")
            return
        try:
            value = json.loads(raw)
            entry = LedgerEntry.from_json(value)
        except ValueError as err:
            self.flag(lineno, "empty line" if not raw.strip() else f"not a ledger line ({err})")
            self.prev_hash = self.prev_seq = None
            return
        self.check_chain(lineno, raw, value, entry)
        self.check_run(lineno, entry)
        self.prev_hash, self.prev_seq = entry.hash, entry.seq

    def check_chain(
        self, lineno: int, raw: bytes, value: dict[str, Any], entry: LedgerEntry
    ) -> None:
        run_id = entry.run_id
        if _line_hash(value) != entry.hash:
            self.flag(lineno, "hash does not match the line's content (line edited)", run_id)
        elif _canonical(value) != raw:
            self.flag(lineno, "not in canonical form (line edited)", run_id)
        if self.prev_hash is not None and entry.prev != self.prev_hash:
            if lineno == 1:
                self.flag(lineno, "prev hash is not 64 zeros (earlier lines removed?)", run_id)
            else:
                message = (
                    f"prev hash does not match line {lineno - 1} "
                    "(lines reordered, removed or edited)"
                )
                self.flag(lineno, message, run_id)
        if self.prev_seq is not None and entry.seq != self.prev_seq + 1:
            message = (
                f"seq {entry.seq} does not follow seq {self.prev_seq} (lines reordered or removed)"
            )
            self.flag(lineno, message, run_id)

    def check_run(self, lineno: int, entry: LedgerEntry) -> None:
        self.runs_checked += 1
        run_id = entry.run_id
        if run_id in self.first_line:
            self.flag(
                lineno,
                f"run {run_id} is already recorded at line {self.first_line[run_id]}",
                run_id,
            )
            return
        self.first_line[run_id] = lineno
        try:
            relpath = run_relpath(run_id, entry.started_at)
        except ValueError as err:
            self.flag(lineno, str(err), run_id)
            return
        if entry.path != relpath:
            self.flag(lineno, f"path {entry.path} should be {relpath}", run_id)
        self.recorded.add(relpath)
        problems, record = _check_run_folder(self.root, relpath, run_id, entry.run_json_sha256)
        self.problems += problems
        if record is not None:
            self.problems += _compare_with_ledger(record, entry, relpath)


def _compare_with_ledger(record: dict[str, Any], entry: LedgerEntry, relpath: str) -> list[Problem]:
    runbook = record.get("runbook")
    said = {
        "runbook": runbook.get("name") if isinstance(runbook, dict) else None,
        "status": record.get("status"),
        "started_at": record.get("started_at"),
        "as_of": record.get("as_of", record.get("started_at")),
    }
    return [
        Problem(
            entry.run_id,
            f"{relpath}/{RUN_JSON}",
            f"run {entry.run_id}: {RUN_JSON} says {key} {value!r}, "
            f"the ledger says {getattr(entry, key)!r}",
        )
        for key, value in said.items()
        if value != getattr(entry, key)
    ]


def _unrecorded(root: Path, recorded: set[str]) -> list[Problem]:
    folders, strays = _scan_runs(root)
    problems = [
        Problem(
            PurePosixPath(relpath).name,
            relpath,
            f"run {PurePosixPath(relpath).name}: folder {relpath} is not recorded in the ledger "
            "(ledger line removed, or added by hand)",
        )
        for relpath in folders
        if relpath not in recorded
    ]
    problems += [
        Problem(None, relpath, f"{relpath}: not a runs/YYYY/MM/<run_id> folder (added by hand?)")
        for relpath in strays
    ]
    return problems


def verify(root: Path) -> VerifyReport:
    """Re-check the ledger chain and every run folder under `root`; collect every problem.

    Problems come in ledger order (each line's own problems, then its run folder's), followed
    by folders under runs/ the ledger does not record. A missing root verifies ok with 0 runs.
    """
    walk = _LedgerWalk(Path(root))
    for lineno, raw, complete in _ledger_lines(walk.root / LEDGER):
        walk.check_line(lineno, raw, complete)
    problems = walk.problems + _unrecorded(walk.root, walk.recorded)
    return VerifyReport(tuple(problems), walk.runs_checked)
