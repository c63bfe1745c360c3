"""Responsible for `ledger.jsonl`: the one reader of its lines (strict for whoever must trust
them, tolerant for whoever must show everything), and the append of a line chained to the last.

Each line is the canonical JSON of one event, chained to the line before by its hash: a published
run (its sequence number, run id, folder, runbook, status, times, the sha256 of its run.json and,
for a dry run only, `"dry_run": true`; for a run with a waived check only, `"waived": true`) or,
with `"kind": "record"`, a person's decision (`upkeep.records.Decision`) held whole in the line.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from upkeep.errors import EvidenceError
from upkeep.evidence.layout import GENESIS, LEDGER, canonical, is_hex64, line_hash, read_json
from upkeep.records import Decision, RunRecord, Status, iso

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LedgerEntry:
    """One line of ledger.jsonl."""

    seq: int
    run_id: str
    path: str
    runbook: str
    status: Status
    started_at: str
    run_json_sha256: str
    prev: str
    hash: str
    as_of: str  # started_at (lines written while `run --due --at` ran: the time it named)
    # Optional: only a dry run's line holds it, so lines written before it existed stay valid.
    dry_run: bool = False
    waived: bool = False  # a check's warn or fail was waived by the risk register

    @classmethod
    def from_json(cls, value: Any) -> LedgerEntry:
        """Build an entry from a parsed line; ValueError names every missing or malformed field."""
        if not isinstance(value, dict):
            raise ValueError("not a JSON object")
        bad = [name for name, ok in _FIELD_CHECKS.items() if not ok(value.get(name))]
        bad += [name for name in _OPTIONAL_FLAGS if not isinstance(value.get(name, False), bool)]
        if bad:
            raise ValueError(f"missing or malformed field(s): {', '.join(bad)}")
        fields = {name: value[name] for name in _FIELD_CHECKS}
        flags = {name: value.get(name, False) for name in _OPTIONAL_FLAGS}
        return cls(**{**fields, **flags, "status": Status(fields["status"])})

    def to_json(self) -> dict[str, Any]:
        """The entry as the JSON object its ledger line holds (an optional flag only when set)."""
        value = {**asdict(self), "status": self.status.value}
        return {k: v for k, v in value.items() if k not in _OPTIONAL_FLAGS or v}


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def _is_status(value: Any) -> bool:
    return value in Status.__members__.values()


_FIELD_CHECKS: dict[str, Callable[[Any], bool]] = {
    "seq": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
    "run_id": _is_text,
    "path": _is_text,
    "runbook": _is_text,
    "status": _is_status,
    "started_at": _is_text,
    "run_json_sha256": is_hex64,
    "prev": is_hex64,
    "hash": is_hex64,
    "as_of": _is_text,
}
_OPTIONAL_FLAGS = ("dry_run", "waived")  # true or false when present; absent is false


RECORD_KIND = "record"  # the `kind` of a decision's line; a run's line has no `kind`


@dataclass(frozen=True)
class DecisionEntry:
    """One line of ledger.jsonl that holds a person's decision."""

    seq: int
    record_id: str
    decision: Decision
    prev: str
    hash: str

    @classmethod
    def from_json(cls, value: Any) -> DecisionEntry:
        """Build an entry from a parsed line; ValueError says what is missing or malformed."""
        if not isinstance(value, dict) or value.get("kind") != RECORD_KIND:
            raise ValueError("not a decision record")
        bad = [name for name in ("seq", "prev", "hash") if not _FIELD_CHECKS[name](value.get(name))]
        if not _is_text(value.get("record_id")):
            bad.append("record_id")
        if bad:
            raise ValueError(f"missing or malformed field(s): {', '.join(bad)}")
        decision = Decision.from_json(value.get("decision"))
        return cls(value["seq"], value["record_id"], decision, value["prev"], value["hash"])


@dataclass(frozen=True)
class LedgerLine:
    """One line as read: its number, its bytes, and the entry it holds or why it holds none."""

    number: int
    raw: bytes  # without the newline
    complete: bool  # False for a last line cut short (a writer killed mid-write)
    value: Any = None  # the parsed JSON, when it parses
    entry: LedgerEntry | DecisionEntry | None = None
    fault: str | None = None  # why `entry` is None


def recorded_paths(path: Path) -> tuple[set[str], bool]:
    """The run folders the ledger at `path` records, and whether any complete line is damaged."""
    recorded: set[str] = set()
    damaged = False
    for line in read_lines(path):
        if isinstance(line.entry, LedgerEntry):
            recorded.add(line.entry.path)
        elif line.entry is None and line.complete:
            damaged = True
    return recorded, damaged


def read_lines(path: Path, offset: int = 0) -> Iterator[LedgerLine]:
    """Every line of the ledger at `path`, parsed, streamed; nothing when there is no ledger.
    From `offset` (the byte just past a line already read) on, when given: numbered from 1
    there."""
    if not path.exists():
        return
    with os.fdopen(_open_regular(path, os.O_RDONLY), "rb") as handle:
        handle.seek(offset)
        for number, raw in enumerate(handle, 1):
            complete = raw.endswith(b"\n")
            raw = raw[:-1] if complete else raw
            yield _parse(number, raw, complete)


def _parse(number: int, raw: bytes, complete: bool) -> LedgerLine:
    if not complete:
        return LedgerLine(number, raw, False, fault="incomplete last line")
    try:
        value = read_json(raw)
        if isinstance(value, dict) and value.get("kind") == RECORD_KIND:
            return LedgerLine(number, raw, True, value, DecisionEntry.from_json(value))
        return LedgerLine(number, raw, True, value, LedgerEntry.from_json(value))
    except ValueError as err:
        return LedgerLine(number, raw, True, fault=str(err))


