"""Cleaning for tests: a temp root cleaned at a fixed time, the entries under a tree, and old
files beside a root that nothing may ever delete."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from helpers.files import NOW, aged, write
from upkeep import cleaning
from upkeep.config import CleanupRoot


def tree(root: Path) -> dict[str, float]:
    """Every entry under root (symlinks not followed) with its mtime."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            found[str(path.relative_to(root))] = os.lstat(path).st_mtime
    return found


def names(removals: Any, root: Path) -> set[str]:
    return {str(r.path.relative_to(root)) for r in removals}


def clean_temp(
    root: Path, *, days: float = 7, protect: tuple[str, ...] = (), dry_run: bool = False
) -> cleaning.RootCleaning:
    now = datetime.fromtimestamp(NOW, UTC)
    plan = cleaning.plan_temp(CleanupRoot(root, max_age_days=days), protect, now=now)
    return cleaning.execute(plan, dry_run=dry_run)


def old_files_beside(tmp_path: Path) -> Path:
    """Beside the root: old files nothing may ever delete."""
    path = tmp_path / "outside"
    write(path / "precious", 100)
    write(path / "deep" / "old", 100)
    aged(path / "deep", 100)
    return path


def intact(outside: Path) -> bool:
    return (outside / "precious").is_file() and (outside / "deep" / "old").is_file()
