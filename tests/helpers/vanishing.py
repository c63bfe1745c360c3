"""Entries that vanish while a folder is listed: `os.scandir` wrapped so that a named entry is
removed for real right after the kernel listed it (before the caller looks at it), or right after
the caller looked at it; and `Churn`, a real process renaming and deleting entries in a folder.

Wrapping `os.scandir` is the only way to time a removal exactly between a listing and the stat
that follows it; the listing, the removal and the failing stat are all real."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest


class _Listing:
    """A real `os.scandir` listing that removes `before` entries just before handing each over,
    and `after` entries just after the caller had it (on the next step of the listing)."""

    def __init__(self, real: Any, where: Any, before: set[str], after: set[str]) -> None:
        self.real, self.where, self.before, self.after = real, where, before, after

    def __enter__(self) -> _Listing:
        return self

    def __exit__(self, *exc: object) -> None:
        self.real.close()

    def close(self) -> None:
        self.real.close()

    def __iter__(self) -> Iterator[os.DirEntry[str]]:
        handed: os.DirEntry[str] | None = None
        for entry in self.real:
            if handed is not None and handed.name in self.after:
                self._remove(handed)
            if entry.name in self.before:
                self._remove(entry)
            handed = entry
            yield entry
        if handed is not None and handed.name in self.after:
            self._remove(handed)

    def _remove(self, entry: os.DirEntry[str]) -> None:
        dir_fd = self.where if isinstance(self.where, int) else None
        path = entry.name if dir_fd is not None else entry.path
        if entry.is_dir(follow_symlinks=False):
            os.rmdir(path, dir_fd=dir_fd)
        else:
            os.unlink(path, dir_fd=dir_fd)


@contextmanager
def vanishing(
    monkeypatch: pytest.MonkeyPatch, *, before_stat: tuple[str, ...] = (), after_stat=()
) -> Iterator[None]:
    """While active, every `os.scandir` listing removes the entries named in `before_stat` right
    after the kernel listed them, and those in `after_stat` once the caller has looked at them."""
    real_scandir = os.scandir

    def scandir(where: Any = ".") -> _Listing:
        return _Listing(real_scandir(where), where, set(before_stat), set(after_stat))

    with monkeypatch.context() as patch:
        patch.setattr(os, "scandir", scandir)
        yield


_CHURN = """
import os, sys, time
root, old = sys.argv[1], time.time() - 400 * 86400
n = 0
while True:
    n += 1
    for src, dst in (("spin", "spun"), ("spun", "spin")):
        try:
            os.rename(os.path.join(root, src), os.path.join(root, dst))
        except OSError:
            pass
    made = os.path.join(root, f"churn-{n % 7}")
    try:
        with open(made, "w") as handle:
            handle.write("x")
        os.utime(made, (old, old))
        os.rename(made, made + ".moved")
        os.unlink(made + ".moved")
    except OSError:
        pass
"""


@contextmanager
def churning(root: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A real process that, until the block ends, keeps renaming `root/spin` to `root/spun` and
    back, and creating, ageing, renaming and deleting `root/churn-*` files."""
    (root / "spin").mkdir(exist_ok=True)
    (root / "spin" / "inside").write_text("fresh")
    process = subprocess.Popen([sys.executable, "-c", _CHURN, str(root)])
    try:
        time.sleep(0.05)  # let it start churning before the first cleaning
        yield process
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
