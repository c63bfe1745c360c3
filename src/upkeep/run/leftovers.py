"""Responsible for the processes a run started that outlived its kernel.

Stopping a kernel stops its process group: every process a cell started stops with it. One that
left the group (`setsid`, `start_new_session=True`, a daemon that detaches) lives on, reparented
to init, with nobody to say so. Every process started from a cell inherits the run's id in its
environment (`UPKEEP_RUN_ID`, set for the kernel only), so once the kernel has stopped, the
processes of this user whose environment holds this run's id are its leftovers: each is stopped
(SIGTERM, then SIGKILL after a grace) and named in a warning, `process:leftover`. A process that
must outlive the run belongs to the service manager (`systemctl start`), whose processes never
carry the id. Linux only (`/proc`); elsewhere nothing is looked for.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

from upkeep.plain_text import cut, shown
from upkeep.records import Check, Status
from upkeep.run_artifacts import RUN_ID_ENV

LEFTOVER_CHECK = "process:leftover"
GRACE_S = 2.0  # how long a leftover has to end after SIGTERM
_NAMED = 5  # leftovers named in the check's message; the rest counted


def stop_leftovers(run_id: str, proc: Path = Path("/proc")) -> Check | None:
    """Stop every process of this user whose environment holds `run_id`; a warning naming
    them, or None when there was none."""
    found = _carrying(f"{RUN_ID_ENV}={run_id}".encode(), proc)
    if not found:
        return None
    for pid in found:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_S
    while time.monotonic() < deadline and any(_alive(pid, proc) for pid in found):
        time.sleep(0.02)
    for pid in found:
        if _alive(pid, proc):
            _signal(pid, signal.SIGKILL)
    named = ", ".join(f"{pid} ({found[pid]})" for pid in list(found)[:_NAMED])
    more = f" and {len(found) - _NAMED} more" if len(found) > _NAMED else ""
    return Check(
        LEFTOVER_CHECK,
        Status.WARN,
        message=(
            f"{len(found)} process(es) the run started outlived its kernel (they left its "
            f"process group) and were stopped: {named}{more}; a process that must outlive a "
            "run belongs to the service manager"
        ),
        value=len(found),
    )


def _carrying(mark: bytes, proc: Path) -> dict[int, str]:
    """The processes of this user whose environment holds `mark`, with their command lines."""
    found: dict[int, str] = {}
    own = os.getpid()
    try:
        entries = list(os.scandir(proc))
    except OSError:
        return found
    for entry in entries:
        if not entry.name.isdigit() or int(entry.name) == own:
            continue
        try:
            if entry.stat().st_uid != os.getuid():
                continue
            environ = (Path(entry.path) / "environ").read_bytes()
            if mark not in environ.split(b"\0"):
                continue
            command = (Path(entry.path) / "cmdline").read_bytes().replace(b"\0", b" ").strip()
        except OSError:  # gone meanwhile
            continue
        found[int(entry.name)] = cut(shown(command.decode("utf-8", "replace")), 80)
    return found


def _alive(pid: int, proc: Path) -> bool:
    """Whether `pid` runs (a zombie, killed and not yet reaped by init, does not)."""
    try:
        status = (proc / str(pid) / "stat").read_text()
    except OSError:
        return False
    return status.rpartition(")")[2].split()[:1] != ["Z"]


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(OSError):  # gone meanwhile, or not ours after all
        os.kill(pid, signum)
