"""Responsible for the vocabulary and the typed records of a run, the one definition every reader
and writer of run.json and the ledger uses: `vocabulary` (statuses, severities and triggers
with their order), `results` (checks, metrics, findings, errors), `run` (the run record) and
`decision` (a person's decision on record).

This package runs inside kernels too (`upkeep.report` uses it): it imports only the standard
library.
"""

from __future__ import annotations

from upkeep.records.decision import Decision
from upkeep.records.results import (
    Check,
    Clearance,
    Finding,
    Metric,
    RunError,
    RunErrorName,
    Waiver,
    tally,
)
from upkeep.records.run import Host, RunbookRef, RunRecord
from upkeep.records.vocabulary import (
    CHECK_STATUSES,
    SCHEMA_VERSION,
    Severity,
    Status,
    Trigger,
    exit_code,
    iso,
    parse_time,
    worst,
)

__all__ = [
    "CHECK_STATUSES",
    "SCHEMA_VERSION",
    "Check",
    "Clearance",
    "Decision",
    "Finding",
    "Host",
    "Metric",
    "RunError",
    "RunErrorName",
    "RunRecord",
    "RunbookRef",
    "Severity",
    "Status",
    "Trigger",
    "Waiver",
    "exit_code",
    "iso",
    "parse_time",
    "tally",
    "worst",
]
