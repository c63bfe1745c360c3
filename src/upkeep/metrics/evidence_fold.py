"""Responsible for what the metrics need from the evidence, per runbook: its last run, its last
success, its last run that executed, and its open findings, folded from the ledger line by line
and kept as a checkpoint, so that the next fold reads only the lines appended since. The
checkpoint names the ledger line it was taken at (number, hash, byte offset): when that line is
not where it says (another ledger, a ledger rewritten or cut) or the checkpoint is missing or
unreadable, the fold starts again from the first line.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from upkeep.atomic import file_mode
from upkeep.evidence import DecisionEntry, EvidenceStore, LedgerEntry
from upkeep.evidence import ledger as ledger_lines
from upkeep.evidence.layout import read_json
from upkeep.findings import ACKNOWLEDGE, FindingState, RunEvent, follow, run_event
from upkeep.records import Decision, RunRecord, Severity, Status, iso, parse_time

__all__ = ["SUCCESS", "EvidenceFold", "RunbookRuns", "fold_evidence", "last_record"]

CHECKPOINT_FORMAT = 1
# A success is a complete run whose worst check warned at most; a dry run tried nothing for real.
SUCCESS = frozenset({Status.OK, Status.WARN})


@dataclass
class RunbookRuns:
    """One runbook's runs as the metrics see them (ledger entries: run.json is read only for
    the last executed run, when the textfile is written)."""

    last_run: LedgerEntry | None = None
    last_success: LedgerEntry | None = None
    last_executed: LedgerEntry | None = None  # the last run that was not skipped

    def observe(self, entry: LedgerEntry) -> None:
        self.last_run = _later(self.last_run, entry)
        if entry.status in SUCCESS and not entry.dry_run:
            self.last_success = _later(self.last_success, entry)
        if entry.status is not Status.SKIPPED:
            self.last_executed = _later(self.last_executed, entry)


@dataclass
class EvidenceFold:
    """The fold of the ledger up to line `seq` (whose hash is `hash`, ending at byte `offset`)."""

    seq: int = 0
    hash: str = ""
    line_start: int = 0
    offset: int = 0
    runbooks: dict[str, RunbookRuns] = field(default_factory=dict)
    # The open findings as the checkpoint holds them (`_finding_json`): only those a new event
    # may change are turned into FindingState, so a write costs the same with 10 open or 1,000.
    open_findings: list[dict[str, Any]] = field(default_factory=list)

    def open_states(self) -> list[FindingState]:
        """Every open finding."""
        return [_finding(raw) for raw in self.open_findings]

    def open_by_severity(self, runbook: str) -> dict[Severity, int]:
        """How many findings of `runbook` are open, per severity (every severity present)."""
        counts = dict.fromkeys(Severity, 0)
        for raw in self.open_findings:
            if raw["runbook"] == runbook:
                counts[Severity(raw["severity"])] += 1
        return counts


def fold_evidence(store: EvidenceStore, checkpoint: Path | None) -> EvidenceFold:
    """The fold of `store`'s ledger, taken up from `checkpoint` when it still matches the
    ledger; the checkpoint is then brought up to date (None: no checkpoint, fold it all)."""
    fold = _read_checkpoint(checkpoint, store.ledger_path) if checkpoint else None
    try:
        return _fold_on(store, fold or EvidenceFold(), checkpoint)
    except _DamagedCheckpoint:
        return _fold_on(store, EvidenceFold(), checkpoint)


class _DamagedCheckpoint(Exception):
    """An open finding of the checkpoint cannot be read: fold from the first line instead."""


def _fold_on(store: EvidenceStore, fold: EvidenceFold, checkpoint: Path | None) -> EvidenceFold:
    known_seq = fold.seq
    events: list[Any] = []
    for line, start in _lines_from(store.ledger_path, fold.offset):
        entry = line.entry
        if entry is None:
            if not line.complete:
                break  # a torn last line: the next publish cuts it
            continue  # a damaged line: `upkeep verify` names it; the metrics pass it over
        if isinstance(entry, DecisionEntry):
            events.append(entry.decision)
        else:
            fold.runbooks.setdefault(entry.runbook, RunbookRuns()).observe(entry)
            record = store.read_record(entry.path)
            if record is not None and record.run_id == entry.run_id:
                events.append(run_event(entry.status, record))
        fold.seq, fold.hash = entry.seq, entry.hash
        fold.line_start, fold.offset = start, start + len(line.raw) + 1
    if events:
        fold.open_findings = _follow_open(fold.open_findings, events)
    if checkpoint is not None and (fold.seq != known_seq or not checkpoint.exists()):
        _write_checkpoint(checkpoint, store.ledger_path, fold)
    return fold


def _follow_open(open_findings: list[dict[str, Any]], events: list[Any]) -> list[dict[str, Any]]:
    """The open findings after `events`: a run changes only its own runbook's findings, an
    acknowledgement only those with its key; the others are kept as they are."""
    runbooks = {event.runbook for event in events if isinstance(event, RunEvent)}
    keys = {e.subject for e in events if isinstance(e, Decision) and e.type == ACKNOWLEDGE}
    live, kept = [], []
    for raw in open_findings:
        (live if raw["runbook"] in runbooks or raw["key"] in keys else kept).append(raw)
    try:
        known = [_finding(raw) for raw in live]
    except (ValueError, KeyError, TypeError) as exc:
        raise _DamagedCheckpoint(str(exc)) from None
    followed = follow(events, known)
    return kept + [_finding_json(state) for state in followed if state.open]


def last_record(store: EvidenceStore, entry: LedgerEntry | None) -> RunRecord | None:
    """The run record of `entry`, or None when there is none or it cannot be read."""
    if entry is None:
        return None
    record = store.read_record(entry.path)
    return record if record is not None and record.run_id == entry.run_id else None


def _lines_from(path: Path, offset: int) -> Iterator[tuple[ledger_lines.LedgerLine, int]]:
    start = offset
    for line in ledger_lines.read_lines(path, offset):
        yield line, start
        start += len(line.raw) + 1


def _later(known: LedgerEntry | None, entry: LedgerEntry) -> LedgerEntry:
    """The later of two runs of one runbook: by start time, then by ledger order."""
    if known is None:
        return entry
    return entry if (_started(entry), entry.seq) >= (_started(known), known.seq) else known


def _started(entry: LedgerEntry) -> datetime:
    try:
        return parse_time(entry.started_at).astimezone(UTC)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)


# --- the checkpoint ------------------------------------------------------------------------


def _read_checkpoint(path: Path, ledger: Path) -> EvidenceFold | None:
    """The fold the checkpoint holds, when the ledger line it names is still there as it was."""
    try:
        value = read_json(path.read_bytes())
        if value.get("format") != CHECKPOINT_FORMAT or value.get("ledger") != str(ledger):
            return None
        fold = EvidenceFold(
            seq=value["seq"],
            hash=value["hash"],
            line_start=value["line_start"],
            offset=value["offset"],
            runbooks={
                name: RunbookRuns(*(_entry(runs.get(key)) for key in _RUNS_KEYS))
                for name, runs in value["runbooks"].items()
            },
            open_findings=[_checked_finding(item) for item in value["open_findings"]],
        )
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
    return fold if _line_matches(ledger, fold) else None


def _line_matches(ledger: Path, fold: EvidenceFold) -> bool:
    if fold.seq == 0:
        return fold.offset == 0
    try:
        with open(ledger, "rb") as handle:
            handle.seek(fold.line_start)
            raw = handle.read(fold.offset - fold.line_start)
        value = read_json(raw)
    except (OSError, ValueError):
        return False
    return (
        raw.endswith(b"\n")
        and isinstance(value, dict)
        and value.get("seq") == fold.seq
        and value.get("hash") == fold.hash
    )


def _write_checkpoint(path: Path, ledger: Path, fold: EvidenceFold) -> None:
    value = {
        "format": CHECKPOINT_FORMAT,
        "ledger": str(ledger),
        "seq": fold.seq,
        "hash": fold.hash,
        "line_start": fold.line_start,
        "offset": fold.offset,
        "runbooks": {
            name: {
                key: getattr(runs, key).to_json()
                for key in _RUNS_KEYS
                if getattr(runs, key) is not None
            }
            for name, runs in sorted(fold.runbooks.items())
        },
        "open_findings": fold.open_findings,
    }
    _replace_unsynced(path, json.dumps(value, separators=(",", ":")).encode())


def _replace_unsynced(path: Path, data: bytes) -> None:
    """Replace `path` whole (a temporary file renamed over it), without fsync: the checkpoint
    only saves work, so a power cut that loses or empties it costs one fold from the start
    (a fold that cannot read it starts there), while two fsyncs after every run cost more than
    the rest of the textfile together."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), file_mode())
            handle.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


