"""Responsible for reading the evidence once for the maintenance review: every ledger line in
order, each run's run.json read once, kept as the runs (`RunEvent`), the ledger entries (for
coverage) and the decisions people put on record. Every question of the review is answered from
what this pass returns, never by reading the evidence again."""

from __future__ import annotations

from dataclasses import dataclass

from upkeep.evidence import DecisionEntry, EvidenceStore, LedgerEntry
from upkeep.evidence import ledger as ledger_lines
from upkeep.findings import RunEvent, run_event
from upkeep.records import Decision


@dataclass(frozen=True)
class EvidenceRead:
    """All the evidence, in ledger order."""

    events: tuple[RunEvent | Decision, ...]  # runs and decisions as they happened
    entries: tuple[LedgerEntry, ...]  # every run's ledger line, for coverage
    decisions: tuple[DecisionEntry, ...]

    @property
    def runs(self) -> list[RunEvent]:
        return [event for event in self.events if isinstance(event, RunEvent)]


def read_evidence(store: EvidenceStore) -> EvidenceRead:
    """The evidence of `store`, read once; a run whose run.json cannot be read is left out of
    `events` (`upkeep verify` names it) but its ledger line still counts for coverage."""
    events: list[RunEvent | Decision] = []
    entries: list[LedgerEntry] = []
    decisions: list[DecisionEntry] = []
    for line in ledger_lines.read_lines(store.ledger_path):
        entry = line.entry
        if isinstance(entry, DecisionEntry):
            decisions.append(entry)
            events.append(entry.decision)
        elif isinstance(entry, LedgerEntry):
            entries.append(entry)
            record = store.read_record(entry.path)
            if record is not None and record.run_id == entry.run_id:
                events.append(run_event(entry.status, record))
    return EvidenceRead(tuple(events), tuple(entries), tuple(decisions))
