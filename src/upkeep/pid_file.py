"""Responsible for reading a pid file (a service's, a log writer's): a regular file holding one
process id. A FIFO would make the reader wait for a writer for good and a device may never end,
so both are refused, and no more is read than a pid needs."""

from __future__ import annotations

from pathlib import Path

from upkeep.regular_file import read_regular

__all__ = ["read_pid_file"]

PID_FILE_BYTES = 64  # a pid, a line break, and room for stray spaces
PID_MAX = 1 << 22  # the highest pid_max Linux allows


def read_pid_file(path: Path) -> tuple[int | None, str]:
    """The process id the file at `path` holds, else None; and the file's text, stripped, to
    show when it holds none. OSError when it cannot be read or is no regular file."""
    text = read_regular(path, PID_FILE_BYTES).decode("utf-8", errors="replace").strip()
    pid = int(text) if text.isdigit() and text.isascii() else 0
    return (pid if 1 <= pid <= PID_MAX else None), text
