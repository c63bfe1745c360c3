"""Responsible for reading every run's run.json for a site build while opening only those that
changed since an earlier build: the JSON of each run.json is kept under state_dir, one file per
month of runs (a nightly build rewrites only the month of its new run), keyed on the ledger's
sha256 of that run.json and the identity (device, inode, size, mtime_ns, ctime_ns) of the file
it was read from, and read again from the evidence whenever any of that differs. A month file
that cannot be read is ignored (its runs are read from the evidence); one that cannot be written
costs the next build time, nothing else. The records equal `EvidenceStore.read_record`'s.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from upkeep import atomic
from upkeep.evidence import RUN_JSON
from upkeep.records import RunRecord
from upkeep.site.run_page_store import compact_json, read_runs_cache

CACHE_DIR = "site/run-records"  # under state_dir: never in the evidence, never published
CACHE_FORMAT = 1
_SUFFIX = ".json"


def read_records(
    evidence_root: Path, state_dir: Path, runs: Iterable[tuple[str, str]]
) -> dict[str, RunRecord | None]:
    """The run record of each (relpath, the ledger's run.json sha256) of `runs`, by relpath
    (`runs/YYYY/MM/<run_id>`); None for one that cannot be read (`verify` says why). A month
    at a time, so that only one month's JSON is held at once."""
    folder = state_dir / CACHE_DIR
    by_month: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for relpath, sha in runs:
        by_month["-".join(relpath.split("/")[1:3]) + _SUFFIX].append((relpath, sha))
    records: dict[str, RunRecord | None] = {}
    for name, month in sorted(by_month.items()):
        records |= _read_month(evidence_root, folder / name, month)
    with contextlib.suppress(OSError):
        for name in os.listdir(folder):
            if name.endswith(_SUFFIX) and name not in by_month:
                os.unlink(folder / name)  # a month with no run left in the ledger
    return records


def _read_month(
    evidence_root: Path, cache: Path, runs: list[tuple[str, str]]
) -> dict[str, RunRecord | None]:
    known = read_runs_cache(cache, CACHE_FORMAT)
    fresh: dict[str, Any] = {}
    records: dict[str, RunRecord | None] = {}
    for relpath, sha in runs:
        entry = _run_json(os.path.join(evidence_root, relpath, RUN_JSON), sha, known.get(relpath))
        if entry is None:
            records[relpath] = None
            continue
        fresh[relpath] = entry
        try:
            records[relpath] = RunRecord.from_json(entry["json"])
        except ValueError:
            records[relpath] = None
    if fresh.keys() != known.keys() or any(fresh[r] is not known[r] for r in fresh):
        with contextlib.suppress(OSError):
            atomic.write_bytes(cache, compact_json({"format": CACHE_FORMAT, "runs": fresh}))
    return records


def _run_json(path: str, sha: str, cached: Any) -> dict[str, Any] | None:
    """The cache entry of one run.json: the cached one when its key still holds, else the file
    read again; None when it cannot be read or is not JSON."""
    try:
        info = os.stat(path)  # the file that is read, a symlink's target included
    except OSError:
        return None
    key = [sha, info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns]
    if isinstance(cached, dict) and cached.get("key") == key and "json" in cached:
        return cached
    try:
        with open(path, "rb") as handle:
            # The identity was taken before the read: a file changed meanwhile differs from
            # it on the next build and is read again then.
            return {"key": key, "json": json.loads(handle.read())}
    except (OSError, ValueError):
        return None
