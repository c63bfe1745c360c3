"""Responsible for letting a runbook run alone: every upkeep run on the machine holds one lock
file, shared, and a runbook whose metadata says `runs_alone` (the health check: it measures the
machine) holds it exclusively, so no run of upkeep goes on beside it, in this process or another.
Waiting is bounded: a run that cannot have its turn in time is skipped, with the reason.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from upkeep.atomic import file_mode

LOCK_FILE = "runs-alone.lock"  # under the state dir's locks/, beside each runbook's own lock
POLL_S = 0.1


@contextmanager
def run_turn(
    lock_dir: Path, *, alone: bool, wait_s: float, interrupted: threading.Event
) -> Iterator[bool]:
    """Hold the machine's run lock (exclusively when `alone`) while the block runs; yield False
    when it could not be had within `wait_s` seconds. Ctrl-C (`interrupted`) ends the wait."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    # Its own open file description: flock then keeps runs of one process apart too.
    fd = os.open(lock_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, file_mode())
    try:
        if not _acquire(fd, fcntl.LOCK_EX if alone else fcntl.LOCK_SH, wait_s, interrupted):
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _acquire(fd: int, mode: int, wait_s: float, interrupted: threading.Event) -> bool:
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if interrupted.is_set():
                raise KeyboardInterrupt from None
            if time.monotonic() >= deadline:
                return False
            time.sleep(POLL_S)


def waited_too_long(alone: bool, wait_s: float) -> str:
    """Why a run that did not have its turn was skipped."""
    if alone:
        return f"could not run alone: other upkeep runs were still going after {wait_s:g} s"
    return f"a runbook that runs alone was still going after {wait_s:g} s"
