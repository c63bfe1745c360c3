"""git with a fixed identity, for tests that make real repositories (no remote, nothing pushed)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "upkeep tests",
    "GIT_AUTHOR_EMAIL": "tests@upkeep.invalid",
    "GIT_COMMITTER_NAME": "upkeep tests",
    "GIT_COMMITTER_EMAIL": "tests@upkeep.invalid",
}


def git(root: Path, *args: str) -> str:
    """Run git in `root` with a fixed identity; return its stdout, fail the test on error."""
    proc = subprocess.run(
        ["git", *args],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_IDENTITY},
        check=False,
    )
    assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr}"
    return proc.stdout
