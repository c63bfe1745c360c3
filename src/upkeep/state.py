"""Responsible for state a runbook keeps from one run to the next (such as how far it has read a
log), committed only once the run's evidence is published.

Inside a run, `save` writes into a pending folder the runner names in $UPKEEP_PENDING_STATE;
after publishing, the runner `commit`s it into the state directory. The pending folder lives in
the state directory itself (`.pending/<pid>-<run_id>/`), so committing is a rename on one
filesystem wherever the evidence is. A run that is interrupted, or whose evidence could not be
published, leaves the state as the last published run left it; the pending folder of a runner
that died is removed by the next run. Outside a runner (a notebook opened by hand), `save`
writes to the state directory directly.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from upkeep.atomic import file_mode, fsync_dir, write_json

PENDING_ENV = "UPKEEP_PENDING_STATE"
PENDING_DIR = ".pending"  # under the state directory: one folder per run in progress

__all__ = ["PENDING_DIR", "PENDING_ENV", "commit", "discard", "pending_folder", "save"]


def save(state_dir: Path, relpath: str | Path, value: Any) -> Path:
    """Write JSON state at `state_dir/relpath`, staged when a runner asked for it."""
    relpath = Path(relpath)
    if relpath.is_absolute() or ".." in relpath.parts:
        raise ValueError(f"state path {relpath} must be relative, inside the state directory")
    pending = os.environ.get(PENDING_ENV)
    path = (Path(pending) if pending else state_dir) / relpath
    write_json(path, value, mode=file_mode())
    return path


def pending_folder(state_dir: Path, name: str, staging_dir: Path) -> Path:
    """Where the run `name` (`<pid>-<run_id>`, its staging folder's name in `staging_dir`)
    stages its state: inside `state_dir`, beside what it replaces. Pending folders of runners
    that are gone are removed first: their process is not alive here, and nothing holds their
    staging folder (a runner in another container sharing both has pids this one cannot see).
    The folder itself is created by the first `save`."""
    from upkeep.evidence.in_progress import held  # here: kernels import this module

    parent = state_dir / PENDING_DIR
    if parent.is_dir():
        for folder in parent.iterdir():
            owner = _owner_pid(folder.name)
            if owner is not None and not _alive(owner) and not held(staging_dir / folder.name):
                discard(folder)
    return parent / name


def commit(pending: Path, state_dir: Path) -> list[Path]:
    """Move every staged file into `state_dir`, each replaced atomically; return what moved."""
    if not pending.is_dir():
        return []
    moved = []
    for source in sorted(p for p in pending.rglob("*") if p.is_file() and not p.is_symlink()):
        target = state_dir / source.relative_to(pending)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)
        fsync_dir(target.parent)
        moved.append(target)
    discard(pending)
    return moved


def discard(pending: Path) -> None:
    shutil.rmtree(pending, ignore_errors=True)


def _owner_pid(name: str) -> int | None:
    head, sep, _ = name.partition("-")
    return int(head) if sep and head.isdigit() else None


def _alive(pid: int) -> bool:
    import psutil  # here, not at the top: runbooks import this module in every kernel

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return True  # exists, but we may not look at it
