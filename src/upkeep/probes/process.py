"""Responsible for probing a service that is a local process: up while one of its processes runs,
a process being one of the configured user's (by default the account upkeep runs as) whose
command line contains `process`, whose name is exactly `command`, or whose pid `pid_file` holds
— never any process on the host that merely mentions the text (an editor, a `grep`, a `tail` of
its log, another user's copy).
"""

from __future__ import annotations

import getpass
import os
import pwd
from pathlib import Path

import psutil

from upkeep.config import ProcessService
from upkeep.pid_file import read_pid_file
from upkeep.probes.interface import ServiceProbe

__all__ = ["probe_process", "service_user"]


def service_user(service: ProcessService) -> str:
    """The account whose processes count: the configured one, else the one upkeep runs as."""
    return service.user or getpass.getuser()


def probe_process(service: ProcessService) -> ServiceProbe:
    """Count the service's processes (this process and its parents excluded)."""
    user = service_user(service)
    try:
        uid = pwd.getpwnam(user).pw_uid
    except KeyError:
        return _answer(service, 0, f"no user named {user!r} on this host")
    if service.pid_file is not None:
        pid, problem = _read_pid(service.pid_file)
        if pid is None:
            return _answer(service, 0, problem)
        candidates = [pid]
    else:
        candidates = psutil.pids()
    excluded = {os.getpid(), *(parent.pid for parent in psutil.Process().parents())}
    count = sum(
        1 for pid in candidates if pid not in excluded and _is_one_of_its(pid, service, uid)
    )
    return _answer(service, count, f"{_plural(count)} {_described(service, user)}")


def _is_one_of_its(pid: int, service: ProcessService, uid: int) -> bool:
    try:
        process = psutil.Process(pid)
        if process.uids().real != uid or process.status() == psutil.STATUS_ZOMBIE:
            return False
        if service.command is not None and service.command not in _names(process):
            return False
        return service.process is None or service.process in " ".join(process.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def _names(process: psutil.Process) -> set[str]:
    """What `pgrep -x` would match: the process name, and its program's file name."""
    names = {process.name()}
    cmdline = process.cmdline()
    if cmdline:
        names.add(os.path.basename(cmdline[0]))
    return names


def _read_pid(path: Path) -> tuple[int | None, str]:
    try:
        pid, text = read_pid_file(path)
    except FileNotFoundError:
        return None, f"pid file {path} not found"
    except OSError as exc:
        return None, f"pid file {path} cannot be read: {exc.strerror}"
    if pid is None:
        return None, f"pid file {path} holds no pid ({text[:20]!r})"
    return pid, ""


def _described(service: ProcessService, user: str) -> str:
    what = [f"of user {user}"]
    if service.pid_file is not None:
        what.append(f"with the pid in {service.pid_file}")
    if service.command is not None:
        what.append(f"named {service.command!r}")
    if service.process is not None:
        what.append(f"matching {service.process!r}")
    return " ".join(what)


def _plural(count: int) -> str:
    return f"{count} process{'es' if count != 1 else ''}"


def _answer(service: ProcessService, count: int, detail: str) -> ServiceProbe:
    return ServiceProbe(service.name, service.kind, count > 0, detail, process_count=count)
