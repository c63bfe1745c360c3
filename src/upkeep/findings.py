"""Responsible for the life of a finding across runs, read from the ledger in the order things
happened: a fingerprint is open from the first run that reports it until a later complete run
of its runbook no longer reports it (not for a sticky finding), a run clears it, or a person
acknowledges it; reported again, it opens anew. The CLI (`upkeep findings`, `upkeep ack`) and the
dashboard both read open findings from here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from upkeep.evidence import DecisionEntry, EvidenceStore, LedgerEntry
from upkeep.evidence import ledger as ledger_lines
from upkeep.records import Decision, RunRecord, Severity, Status

ACKNOWLEDGE = "acknowledge"  # the decision type that closes a finding
# Runs that looked at everything they report on: only these close a finding by not reporting it
# (and not a dry run, which did not try everything it reports on).
COMPLETE = frozenset({Status.OK, Status.WARN, Status.FAIL})


class ClosedBy(StrEnum):
    """How a finding stopped being open."""

    ABSENT = "absent"  # a later complete run of its runbook did not report it
    CLEARED = "cleared"  # a run said it no longer holds
    ACKNOWLEDGED = "acknowledged"  # a person decided it needs nothing more


@dataclass(frozen=True)
class Closure:
    how: ClosedBy
    at: datetime
    by: str  # the run id, or the person who acknowledged it
    reason: str = ""


@dataclass(frozen=True)
class FindingState:
    """One fingerprint of one runbook: open since `first_seen`, as last reported, or closed."""

    runbook: str
    key: str
    severity: Severity
    message: str  # as the last run that reported it said
    sticky: bool
    first_seen: datetime
    last_seen: datetime
    last_run_id: str
    times_seen: int
    closed: Closure | None = None

    @property
    def open(self) -> bool:
        return self.closed is None


@dataclass(frozen=True)
class RunEvent:
    """What one published run said about findings."""

    runbook: str
    run_id: str
    at: datetime
    complete: bool  # it looked at everything it reports on (see COMPLETE)
    record: RunRecord


def follow(
    events: Iterable[RunEvent | Decision], known: Iterable[FindingState] = ()
) -> list[FindingState]:
    """Every finding's state after `events`, given in the order they happened (ledger order),
    open ones first, the most severe first; `known` are the states before the first event (a
    fold taken up where an earlier one stopped: only its open findings matter)."""
    states: dict[tuple[str, str], FindingState] = {(s.runbook, s.key): s for s in known}
    for event in events:
        if isinstance(event, Decision):
            if event.type == ACKNOWLEDGE:
                _acknowledge(states, event)
        else:
            _observe(states, event)
    return sorted(
        states.values(),
        key=lambda s: (not s.open, -s.severity.rank, s.runbook, s.key),
    )


def _observe(states: dict[tuple[str, str], FindingState], run: RunEvent) -> None:
    reported = {finding.key: finding for finding in run.record.findings}
    for key, finding in reported.items():
        known = states.get((run.runbook, key))
        again = known is not None and known.open
        states[(run.runbook, key)] = FindingState(
            runbook=run.runbook,
            key=key,
            severity=finding.severity,
            message=finding.message,
            sticky=finding.sticky,
            first_seen=known.first_seen if again else run.at,  # type: ignore[union-attr]
            last_seen=run.at,
            last_run_id=run.run_id,
            times_seen=known.times_seen + 1 if again else 1,  # type: ignore[union-attr]
        )
    cleared = {clearance.key: clearance for clearance in run.record.cleared}
    for (runbook, key), state in list(states.items()):
        if runbook != run.runbook or not state.open or key in reported:
            continue
        if key in cleared:
            closure = Closure(ClosedBy.CLEARED, run.at, run.run_id, cleared[key].message)
        elif run.complete and not state.sticky:
            closure = Closure(ClosedBy.ABSENT, run.at, run.run_id)
        else:
            continue
        states[(runbook, key)] = replace(state, closed=closure)


def _acknowledge(states: dict[tuple[str, str], FindingState], decision: Decision) -> None:
    closure = Closure(ClosedBy.ACKNOWLEDGED, decision.at, decision.author, decision.reason)
    for (runbook, key), state in list(states.items()):
        if key == decision.subject and state.open:
            states[(runbook, key)] = replace(state, closed=closure)


def events_in(store: EvidenceStore) -> Iterator[RunEvent | Decision]:
    """The runs and decisions of `store`'s ledger in the order they happened; a run whose
    run.json cannot be read is passed over (`upkeep verify` names it)."""
    for line in ledger_lines.read_lines(store.ledger_path):
        entry = line.entry
        if isinstance(entry, DecisionEntry):
            yield entry.decision
        elif isinstance(entry, LedgerEntry):
            record = store.read_record(entry.path)
            if record is not None and record.run_id == entry.run_id:
                yield run_event(entry.status, record)


def run_event(status: Status, record: RunRecord) -> RunEvent:
    """A run as an event; `status` is the ledger's word for it."""
    return RunEvent(
        runbook=record.runbook.name,
        run_id=record.run_id,
        at=record.started_at,
        complete=status in COMPLETE and not record.dry_run,
        record=record,
    )
