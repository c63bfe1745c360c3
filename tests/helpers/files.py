"""Files and logs for tests: files with a chosen age, lines appended to a log, a config written
and loaded."""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

from upkeep.config import Config, load_config

DAY = 86400.0
NOW = time.time()


def aged(path: Path, days: float) -> Path:
    """Set `path`'s mtime (a symlink's own, not its target's) `days` before NOW."""
    stamp = NOW - days * DAY
    os.utime(path, (stamp, stamp), follow_symlinks=False)
    return path


def write(path: Path, days: float, size: int = 10) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    return aged(path, days)


def append(path: Path, *lines: str, end: str = "\n") -> None:
    """Append `lines` to a log file, as a writer would."""
    with path.open("a", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + end)


def make_config(tmp_path: Path, body: str = "") -> Config:
    """An upkeep.yml with a state dir and `body`, written to `tmp_path` and loaded."""
    path = tmp_path / "upkeep.yml"
    path.write_text("version: 1\nstate_dir: state\n" + textwrap.dedent(body))
    return load_config(path)
