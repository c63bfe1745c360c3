"""Responsible for naming the directories upkeep must never clean, or take as its evidence or
state directory: the system trees where nothing is disposable, the directories refused as
cleaning roots themselves (a dedicated folder below them is fine), the temp directories that stay
allowed, and the marks of a tree that is never cleaned wherever it is (a PostgreSQL data
directory, a git work tree). The list follows the FHS and what systemd-tmpfiles and tmpreaper
clean by default (only `/tmp` and `/var/tmp`).
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "GUARD_MARKERS",
    "SYSTEM_DIRECTORIES",
    "SYSTEM_TREES",
    "TEMP_DIRECTORIES",
    "not_disposable",
    "system_directory",
]

# Nothing below these is disposable: programs, libraries, configuration, devices, kernel views,
# mail and print queues, crontabs, mailboxes and the system's own backups. `/lib*` is any
# top-level directory whose name starts with "lib" (lib, lib32, lib64, libx32).
SYSTEM_TREES = (
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/lib*",
    "/proc",
    "/sbin",
    "/sys",
    "/usr",
    "/var/backups",
    "/var/mail",
    "/var/spool",
)
# Refused as roots themselves, and so is a directory right below /var/lib (one package's whole
# state) or /home (one person's home); a dedicated folder deeper down may be a root.
SYSTEM_DIRECTORIES = (
    "/",
    "/home",
    "/media",
    "/mnt",
    "/opt",
    "/root",
    "/run",
    "/srv",
    "/var",
    "/var/cache",
    "/var/lib",
    "/var/local",
    "/var/log",
    "/var/opt",
)
_WHOLE_BELOW = ("/var/lib", "/home")
TEMP_DIRECTORIES = ("/tmp", "/var/tmp")  # and every folder below them: always allowed
# A directory holding one of these names is never cleaned, wherever it is: not as a root, not
# inside one (the scan), and no root may lie inside a PostgreSQL data directory.
GUARD_MARKERS = {
    "PG_VERSION": "a PostgreSQL data directory (it holds PG_VERSION)",
    ".git": "a git work tree (it holds .git)",
}


def system_directory(path: Path) -> str | None:
    """Why `path` (absolute, normalised) is itself one of the system's directories, or None:
    no evidence or state directory may be one."""
    text = str(path)
    if any(_is_tree(path, pattern) for pattern in SYSTEM_TREES):
        return f"{text} is a system tree where nothing is disposable"
    if text in SYSTEM_DIRECTORIES:
        return f"{text} is a system directory"
    return None


def not_disposable(path: Path) -> str | None:
    """Why no cleaning may take `path` (absolute, normalised) as its root, or None: it is a
    system directory, lies inside a system tree, or is a package's whole state or a person's
    home. `/tmp`, `/var/tmp` and every folder below them are always allowed."""
    text = str(path)
    if text in TEMP_DIRECTORIES or text.startswith(tuple(d + "/" for d in TEMP_DIRECTORIES)):
        return None
    reason = system_directory(path)
    if reason is not None:
        return reason
    for tree in path.parents:
        if any(_is_tree(tree, pattern) for pattern in SYSTEM_TREES):
            return f"{text} is inside {tree}, a system tree where nothing is disposable"
    if str(path.parent) in _WHOLE_BELOW:
        what = "a package's whole state" if str(path.parent) == "/var/lib" else "a person's home"
        return f"{text} is {what}"
    return None


def _is_tree(path: Path, pattern: str) -> bool:
    if pattern.endswith("*"):
        return len(path.parts) == 2 and path.parts[1].startswith(pattern[1:-1])
    return str(path) == pattern
