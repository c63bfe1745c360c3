"""Responsible for accepting a security review run's inventory as the new permission baseline:
the run is found in the evidence, the inventory it took is read back from the state directory
and checked against the digest its evidence names, the baseline is written atomically, and the
decision (who, why, which run, the drift it accepted) is recorded in the evidence ledger."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from upkeep.config import Config
from upkeep.errors import UpkeepError
from upkeep.security.baseline import drift, inventory_digest, read_baseline, write_baseline

__all__ = ["ACCEPT_DRIFT", "Accepted", "accept_baseline"]

ACCEPT_DRIFT = "accept-drift"  # the decision type on record
RUNBOOK = "security-review"


@dataclass(frozen=True)
class Accepted:
    seq: int
    drifts: int
    digest: str


def accept_baseline(config: Config, run_id: str, *, author: str, reason: str) -> Accepted:
    """Write the run's inventory as the baseline and record the decision; UpkeepError, nothing
    written, when the run, its inventory or the reason is not there."""
    from upkeep.evidence import EvidenceStore
    from upkeep.procedures.security import INVENTORY_METRIC, inventory_state_path
    from upkeep.records import Decision

    if not reason.strip():
        raise UpkeepError("--reason: expected why the drift is accepted, got nothing")
    path = config.security.baseline
    if path is None:
        raise UpkeepError(f"{config.path}: security.baseline: expected the baseline file's path")
    store = EvidenceStore(config.evidence_dir)
    runs = [e for e in store.entries() if e.runbook == RUNBOOK]
    entry = next((e for e in reversed(runs) if e.run_id == run_id), None)
    if entry is None:
        raise UpkeepError(
            f"{run_id!r} is not a run of {RUNBOOK} in {config.evidence_dir}; "
            f"`upkeep list` and the site's runs pages name them"
        )
    if runs[-1].run_id != run_id:
        # an older inventory would undo what the system looks like now, unseen
        raise UpkeepError(
            f"run {run_id} is not the newest {RUNBOOK} run ({runs[-1].run_id} is): "
            "accept the newest, which shows the system as it is now"
        )
    record = store.load(entry)
    digest = next(
        (m.labels.get("inventory") for m in record.metrics if m.name == INVENTORY_METRIC), None
    )
    if not digest:
        raise UpkeepError(f"run {run_id} recorded no inventory (it ended in {record.status})")
    kept = config.state_dir / inventory_state_path(digest)
    try:
        inventory = json.loads(kept.read_text())
    except (OSError, ValueError):
        raise UpkeepError(
            f"run {run_id}: its inventory {kept} is gone; run the review again"
        ) from None
    if inventory_digest(inventory)[:16] != digest:
        raise UpkeepError(f"run {run_id}: {kept} does not match the digest in its evidence")
    before = read_baseline(path) or {}
    changes = drift(before, inventory)
    write_baseline(path, inventory)
    decision = Decision(
        ACCEPT_DRIFT,
        run_id,
        author,
        datetime.now(UTC),
        reason.strip(),
        {
            "baseline": str(path),
            "inventory": digest,
            "drifts": [f"{d.change} {d.key}" for d in changes][:200],
        },
    )
    recorded = store.record_decision(decision)
    return Accepted(recorded.seq, len(changes), digest)
