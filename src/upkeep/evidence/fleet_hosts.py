"""Responsible for telling whether a fleet host's evidence is its own: every run records the
fleet id of the host that ran it (`host.id` in run.json); a run of another host in it (a copied
or shared evidence folder) is named, since it verifies as evidence but not as this host's.
"""

from __future__ import annotations

from pathlib import Path

from upkeep.errors import EvidenceError
from upkeep.evidence.store import EvidenceStore
from upkeep.evidence.verify import Mismatch

__all__ = ["foreign_runs", "foreign_run_message"]


def foreign_run_message(run_id: str, recorded_by: str, host_id: str) -> str:
    return (
        f"run {run_id} was recorded by host {recorded_by!r}, not {host_id!r}: this is another"
        " host's evidence (a copied or shared evidence folder?)"
    )


def foreign_runs(root: Path, host_id: str) -> tuple[Mismatch, ...]:
    """A problem for each run under `root` whose run.json names another fleet host; runs that
    name none (before fleets, or a single machine) are not judged."""
    store = EvidenceStore(root)
    found = []
    for entry in store.entries(strict=False):
        try:
            recorded_by = store.load(entry).host.id
        except (EvidenceError, OSError, ValueError):
            continue  # verify names a run.json it cannot read
        if recorded_by and recorded_by != host_id:
            message = foreign_run_message(entry.run_id, recorded_by, host_id)
            found.append(Mismatch(entry.run_id, entry.path, message))
    return tuple(found)