def entries(path: Path, *, strict: bool = True) -> Iterator[LedgerEntry]:
    """The ledger's runs in order. A torn last line is skipped (the next append cuts it);
    a damaged line raises EvidenceError when `strict`, and is passed over otherwise (the site
    shows every run it can: `verify` names the damage)."""
    for entry in _every_entry(path, strict):
        if isinstance(entry, LedgerEntry):
            yield entry


def decisions(path: Path, *, strict: bool = True) -> Iterator[DecisionEntry]:
    """The ledger's decisions in order, read as `entries` reads runs."""
    for entry in _every_entry(path, strict):
        if isinstance(entry, DecisionEntry):
            yield entry


def _every_entry(path: Path, strict: bool) -> Iterator[LedgerEntry | DecisionEntry]:
    for line in read_lines(path):
        if line.entry is not None:
            yield line.entry
        elif line.complete and strict:
            raise EvidenceError(
                f"{path} line {line.number} is damaged ({line.fault}); "
                "run `upkeep verify` to see what is wrong"
            )


def fields_for(record: RunRecord, relpath: str, run_json_sha256: str) -> dict[str, Any]:
    """What the ledger line of a run says, before it is chained: what the planner reads without
    opening run.json (a dry run does not count as its period's run; a waived check is shown)."""
    fields: dict[str, Any] = {
        "run_id": record.run_id,
        "path": relpath,
        "runbook": record.runbook.name,
        "status": record.status.value,
        "started_at": iso(record.started_at),
        "as_of": iso(record.as_of),
        "run_json_sha256": run_json_sha256,
    }
    if record.dry_run:
        fields["dry_run"] = True
    if any(check.waived for check in record.checks):
        fields["waived"] = True  # `upkeep list` shows it without opening run.json
    return fields


def fields_for_decision(record_id: str, decision: Decision) -> dict[str, Any]:
    """What the ledger line of a decision says, before it is chained."""
    return {"kind": RECORD_KIND, "record_id": record_id, "decision": decision.to_json()}


def append(
    path: Path, fields: dict[str, Any]
) -> tuple[LedgerEntry | DecisionEntry, tuple[str, ...]]:
    """Append one line holding `fields`, chained to the last; the caller holds the ledger lock.
    Returns the new entry and a note for any repair made first (a torn last line cut)."""
    fd = _open_regular(path, os.O_RDWR | os.O_APPEND | os.O_CREAT)
    try:
        notes = _cut_torn_tail(fd)
        seq, prev = _chain_point(fd)
        line = {**fields, "seq": seq + 1, "prev": prev}
        line["hash"] = line_hash(line)
        _write_all(fd, canonical(line) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    return _parse(0, canonical(line), True).entry, notes  # type: ignore[return-value]


def _open_regular(path: Path, flags: int) -> int:
    """A descriptor of the ledger file; OSError when it is not a regular file (a FIFO put in
    its place would otherwise make every read and publish wait for a writer, for good)."""
    fd = os.open(path, flags | os.O_NONBLOCK | os.O_CLOEXEC, 0o644)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "not a regular file; expected the ledger", str(path))
    os.set_blocking(fd, True)
    return fd


def _write_all(fd: int, data: bytes) -> None:
    # One write() for a regular file; the loop only matters if the kernel writes short.
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _last_newline(fd: int, end: int) -> int:
    """Offset of the last b"\\n" before `end`, or -1."""
    while end > 0:
        start = max(0, end - 65536)
        at = os.pread(fd, end - start, start).rfind(b"\n")
        if at >= 0:
            return start + at
        end = start
    return -1


def _cut_torn_tail(fd: int) -> tuple[str, ...]:
    """Truncate a last line without its newline (a writer killed mid-write)."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return ()
    keep = _last_newline(fd, size) + 1
    if _whole_and_chained(fd, keep, size):
        # Only its newline is missing (an editor, a copy): the line is a run's record, keep it.
        _write_all(fd, b"\n")
        os.fsync(fd)
        note = f"{LEDGER}: its last line, whole and chained, had lost its newline: added it back"
        log.warning(note)
        return (note,)
    os.ftruncate(fd, keep)
    os.fsync(fd)
    note = (
        f"{LEDGER}: removed an incomplete last line ({size - keep} bytes) left by a publish "
        "that was interrupted mid-write"
    )
    log.warning(note)
    return (note,)


def _whole_and_chained(fd: int, start: int, end: int) -> bool:
    """Whether the bytes [start, end) are a whole ledger line, hashed right and chained to the
    line before (or first, after none)."""
    line = _parse(0, os.pread(fd, end - start, start), True)
    if line.entry is None or line.value is None or line.value.get("hash") != line_hash(line.value):
        return False
    if start == 0:
        return line.entry.seq == 1 and line.entry.prev == GENESIS
    before = _last_newline(fd, start - 1) + 1
    previous = _parse(0, os.pread(fd, start - 1 - before, before), True)
    return (
        previous.entry is not None
        and line.entry.prev == previous.entry.hash
        and line.entry.seq == previous.entry.seq + 1
    )


def _chain_point(fd: int) -> tuple[int, str]:
    """(seq, hash) of the last line, or (0, GENESIS) for an empty ledger."""
    size = os.fstat(fd).st_size
    if size == 0:
        return 0, GENESIS
    start = _last_newline(fd, size - 1) + 1
    line = _parse(0, os.pread(fd, size - 1 - start, start), True)
    if line.entry is None:
        raise EvidenceError(
            f"the last line of {LEDGER} is damaged ({line.fault}), so no line can be chained to "
            "it; run `upkeep verify` to see what is wrong"
        )
    return line.entry.seq, line.entry.hash