_RUNS_KEYS = ("last_run", "last_success", "last_executed")


def _entry(value: Any) -> LedgerEntry | None:
    return None if value is None else LedgerEntry.from_json(value)


def _finding_json(state: FindingState) -> dict[str, Any]:
    return {
        "runbook": state.runbook,
        "key": state.key,
        "severity": state.severity.value,
        "message": state.message,
        "sticky": state.sticky,
        "first_seen": iso(state.first_seen),
        "last_seen": iso(state.last_seen),
        "last_run_id": state.last_run_id,
        "times_seen": state.times_seen,
    }


def _checked_finding(value: Any) -> dict[str, Any]:
    """A checkpoint's open finding, checked for what is read of it without parsing it whole
    (the rest is checked when a new event parses it); ValueError otherwise."""
    if not (
        isinstance(value, dict)
        and isinstance(value.get("runbook"), str)
        and isinstance(value.get("key"), str)
        and value.get("severity") in _SEVERITIES
    ):
        raise ValueError(f"not an open finding: {value!r}")
    return value


_SEVERITIES = frozenset(severity.value for severity in Severity)


def _finding(value: dict[str, Any]) -> FindingState:
    return FindingState(
        runbook=str(value["runbook"]),
        key=str(value["key"]),
        severity=Severity.parse(value["severity"]),
        message=str(value["message"]),
        sticky=value["sticky"] is True,
        first_seen=parse_time(value["first_seen"]),
        last_seen=parse_time(value["last_seen"]),
        last_run_id=str(value["last_run_id"]),
        times_seen=int(value["times_seen"]),
    )
