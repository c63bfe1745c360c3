"""Responsible for the ledger lines `upkeep list` needs, without reading years of ledger each time:
each runbook's last run, its last run that was not a dry run, and its runs since the start of its
current period, kept in a cache in the state folder and brought up to date from the lines
appended since. Given to `plan.states`, they give exactly what the whole ledger gives. The whole
ledger is read again whenever the cache cannot answer truthfully: the ledger no longer holds,
where the cache stopped, the line it stopped after (rewritten, restored, another ledger); a
runbook is new to the cache or its cadence changed; the moment asked about lies before a period
the cache kept, or (in the past) before a run it kept as the last. The cache is
derived and local: one that cannot be read is rebuilt, one that cannot be written is skipped.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from upkeep import schedule
from upkeep.errors import EvidenceError
from upkeep.evidence.layout import read_json
from upkeep.evidence.ledger import LedgerEntry, read_lines
from upkeep.records import Status, parse_time

CACHE_FILE = "recent-runs.json"
_VERSION = 2  # 2: each runbook's last run that was not a dry run is kept too


@dataclass
class _Recent:
    """What the cache holds: how far into the ledger it read (`size` bytes, the last of them
    the line `tail`), and per runbook its cadence then, the start of the period it keeps runs
    from, those runs and its last run (ledger lines as JSON, skipped runs left out)."""

    size: int = 0
    tail: str = ""
    cadences: dict[str, str] = field(default_factory=dict)
    horizons: dict[str, str] = field(default_factory=dict)
    runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    last: dict[str, dict[str, Any]] = field(default_factory=dict)
    last_real: dict[str, dict[str, Any]] = field(default_factory=dict)  # last not a dry run


def recent_entries(
    ledger: Path, state_dir: Path, cadences: Mapping[str, str], at: datetime
) -> list[LedgerEntry]:
    """The ledger's runs that `plan.states` needs at `at` for the runbooks of `cadences` (name
    to cadence): each one's last run, its last run that was not a dry run, and every run that
    started in its period at `at` or later. EvidenceError for a damaged line, as the whole
    ledger's reader says it."""
    cache_path = state_dir / CACHE_FILE
    recent = _load(cache_path)
    size = ledger.stat().st_size if ledger.exists() else 0
    if recent is None or not _still_answers(recent, ledger, size, cadences, at):
        if recent is not None and _before_horizons(recent, cadences, at):
            # Keep the newer cache; read what was so at `at`.
            return _entries(_read(_Recent(), ledger, cadences, at, until=schedule.seen_until(at)))
        recent = _read(_Recent(cadences=dict(cadences)), ledger, cadences, at)
        _save(cache_path, recent)
    elif size > recent.size:
        recent = _read(recent, ledger, cadences, at)
        _save(cache_path, recent)
    until = schedule.seen_until(at)
    if until is not None and any(_at(value) > until for value in recent.last.values()):
        # `list --at` a moment before a kept run: what was last then is not kept.
        return _entries(_read(_Recent(), ledger, cadences, at, until=until))
    return _entries(recent)


def _read(
    recent: _Recent,
    ledger: Path,
    cadences: Mapping[str, str],
    at: datetime,
    until: datetime | None = None,
) -> _Recent:
    """`recent` with the ledger's lines after `recent.size` added (those of runs started up to
    `until`, when given), and each runbook's runs before the start of its period at `at`
    dropped."""
    offset = start_offset = recent.size
    for line in read_lines(ledger, offset):
        if not line.complete:
            break  # a torn last line: the next append cuts it
        if line.entry is None:
            where = f"line {line.number}" if start_offset == 0 else f"the line at byte {offset}"
            raise EvidenceError(
                f"{ledger} {where} is damaged ({line.fault}); "
                "run `upkeep verify` to see what is wrong"
            )
        offset += len(line.raw) + 1
        recent.size, recent.tail = offset, line.raw.decode("utf-8")
        ran = isinstance(line.entry, LedgerEntry) and line.entry.status is not Status.SKIPPED
        if ran and (until is None or _at(line.value) <= until):
            _add(recent, line.value)
    for name, cadence in cadences.items():
        recent.cadences[name] = cadence
        start = schedule.previous_time(cadence, at)
        if name in recent.horizons and parse_time(recent.horizons[name]) >= start:
            continue
        recent.horizons[name] = start.isoformat()
        recent.runs[name] = [r for r in recent.runs.get(name, []) if _at(r) >= start]
    for name in list(recent.runs):
        if name not in recent.horizons:
            del recent.runs[name]  # not a runbook now: only its last run is kept
    return recent


def _add(recent: _Recent, value: dict[str, Any]) -> None:
    name, at = value["runbook"], _at(value)
    last = recent.last.get(name)
    if last is None or (_at(last), last["seq"]) <= (at, value["seq"]):
        recent.last[name] = value
    real = recent.last_real.get(name)
    if not value.get("dry_run") and (
        real is None or (_at(real), real["seq"]) <= (at, value["seq"])
    ):
        recent.last_real[name] = value
    horizon = recent.horizons.get(name)
    if horizon is None or at >= parse_time(horizon):
        recent.runs.setdefault(name, []).append(value)


def _at(value: Mapping[str, Any]) -> datetime:
    return parse_time(value["started_at"])


def _still_answers(
    recent: _Recent, ledger: Path, size: int, cadences: Mapping[str, str], at: datetime
) -> bool:
    """Whether the cache, with the lines appended since, gives what the whole ledger gives."""
    if size < recent.size or any(recent.cadences.get(n) != c for n, c in cadences.items()):
        return False
    if _before_horizons(recent, cadences, at):
        return False
    if recent.size == 0:
        return True
    tail = recent.tail.encode("utf-8") + b"\n"
    try:
        with open(ledger, "rb") as handle:
            handle.seek(recent.size - len(tail))
            return handle.read(len(tail)) == tail
    except (OSError, ValueError):
        return False


def _before_horizons(recent: _Recent, cadences: Mapping[str, str], at: datetime) -> bool:
    """Whether some runbook's period at `at` starts before the runs the cache kept for it."""
    return any(
        name not in recent.horizons
        or schedule.previous_time(cadence, at) < parse_time(recent.horizons[name])
        for name, cadence in cadences.items()
    )


def _entries(recent: _Recent) -> list[LedgerEntry]:
    """The kept lines as ledger entries, in ledger order, each once."""
    by_seq = {value["seq"]: value for runs in recent.runs.values() for value in runs}
    by_seq.update((value["seq"], value) for value in recent.last.values())
    by_seq.update((value["seq"], value) for value in recent.last_real.values())
    return [LedgerEntry.from_json(by_seq[seq]) for seq in sorted(by_seq)]


def _load(path: Path) -> _Recent | None:
    """The cache, or None when there is none or it is not one this version wrote whole."""
    try:
        value = read_json(path.read_bytes())
        if value.pop("version") != _VERSION:
            return None
        recent = _Recent(**value)
        if not (isinstance(recent.size, int) and isinstance(recent.tail, str)):
            return None
        for name, horizon in recent.horizons.items():
            parse_time(horizon)
            schedule.previous_time(recent.cadences[name], parse_time(horizon))
        _entries(recent)  # every kept line still reads as a ledger entry
        return recent
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def _save(path: Path, recent: _Recent) -> None:
    """Replace the cache file; nothing when the state folder cannot take it (a read-only
    checkout): the next `list` reads the whole ledger again. Not fsynced: a cache torn by a
    crash fails to load and is rebuilt."""
    value = {"version": _VERSION, **recent.__dict__}
    with suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(value, handle, separators=(",", ":"))
            os.replace(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)
