"""Responsible for what needs a restart, as needrestart says in batch mode (`needrestart -b`,
the apt-dater protocol): the running kernel against the newest installed one, and the services
running outdated binaries or libraries. Without needrestart, None: the plan says it is unknown."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

__all__ = ["Restarts", "needed_restarts", "parse_batch"]

# NEEDRESTART-KSTA: 0 unknown, 1 current, 2 ABI-compatible upgrade pending, 3 version upgrade
_KERNEL_PENDING = {"2", "3"}


@dataclass(frozen=True)
class Restarts:
    """The kernel running and expected, whether a reboot is due for it, and the services (and
    containers, sessions) to restart."""

    kernel_running: str | None = None
    kernel_expected: str | None = None
    reboot: bool = False
    services: tuple[str, ...] = ()
    containers: tuple[str, ...] = ()
    sessions: tuple[str, ...] = ()


def parse_batch(text: str) -> Restarts:
    """`needrestart -b`'s lines (`NEEDRESTART-KEY: value`); other lines ignored."""
    values: dict[str, list[str]] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.startswith("NEEDRESTART-"):
            values.setdefault(key.removeprefix("NEEDRESTART-"), []).append(value.strip())
    return Restarts(
        kernel_running=(values.get("KCUR") or [None])[0],
        kernel_expected=(values.get("KEXP") or [None])[0],
        reboot=(values.get("KSTA") or ["0"])[0] in _KERNEL_PENDING,
        services=tuple(sorted(set(values.get("SVC", ())))),
        containers=tuple(sorted(set(values.get("CONT", ())))),
        sessions=tuple(sorted(set(values.get("SESS", ())))),
    )


def needed_restarts(timeout_s: float = 120) -> Restarts | None:
    """needrestart's batch output now, or None when needrestart is not installed (or failed)."""
    program = shutil.which("needrestart") or shutil.which("needrestart", path="/usr/sbin:/sbin")
    if program is None:
        return None
    try:
        done = subprocess.run(
            [program, "-b"], capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except (subprocess.TimeoutExpired, OSError):
        return None
    return parse_batch(done.stdout) if done.returncode == 0 else None
