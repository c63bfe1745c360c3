"""Responsible for the evidence of every run: `store` publishes run folders atomically and reads
them back, `ledger` reads and appends the hash-chained `ledger.jsonl`, `verify` re-checks all of
it, `recovery` cleans up after crashed runners, `layout` names the files.
"""

from __future__ import annotations

from upkeep.evidence.layout import GENESIS, LEDGER, RUN_JSON, run_relpath
from upkeep.evidence.ledger import DecisionEntry, LedgerEntry
from upkeep.evidence.recovery import recover
from upkeep.evidence.store import EvidenceStore, PublishedRun
from upkeep.evidence.verify import Mismatch, VerifyReport, verify

__all__ = [
    "GENESIS",
    "LEDGER",
    "RUN_JSON",
    "DecisionEntry",
    "EvidenceStore",
    "LedgerEntry",
    "Mismatch",
    "PublishedRun",
    "VerifyReport",
    "recover",
    "run_relpath",
    "verify",
]
