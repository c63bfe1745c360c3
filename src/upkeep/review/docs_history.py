"""Responsible for when a docs page (or a file or folder it documents) last changed: the newest
git commit that touched it, or its modification time when it has uncommitted edits; None when
that cannot be known (no git, or the page is not in a repository), so the reviews say they could
not tell rather than guessing."""

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
            return last_change(path)
    return None


def last_change(path: Path) -> datetime | None:
    """When the file at `path` last changed (see the module)."""
    path = path.resolve()
    committed = _git(path, "log", "-1", "--format=%cI", "--", path.name)
    if committed is None:
        return None
    changed = datetime.fromisoformat(committed) if committed else None
    if _git(path, "status", "--porcelain", "--", path.name):
        edited = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        changed = edited if changed is None else max(changed, edited)
    return changed


def repository_paths_changed(anchor: Path, paths: Sequence[str]) -> datetime | None:
    """When any of `paths` (relative to the top of the git repository holding `anchor`, a file)
    last changed in a commit; None when none did or it cannot be known. Uncommitted edits are
    not looked for: a folder's are too costly to stat, and a review is of what was committed."""
    if not paths:
        return None
    anchor = anchor.resolve()
    specs = [f":(top){path}" for path in paths]
    committed = _git(anchor, "log", "-1", "--format=%cI", "--", *specs)
    return datetime.fromisoformat(committed) if committed else None


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
