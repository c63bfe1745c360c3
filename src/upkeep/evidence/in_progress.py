"""Responsible for the runs going on now, as the evidence shows them: a runner stages each run in
`.staging/<pid>-<run_id>/` from its start until it is published (or discarded), holding an
exclusive `flock` on the folder all along, and the run id begins with the start in UTC. A folder
whose process is gone, and that nothing holds, is a run that died: not going on. Process ids are
this machine's (this container's): a runner in another container or on another host sharing the
evidence is seen by its `flock`, where the filesystem shares locks.
"""

from __future__ import annotations

import fcntl
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from upkeep.evidence.layout import STAGING

# A runner's process starts before the runs it stages; this much later is clock granularity.
START_SLACK_S = 60
# `20261127T021500Z-health-check-7f3a`: the start, the runbook, a random suffix.
_RUN_ID_PARTS = re.compile(r"(\d{8}T\d{6}Z)-(.+)-[0-9a-z]+")


@dataclass(frozen=True)
class RunInProgress:
    """A run that started and has not been published yet, its runner still alive."""

    run_id: str
    runbook: str
    started_at: datetime  # UTC
    pid: int


def runs_in_progress(evidence_root: Path) -> list[RunInProgress]:
    """Every run staged under `evidence_root` whose runner process is alive, or whose folder a
    process holds, oldest first."""
    parent = evidence_root / STAGING
    if not parent.is_dir():
        return []
    found = []
    for child in parent.iterdir():
        pid = owner_pid(child.name)
        parts = _RUN_ID_PARTS.fullmatch(child.name.partition("-")[2])
        if pid is None or parts is None:
            continue
        started = datetime.strptime(parts[1], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        if not process_alive(pid, since=started) and not held(child):
            continue  # held: a runner in another container, with a pid not seen here
        found.append(RunInProgress(child.name.partition("-")[2], parts[2], started, pid))
    return sorted(found, key=lambda run: (run.started_at, run.run_id))


def owner_pid(name: str) -> int | None:
    """The process id a staging folder's name starts with, or None."""
    head, sep, _ = name.partition("-")
    return int(head) if sep and head.isdigit() else None


def process_alive(pid: int, since: datetime | None = None) -> bool:
    """Whether process `pid` exists on this machine and is not a zombie; with `since` (when the
    run it staged started), also whether it was already running then: a process started later
    holds a reused pid, and the runner is gone. (A process's start time follows the wall clock:
    after the clock is stepped forward by more than START_SLACK_S, a live runner's run is not
    shown as going on; nothing destructive goes by this.)"""
    import psutil  # here: every site build imports this module, few have runs going on

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        started_later = (
            since is not None and process.create_time() > since.timestamp() + START_SLACK_S
        )
        return not started_later
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return True  # exists, but we may not look at it


def hold(folder: Path) -> int | None:
    """Take an exclusive `flock` on `folder` for as long as the descriptor returned is open;
    None where the filesystem gives none on a folder (NFS emulates flock with record locks,
    which need a file open for writing): the run goes on unheld, and `unheld` says "held" of
    every folder there, so recovery falls back to the process ids alone."""
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(descriptor)
        return None
    return descriptor


def held(folder: Path) -> bool:
    """Whether a process holds `folder`'s `flock` now: True only when the lock is refused as
    taken (False where the filesystem gives no flock on a folder, or it cannot be opened)."""
    return _try_lock(folder) is False


def unheld(folder: Path) -> bool:
    """Whether no process holds `folder`'s `flock` now (its runner is gone), as far as a lock
    can tell; False when the folder cannot be opened."""
    return _try_lock(folder) is True


def _try_lock(folder: Path) -> bool | None:
    """Take and drop `folder`'s `flock`: True when it was free, False when a process holds it,
    None when no lock can tell (the folder cannot be opened, or its filesystem gives no flock
    on a folder)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:
        return None
    finally:
        os.close(descriptor)  # the lock, if taken, goes with it
    return True
