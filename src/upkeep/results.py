"""Responsible for reading a run's checks, metrics, findings and error back from its notebook,
and for deciding the run's status from them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from upkeep.report import MIMETYPE

STATUS_ORDER = ("ok", "warn", "fail", "error")
EXIT_CODES = {"ok": 0, "warn": 0, "skipped": 0, "fail": 1, "error": 3}
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass(frozen=True)
class RunError:
    """Why a run ended in error: the failing cell and the exception, or a timeout or dead kernel."""

    ename: str
    evalue: str
    cell: int | None = None
    execution_count: int | None = None
    traceback: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "cell": self.cell,
            "execution_count": self.execution_count,
            "ename": self.ename,
            "evalue": self.evalue,
            "traceback": self.traceback,
        }


@dataclass(frozen=True)
class Results:
    checks: tuple[dict[str, Any], ...] = ()
    metrics: tuple[dict[str, Any], ...] = ()
    findings: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    error: RunError | None = None


def collect(nb: Any) -> Results:
    """Gather every recorded result and the first cell error of an executed notebook."""
    records: dict[str, list[dict[str, Any]]] = {"check": [], "metric": [], "finding": []}
    error = None
    for index, cell in enumerate(nb.get("cells", [])):
        for output in cell.get("outputs", []):
            record = output.get("data", {}).get(MIMETYPE)
            if isinstance(record, dict) and record.get("kind") in records:
                records[record["kind"]].append(dict(record))
            if output.get("output_type") == "error" and error is None:
                if output.get("ename") == "SystemExit" and output.get("evalue") in ("", "0"):
                    continue
                error = RunError(
                    ename=output.get("ename", ""),
                    evalue=output.get("evalue", ""),
                    cell=index,
                    execution_count=cell.get("execution_count"),
                    traceback=strip_ansi("\n".join(output.get("traceback", []))),
                )
    return Results(
        tuple(records["check"]), tuple(records["metric"]), tuple(records["finding"]), error
    )


def decide_status(results: Results) -> str:
    """`error` if the notebook raised or recorded no check, else the worst check status."""
    if results.error is not None or not results.checks:
        return "error"
    statuses = [c.get("status") for c in results.checks]
    if any(status not in STATUS_ORDER for status in statuses):
        return "error"  # a result written by hand, not by upkeep.report: not to be trusted
    return max(statuses, key=STATUS_ORDER.index)


def no_checks_error() -> RunError:
    return RunError(
        ename="NoChecksRecorded",
        evalue="the runbook finished without recording any check "
        "(call upkeep.report.check at least once)",
    )


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def exit_code(statuses: list[str]) -> int:
    """The CLI's exit code for a set of run statuses: error (3) over fail (1) over ok/warn (0)."""
    codes = [EXIT_CODES[s] for s in statuses]
    if 3 in codes:
        return 3
    return max(codes, default=0)
