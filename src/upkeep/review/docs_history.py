"""Responsible for when a docs page last changed: the newest git commit that touched it, or its
modification time when it has uncommitted edits; None when that cannot be known (no git, or the
page is not in a repository), so the review says it could not tell rather than guessing."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

GIT_TIMEOUT_S = 10


def page_changed(folders: Sequence[Path], page: str) -> datetime | None:
    """When the reference page `page` (a name under `reference/`) last changed. A page in a later
    folder replaces one of the same name in an earlier folder, as on the site."""
    for folder in reversed(folders):
        path = folder / "reference" / page
        if path.is_file():
            return _last_change(path)
    return None


def _last_change(path: Path) -> datetime | None:
    committed = _git(path, "log", "-1", "--format=%cI", "--", path.name)
    if committed is None:
        return None
    changed = datetime.fromisoformat(committed) if committed else None
    if _git(path, "status", "--porcelain", "--", path.name):
        edited = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        changed = edited if changed is None else max(changed, edited)
    return changed


def _git(path: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=path.parent,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None
