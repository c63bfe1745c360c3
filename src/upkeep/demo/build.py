"""Responsible for building the demo system under `config.demo.root`: the database, logs and file
trees are written into a staging folder beside the root, then swapped into place under a lock,
and `demo.json`, the marker, is written last, so a killed build leaves the previous demo or none,
never half of one. The data comes from a fixed seed, with times relative to the build.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from filelock import FileLock

from upkeep.demo.database import DEFECTS, build_database
from upkeep.demo.logs import write_logs
from upkeep.demo.security import write_security_files
from upkeep.demo.settings import demo_settings
from upkeep.demo.trees import build_file_trees

if TYPE_CHECKING:
    from upkeep.config import Config

DEMO_VERSION = 2  # 2: the personal data of the compliance audit
MARKER = "demo.json"
SEED = 20251116


def demo_is_built(config: Config) -> bool:
    """True when the demo root holds a complete demo of the current version."""
    marker = demo_settings(config).root / MARKER
    try:
        return json.loads(marker.read_text(encoding="utf-8")).get("version") == DEMO_VERSION
    except (OSError, ValueError, AttributeError):
        return False


def build_demo(config: Config, *, force: bool = False) -> Path:
    """Build the demo under `config.demo.root` unless it is already built; return the root.

    The demo is built in a sibling directory and renamed into place, under a lock: a killed build
    leaves either the previous demo or none, never half of one.
    """
    root = demo_settings(config).root
    root.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root.parent / f".{root.name}.lock")):
        if demo_is_built(config) and not force:
            return root
        _remove_leftovers(root)
        staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.building-", dir=root.parent))
        try:
            _build_into(staging, datetime.now(UTC).replace(microsecond=0))
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        staging.chmod(0o755)  # mkdtemp makes it private; the demo is an ordinary directory
        _swap_into_place(staging, root)
    return root


def _remove_leftovers(root: Path) -> None:
    """Delete staging and retired directories left by a build that was killed (we hold the lock)."""
    for pattern in (f".{root.name}.building-*", f".{root.name}.old-*"):
        for path in root.parent.glob(pattern):
            shutil.rmtree(path, ignore_errors=True)


def _swap_into_place(staging: Path, root: Path) -> None:
    retired = None
    if root.exists():
        retired = root.parent / f".{root.name}.old-{os.getpid()}"
        os.rename(root, retired)
    os.rename(staging, root)
    if retired is not None:
        shutil.rmtree(retired, ignore_errors=True)


def _build_into(root: Path, now: datetime) -> None:
    """Write every part of the demo into `root`, the marker last; one generator, in this order,
    so that every build from the seed holds the same data."""
    rng = random.Random(SEED)
    build_database(root / "app.db", rng, now)
    write_logs(root / "logs", rng, now)
    build_file_trees(root, rng, now)
    write_security_files(root, now)
    marker = {
        "version": DEMO_VERSION,
        "built_at": now.isoformat(),
        "seed": SEED,
        "defects": {defect.key: defect.count for defect in DEFECTS},
    }
    (root / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
