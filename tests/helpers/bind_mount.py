"""A real bind mount for a test: a folder of the same filesystem mounted onto another inside the
test's own temp dir (same device number, another mount), unmounted again, exactly that mount,
when the block ends: where it was made, or where a rename of a folder above it moved it (found
in the kernel's mount table by its root, the source folder). Needs root privileges and
mount(2), like `tiny_fs`."""

from __future__ import annotations

import os
import re
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
        for point in _points_of(source) or [str(target)]:
            if subprocess.run(["umount", point], check=False).returncode != 0:
                subprocess.run(["umount", "-l", point], check=False)


def _points_of(source: Path) -> list[str]:
    """Where `source` is bind-mounted below its own parent folder (the test's temp dir), from
    /proc/self/mountinfo: its 4th field is the mount's root in its filesystem (relative to that
    filesystem: /tmp may be one of its own), its 5th the mount point; spaces written \\040."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        root, point = (re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), field)
                       for field in line.split(" ")[3:5])  # fmt: skip
        if root != "/" and str(source).endswith(root) and point.startswith(f"{source.parent}/"):
            found.append(point)
    return found
