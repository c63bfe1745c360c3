"""Responsible for making a log's writer reopen it after its rotation moved the file away: a
signal to the pid its pid file names (never a process that reused the pid), or the log's
`postrotate` command, each with what went wrong reported as a rotation problem, never raised.
"""

from __future__ import annotations

import contextlib
import os
import signal as signal_module
import subprocess
from pathlib import Path

import psutil

from upkeep.config import LogRotation
from upkeep.logs.rotation_plan import RotationProblem, RotationProblemKind
from upkeep.pid_file import read_pid_file

__all__ = ["no_pid_file", "postrotate", "signal_writer", "unreopened", "writer_pid"]

# A pid file is written after its process starts; a process that started later than this after
# the file was written is another process that reused the pid, and must not be signalled.
PID_START_SLACK_S = 1.0
# How long a postrotate command may run (logrotate waits for ever; a hung reload must not hold the
# cleaning runbook until its own timeout).
POSTROTATE_TIMEOUT_S = 60.0


def unreopened(policy: LogRotation) -> bool:
    """Whether nothing is configured to make a renamed log's writer reopen it."""
    return policy.pid_file is None and policy.postrotate is None


def postrotate(command: str, log_path: Path) -> list[RotationProblem]:
    """Run the `postrotate` command with /bin/sh, the log's path as its `$1` (as logrotate
    passes it), in a session of its own: stopped whole when it overruns POSTROTATE_TIMEOUT_S.
    A failure is a problem (the writer may not have reopened), never raised."""
    process = subprocess.Popen(
        ["/bin/sh", "-c", command, "postrotate", str(log_path)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=POSTROTATE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal_module.SIGKILL)
        process.communicate()
        message = (
            f"postrotate did not finish in {POSTROTATE_TIMEOUT_S:g} s and was stopped; "
            f"the writer may keep writing to {log_path.name}.1"
        )
        return [RotationProblem(RotationProblemKind.POSTROTATE, message)]
    if process.returncode == 0:
        return []
    said = output.decode("utf-8", "replace").strip().splitlines()
    last = f": {said[-1][:200]}" if said else ""
    message = (
        f"postrotate exited with status {process.returncode}{last}; "
        f"the writer may keep writing to {log_path.name}.1"
    )
    return [RotationProblem(RotationProblemKind.POSTROTATE, message)]


def no_pid_file(log_path: Path) -> RotationProblem:
    return RotationProblem(
        RotationProblemKind.PID_FILE,
        f"no pid_file configured: nothing tells the writer to reopen {log_path.name}; "
        f"it keeps writing to {log_path.name}.1",
    )


def writer_pid(policy: LogRotation, log_path: Path) -> tuple[int | None, RotationProblem | None]:
    """The pid to signal, or the reason none can be (a missing, unreadable or stale pid file)."""
    if policy.pid_file is None:
        return None, no_pid_file(log_path)
    pid_file = policy.pid_file
    consequence = f"the writer was not told to reopen; it may keep writing to {log_path.name}.1"
    kind = RotationProblemKind.PID_FILE
    try:
        pid, text = read_pid_file(pid_file)
        written = os.stat(pid_file).st_mtime
    except OSError as exc:
        return None, RotationProblem(kind, f"pid file {pid_file}: {exc.strerror}; {consequence}")
    if pid is None or pid == os.getpid():
        return None, RotationProblem(
            kind, f"pid file {pid_file} holds {text[:40]!r}, not a process id"
        )
    try:
        started = psutil.Process(pid).create_time()
    except psutil.NoSuchProcess:
        return None, RotationProblem(
            kind, f"stale pid file {pid_file}: no process {pid}; {consequence}"
        )
    except psutil.Error:
        return pid, None  # cannot look: trust the pid file
    if started > written + PID_START_SLACK_S:
        return None, RotationProblem(
            kind,
            f"stale pid file {pid_file}: process {pid} started after the file was written "
            f"(the pid was reused), not signalled; {consequence}",
        )
    return pid, None


def signal_writer(policy: LogRotation, log_path: Path) -> list[RotationProblem]:
    pid, problem = writer_pid(policy, log_path)
    if pid is None:
        return [problem] if problem else []
    try:
        os.kill(pid, signal_module.Signals[policy.signal])
    except ProcessLookupError:
        message = f"process {pid} exited before it could be signalled"
        return [RotationProblem(RotationProblemKind.PID_FILE, message)]
    except PermissionError:
        message = f"not allowed to send {policy.signal} to process {pid}"
        return [RotationProblem(RotationProblemKind.SIGNAL, message)]
    return []
