"""Responsible for the evidence of every run: `store` publishes run folders atomically and reads
them back, `ledger` reads and appends the hash-chained `ledger.jsonl`, `verify` re-checks all of
it, `recovery` cleans up after crashed runners, `layout` names the files. The store and recovery
load on first use (they import filelock and psutil), so that `upkeep verify` does not pay them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from upkeep.evidence.layout import GENESIS, LEDGER, RUN_JSON, run_relpath
from upkeep.evidence.ledger import DecisionEntry, LedgerEntry
from upkeep.evidence.verify import Mismatch, VerifyReport, verify

if TYPE_CHECKING:
    from upkeep.evidence.recovery import recover
    from upkeep.evidence.store import EvidenceStore, PublishedRun

_ON_FIRST_USE = {
    "EvidenceStore": "upkeep.evidence.store",
    "PublishedRun": "upkeep.evidence.store",
    "recover": "upkeep.evidence.recovery",
}

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


def __getattr__(name: str) -> Any:
    if name not in _ON_FIRST_USE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_ON_FIRST_USE[name]), name)
    globals()[name] = value
    return value
