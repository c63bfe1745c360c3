"""Responsible for the layout of an evidence root: the names of its files and folders, where a
run's folder goes, and the canonical JSON and hashes that the ledger and run.json are made of
(and how they are read back).

    runs/YYYY/MM/<run_id>/     run.json, notebook.ipynb, report.html, ... (immutable once there)
    ledger.jsonl               one canonical JSON line per published run, chained to the one before
    .staging/<pid>-<run_id>/   run folders being written; the pid tells recovery if the owner lives
    .publishing.json           while a run is being published: the folder it is placing
    .ledger.lock               serialises the rename of a run folder into runs/ and its ledger line
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import stat
from datetime import UTC
from pathlib import Path, PurePosixPath
from typing import Any

from upkeep.records import parse_time

LEDGER = "ledger.jsonl"
RUNS = "runs"
STAGING = ".staging"
PENDING = ".publishing.json"
LOCK = ".ledger.lock"
RUN_JSON = "run.json"
GENESIS = "0" * 64
CHUNK = 1 << 20

_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_YEAR = re.compile(r"[0-9]{4}")
_MONTH = re.compile(r"[0-9]{2}")


def sha256_file(path: str | os.PathLike[str], buffer: bytearray | None = None) -> str:
    """The sha256 of a file, read in chunks of `buffer` (a fresh 1 MiB one when not given).
    A caller hashing many files passes one buffer for all of them (one per thread): most
    evidence files fit in one read, so allocating the buffer would cost more than reading."""
    view = memoryview(buffer if buffer is not None else bytearray(CHUNK))
    digest = hashlib.sha256()
    with open(path, "rb", buffering=0) as handle:
        while size := handle.readinto(view):
            digest.update(view[:size])
    return digest.hexdigest()


def read_regular(path: str | os.PathLike[str]) -> bytes:
    """The content of the regular file at `path`, never through a symlink (evidence is regular
    files only: a link planted in a run folder must not publish what it points at) and never
    waiting on a FIFO; OSError (ELOOP, or EINVAL for anything but a regular file) otherwise."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", os.fspath(path))
        return handle.read()


def is_regular(path: str | os.PathLike[str]) -> bool:
    """Whether `path` itself (not what a symlink there points at) is a regular file."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def canonical(value: Any) -> bytes:
    """The one byte form of a ledger line: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def read_json(data: bytes | str) -> Any:
    """`data` parsed as JSON. Nesting too deep for Python's stack, or a value too big to hold
    once parsed, raises ValueError like any other damage, so that every reader of evidence names
    it where it names a malformed file instead of stopping with an internal error."""
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("nested too deeply to read") from None
    except MemoryError:
        raise ValueError("too large to read into memory") from None


def line_hash(line: dict[str, Any]) -> str:
    """The hash a ledger line carries: of its canonical form without the hash itself."""
    return hashlib.sha256(canonical({k: v for k, v in line.items() if k != "hash"})).hexdigest()


def run_json_bytes(record: dict[str, Any]) -> bytes:
    """run.json as written: indented, sorted keys, a final newline."""
    return (json.dumps(record, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def is_hex64(value: Any) -> bool:
    return isinstance(value, str) and _HEX64.fullmatch(value) is not None


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
    moment = parse_time(started_at, "started_at").astimezone(UTC)
    return f"{RUNS}/{moment.year:04d}/{moment.month:02d}/{run_id}"


def safe_name(name: Any) -> bool:
    """Whether `name` is a relative posix path inside a run folder (no `..`, no `/` start)."""
    if not isinstance(name, str) or not name or "\\" in name:
        return False
    if "/" not in name and name != "..":
        return True  # one plain name (what `upkeep run` writes): no need to parse it as a path
    pure = PurePosixPath(name)
    return (
        not pure.is_absolute()
        and str(pure) == name
        and all(part not in ("", ".", "..") for part in pure.parts)
    )


def scan_runs(root: Path) -> tuple[list[str], list[str]]:
    """(run folders runs/YYYY/MM/<id>, entries under runs/ that do not fit that layout)."""
    folders: list[str] = []
    strays: list[str] = []
    patterns = (_YEAR, _MONTH, _RUN_ID)

    def walk(directory: str, relpath: str, depth: int) -> None:
        with os.scandir(directory) as found:
            children = sorted(found, key=lambda child: child.name)
        for child in children:
            child_relpath = f"{relpath}/{child.name}"
            # DirEntry answers from the directory listing: no stat per entry.
            if not child.is_dir(follow_symlinks=False) or not patterns[depth].fullmatch(child.name):
                strays.append(child_relpath)
            elif depth == 2:
                folders.append(child_relpath)
            else:
                walk(child.path, child_relpath, depth + 1)

    if (root / RUNS).is_dir():
        walk(str(root / RUNS), RUNS, 0)
    return folders, strays


def entries_under(folder: str) -> dict[str, bool]:
    """Every non-directory entry under `folder` (symlinks included, not followed), by posix name
    relative to `folder`: True for a regular file, False for anything else (a symlink, a FIFO)."""
    entries: dict[str, bool] = {}
    # A stack, not a recursive inner function: that one would be a reference cycle, kept (with
    # the entries it holds) until the cyclic collector runs, for every run folder verified.
    folders = [(folder, "")]
    while folders:
        directory, prefix = folders.pop()
        try:
            found = os.scandir(directory)
        except OSError:
            continue  # as os.walk: a folder that cannot be listed lists nothing
        with found:
            for entry in found:
                if entry.is_dir(follow_symlinks=False):
                    folders.append((entry.path, f"{prefix}{entry.name}/"))
                else:
                    entries[prefix + entry.name] = entry.is_file(follow_symlinks=False)
    return entries


def files_under(folder: Path) -> list[str]:
    """Every non-directory entry under `folder` (symlinks included), as sorted posix names."""
    return sorted(entries_under(str(folder)))
