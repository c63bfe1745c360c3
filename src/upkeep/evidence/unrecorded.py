"""Responsible for the folders under runs/ that the ledger does not record, as they stand once a
publish going on has ended: a run's folder is placed a moment before its ledger line is appended,
both under the ledger lock, so a folder first found without its line is looked at again under
that lock, and one whose publish was cut off is told apart by `.publishing.json`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from upkeep.evidence import ledger
from upkeep.evidence.layout import LEDGER, LOCK, PENDING, read_json, scan_runs

__all__ = ["Unrecorded", "unrecorded_folders"]


@dataclass(frozen=True)
class Unrecorded:
    """Run folders the ledger does not record (`interrupted`: the one a publish cut off before
    its line, when it is among them), and entries under runs/ that are no run folder."""

    folders: tuple[str, ...]
    interrupted: str | None
    strays: tuple[str, ...]


def unrecorded_folders(root: Path, recorded: set[str], *, settle: bool = True) -> Unrecorded:
    """What under `root`'s runs/ the ledger lines read (`recorded`) do not hold. Unless `settle`
    is False (the caller holds the ledger lock), a folder missing its line is looked at again
    under the lock, where it can be taken."""
    folders, strays = scan_runs(root)
    missing = [relpath for relpath in folders if relpath not in recorded]
    interrupted = None
    if missing:
        with _publish_settled(root) if settle else contextlib.nullcontext():
            now, _ = ledger.recorded_paths(root / LEDGER)
            interrupted = _publishing(root)
        missing = [relpath for relpath in missing if relpath not in now]
    return Unrecorded(
        tuple(missing), interrupted if interrupted in missing else None, tuple(strays)
    )


@contextlib.contextmanager
def _publish_settled(root: Path, timeout_s: float = 60.0) -> Iterator[None]:
    """Hold the ledger lock while reading, when it can be taken: not on evidence this user may
    not write (an auditor's read-only copy), where no publish can be going on anyway."""
    lock = root / LOCK
    if not os.access(lock, os.W_OK):
        yield
        return
    from filelock import FileLock, Timeout  # here: only a folder missing its line needs it

    held = FileLock(str(lock))
    try:
        held.acquire(timeout=timeout_s)
    except (Timeout, OSError):
        yield  # a publish stuck that long: read as it stands
        return
    try:
        yield
    finally:
        held.release()


def _publishing(root: Path) -> str | None:
    """The folder `.publishing.json` names: a publish that was cut off before its ledger line."""
    try:
        return str(read_json((root / PENDING).read_bytes())["path"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
