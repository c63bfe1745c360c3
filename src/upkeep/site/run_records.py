"""Responsible for reading every run's run.json for a site build while opening only those that
changed since an earlier build: each run's record is kept under state_dir as a compact row
(`site.record_rows`; None for a run.json that is JSON but no record), one file per month of runs
(a nightly build rewrites only the month of its new run), keyed on the ledger's sha256 of that
run.json and the identity (device, inode, size, mtime_ns, ctime_ns) of the file it was read
from, and read again from the evidence whenever any of that differs. A month file that cannot be
read, or a row that is not one, is ignored (those runs are read from the evidence); one that
cannot be written costs the next build time, nothing else. The records equal
`EvidenceStore.read_record`'s.
"""

from __future__ import annotations

import contextlib
import os
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from upkeep import atomic
from upkeep.evidence import RUN_JSON
from upkeep.evidence.layout import read_json, read_regular
from upkeep.records import RunRecord
from upkeep.site.record_rows import ROW_FORMAT, BadRow, record_of, row_of
from upkeep.site.run_page_store import compact_json, read_runs_cache

CACHE_DIR = "site/run-records"  # under state_dir: never in the evidence, never published
CACHE_FORMAT = 100 + ROW_FORMAT  # 1 held each run.json's JSON as it was
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
        path = os.path.join(evidence_root, relpath, RUN_JSON)
        try:
            info = os.stat(path)  # the file that is read, a symlink's target included
        except OSError:
            records[relpath] = None
            continue
        key = [sha, info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns]
        cached = known.get(relpath)
        if type(cached) is dict and cached.get("key") == key and "record" in cached:
            row = cached["record"]
            try:
                records[relpath] = None if row is None else record_of(row)
                fresh[relpath] = cached
                continue
            except BadRow:
                pass  # read from the evidence below
        entry = _read_run_json(path, key)
        if entry is None:
            records[relpath] = None
        else:
            records[relpath] = entry[1]
            fresh[relpath] = entry[0]
    if fresh.keys() != known.keys() or any(fresh[r] is not known[r] for r in fresh):
        with contextlib.suppress(OSError):
            atomic.write_bytes(cache, compact_json({"format": CACHE_FORMAT, "runs": fresh}))
    return records


def _read_run_json(path: str, key: list[Any]) -> tuple[dict[str, Any], RunRecord | None] | None:
    """The cache entry of one run.json and its record (None when it is JSON but no record);
    None when it cannot be read or is not JSON."""
    try:
        # The identity was taken before the read: a file changed meanwhile differs from it
        # on the next build and is read again then. Never through a symlink.
        value = read_json(read_regular(path))
    except (OSError, ValueError):
        return None
    try:
        record = RunRecord.from_json(value)
    except ValueError:
        return {"key": key, "record": None}, None
    return {"key": key, "record": row_of(record)}, record
