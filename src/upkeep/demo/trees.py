"""Responsible for the demo's temp and cache trees, `tmp/` and `cache/`: files of realistic names
and sizes, `OLD_FILES` of them older than `OLD_FILE_AGE_DAYS` and `FRESH_FILES` at most 2 days
old, an empty long-forgotten directory, and directory times as if the files had come over time:
what the daily cleaning runbook has to sort out.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

OLD_FILE_AGE_DAYS = 30
# Files older than OLD_FILE_AGE_DAYS, per tree; the rest are at most 2 days old.
OLD_FILES = {"tmp": 26, "cache": 20}
FRESH_FILES = {"tmp": 14, "cache": 20}


def build_file_trees(root: Path, rng: random.Random, now: datetime) -> None:
    """Create `root/tmp` and `root/cache` with their old and fresh files, ages relative to `now`."""
    stamps: dict[Path, float] = {}
    for relative, size, old in _tree_plan(rng):
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(size))
        days = rng.uniform(OLD_FILE_AGE_DAYS + 5, 180) if old else rng.uniform(0, 2)
        stamps[path] = (now - timedelta(days=days)).timestamp()
    forgotten = root / "tmp" / "exports" / "2024-q3"
    forgotten.mkdir(parents=True)
    stamps[forgotten] = (now - timedelta(days=400)).timestamp()
    for path, stamp in stamps.items():
        os.utime(path, (stamp, stamp))
    # A directory's mtime is as old as its newest entry, as if files had been written over time;
    # deepest first, since setting a child touches nothing but the child.
    directories = {parent for path in stamps for parent in path.relative_to(root).parents}
    for relative in sorted(directories - {Path(".")}, key=lambda p: -len(p.parts)):
        directory = root / relative
        newest = max(entry.stat().st_mtime for entry in directory.iterdir())
        os.utime(directory, (newest, newest))


def _tree_plan(rng: random.Random) -> Iterator[tuple[str, int, bool]]:
    """(relative path, size, old?) for every file of tmp/ and cache/, matching OLD/FRESH_FILES."""
    for n in range(12):
        yield f"tmp/uploads/upload-{rng.getrandbits(32):08x}.part", rng.randint(1, 64) * 1024, n < 8
    for n in range(20):
        yield f"tmp/sessions/sess_{rng.getrandbits(64):016x}", 128, n < 14
    for n in range(8):
        yield f"tmp/exports/2025/report-{n + 1:03d}.csv", rng.randint(2, 40) * 1024, n < 4
    for n in range(28):
        digest = f"{rng.getrandbits(64):016x}"
        yield f"cache/thumbnails/{digest[:2]}/{digest}.jpg", rng.randint(2, 24) * 1024, n < 14
    for n in range(12):
        yield f"cache/http/{rng.getrandbits(64):016x}.json", rng.randint(1, 8) * 512, n < 6
