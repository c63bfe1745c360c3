"""A real bind mount for a test: a folder of the same filesystem mounted onto another inside the
test's own temp dir (same device number, another mount), unmounted again, exactly that mount
point, when the block ends. Needs root privileges and mount(2), like `tiny_fs`."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def bind_mounted(source: Path, target: Path) -> Iterator[Path]:
    """`mount --bind source target` for the duration; skip (fail under CI=true) if we can't."""
    target.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "--bind", str(source), str(target)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        reason = f"cannot bind-mount here: {mounted.stderr.strip()}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        yield target
    finally:
        if subprocess.run(["umount", str(target)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(target)], check=False)
