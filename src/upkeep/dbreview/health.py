"""Responsible for running a database's health scripts, one check each: the header says what is
graded (the rows returned, the largest `value`, or its growth since the previous review) and its
limits; a script whose header or query fails, or that runs past the statement timeout, fails its
own check, naming the file and why, and the others still run. A user's own script runs with the
database's search path, a shipped one with the catalog's only. The result's `note` column and
its first rows are what the check's message shows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from upkeep.dbreview.interface import QueryError, QueryTimeout, ReviewConnection
from upkeep.dbreview.scripts import HeaderError, HealthScript, ScriptHeader, parse_header
from upkeep.records import Status
from upkeep.units import counted

__all__ = ["SHOWN_ROWS", "HealthOutcome", "run_health_scripts"]

SHOWN_ROWS = 3  # rows of a script's result quoted in its check's message
_CELL_CHARS = 80


@dataclass(frozen=True)
class HealthOutcome:
    """One script's check: graded, or failed because it could not be run."""

    script: HealthScript
    status: Status
    message: str
    header: ScriptHeader | None = None
    value: float | None = None
    measured: float | None = None  # what `growth` compares with next time
    timed_out: bool = False

    @property
    def limit(self) -> float | None:
        return self.header.limit if self.header else None

    @property
    def unit(self) -> str:
        return self.header.unit if self.header else ""


def run_health_scripts(
    connection: ReviewConnection, scripts: list[HealthScript], previous: dict[str, float]
) -> list[HealthOutcome]:
    """Run every script that is a check; `previous` holds each growth script's last value."""
    outcomes = []
    for script in scripts:
        try:
            header = parse_header(script.header_lines, str(script.path))
        except HeaderError as exc:
            outcomes.append(HealthOutcome(script, Status.FAIL, f"cannot be run: {exc}"))
            continue
        if header is None:
            continue
        outcomes.append(_run_one(connection, script, header, previous.get(script.name)))
    return outcomes


def _run_one(
    connection: ReviewConnection,
    script: HealthScript,
    header: ScriptHeader,
    previous: float | None,
) -> HealthOutcome:
    try:
        rows = connection.rows(script.query, database_search_path=not script.shipped)
    except QueryTimeout as exc:
        return HealthOutcome(
            script, Status.FAIL, f"{script.path.name}: {exc}", header, timed_out=True
        )
    except QueryError as exc:
        return HealthOutcome(script, Status.FAIL, f"{script.path.name} failed: {exc}", header)
    measured = None
    if header.value == "rows":
        value = float(len(rows))
    else:
        values = [row["value"] for row in rows if row.get("value") is not None]
        try:
            measured = float(max(values)) if values else 0.0
        except (TypeError, ValueError):
            return HealthOutcome(
                script,
                Status.FAIL,
                f"{script.path.name}: its `value` column is not a number",
                header,
            )
        value = measured if header.value == "value" else _growth(measured, previous)
    status = header.grade(value)
    return HealthOutcome(
        script, status, _message(header, rows, measured, previous), header, value, measured
    )


def _growth(measured: float, previous: float | None) -> float:
    if previous is None or previous <= 0:
        return 0.0
    return round((measured - previous) / previous * 100, 2)


def _message(
    header: ScriptHeader, rows: list[dict[str, Any]], measured: float | None, previous: float | None
) -> str:
    parts = [header.check]
    notes = [str(row["note"]) for row in rows if row.get("note")]
    if header.value == "growth":
        parts.append(
            f"now {measured:g}, previously {previous:g}"
            if previous is not None and measured is not None
            else f"now {measured:g}; first measurement, nothing to compare with yet"
        )
    elif header.value == "rows":
        parts.append(counted(len(rows), "row"))
    shown = [_row(row) for row in rows[:SHOWN_ROWS] if set(row) - {"note", "value"}]
    if shown:
        more = f" (and {len(rows) - SHOWN_ROWS} more)" if len(rows) > SHOWN_ROWS else ""
        parts.append("; ".join(shown) + more)
    parts.extend(dict.fromkeys(notes))
    return ": ".join(parts[:2]) + "".join(f"; {part}" for part in parts[2:])


def _row(row: dict[str, Any]) -> str:
    return ", ".join(
        f"{name}={str(value)[:_CELL_CHARS]}"
        for name, value in row.items()
        if name not in ("note", "value")
    )
