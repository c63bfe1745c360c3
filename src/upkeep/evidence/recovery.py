"""Responsible for cleaning up after runners that crashed or were killed: their staging folders
removed, a publish interrupted between placing its folder and appending its line finished, and
every other run folder without a ledger line left where it is for `verify` to report.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path, PurePosixPath

from upkeep.atomic import fsync_dir
from upkeep.evidence import ledger
from upkeep.evidence.in_progress import held, owner_pid, process_alive, unheld
from upkeep.evidence.layout import (
    LEDGER,
    PENDING,
    RUN_JSON,
    RUNS,
    STAGING,
    read_json,
    scan_runs,
    sha256_file,
)
from upkeep.evidence.store import EvidenceStore
from upkeep.evidence.verify import check_run_folder
from upkeep.records import RunRecord


def recover(store: EvidenceStore) -> list[str]:
    """Clean up after crashed runners; return one note per thing done or found.

    Removes `.staging/<pid>-*` folders whose process is gone, and those named with this
    process's own pid that no process holds (`in_progress.hold`): a killed runner's that had
    the same pid (a container's PID 1 after a restart), while another container's PID 1 that
    is running holds its own. A folder some process holds is never removed, whatever its pid:
    a runner in another container sharing the evidence has pids this one cannot see. Finishes
    a publish that was
    killed between placing its run folder and appending its ledger line (the only folder its
    intent record names, and only if its run.json still matches). Any other run folder
    without a ledger line is left where it is: `verify` keeps reporting it.
    """
    if not store.root.is_dir():
        return []
    notes = _remove_dead_staging(store.root)
    with store.lock():
        notes += _finish_interrupted_publish(store)
        notes += _report_orphans(store.root)
    return notes


def _remove_dead_staging(root: Path) -> list[str]:
    parent = root / STAGING
    if not parent.is_dir():
        return []
    notes = []
    for child in sorted(parent.iterdir()):
        pid = owner_pid(child.name)
        # No pid-reuse check here: a process start time moves with the wall clock, and after a
        # clock step a live runner could look newer than its run; removing its folder would
        # lose that run. A folder kept for a reused pid goes once that process ends.
        if pid is None or (process_alive(pid) and not (pid == os.getpid() and unheld(child))):
            continue
        if held(child):  # its runner's pid is another pid namespace's (a container beside)
            continue
        try:
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
        except OSError as err:
            notes.append(f"could not remove {STAGING}/{child.name}: {err}")
            continue
        gone = (
            f"left by an earlier process with this one's pid {pid}, and held by none"
            if pid == os.getpid()
            else f"its process {pid} is no longer running"
        )
        notes.append(f"removed {STAGING}/{child.name}: {gone}")
    return notes


def _finish_interrupted_publish(store: EvidenceStore) -> list[str]:
    root = store.root
    intent_path = root / PENDING
    if not intent_path.exists():
        return []
    try:
        intent = read_json(intent_path.read_bytes())
        relpath, sha = intent["path"], intent["run_json_sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        intent_path.unlink()
        return [f"removed an unreadable {PENDING}"]
    recorded, damaged = ledger.recorded_paths(store.ledger_path)
    notes: list[str] = []
    run_json = root / relpath / RUN_JSON
    if relpath not in recorded and not damaged and run_json.is_file():
        problems, value = check_run_folder(root, relpath, PurePosixPath(relpath).name, None)
        if not problems and value is not None and sha256_file(run_json) == sha:
            record = RunRecord.from_json(value)
            entry, cut = store.append(ledger.fields_for(record, relpath, sha))
            notes += [
                *cut,
                f"finished publishing {relpath} as ledger line {entry.seq} "
                "(its runner was killed before writing the line)",
            ]
    intent_path.unlink()
    fsync_dir(root)
    return notes


def _report_orphans(root: Path) -> list[str]:
    if not (root / RUNS).is_dir():
        return []
    recorded, _ = ledger.recorded_paths(root / LEDGER)
    folders, _ = scan_runs(root)
    return [
        f"run folder {relpath} is not recorded in the ledger and was left in place; "
        "run `upkeep verify`"
        for relpath in folders
        if relpath not in recorded
    ]
