"""Responsible for reading a run's checks, metrics, findings and error back from its executed
notebook, and for deciding the run's status from them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from upkeep.records import Check, Finding, Metric, RunError, Status, worst
from upkeep.report import MIMETYPE

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_PARSERS = {"check": Check.from_json, "metric": Metric.from_json, "finding": Finding.from_json}


@dataclass(frozen=True)
class Results:
    """What a run recorded, and the error that ended it, if any."""

    checks: tuple[Check, ...] = ()
    metrics: tuple[Metric, ...] = ()
    findings: tuple[Finding, ...] = ()
    error: RunError | None = None

    @property
    def status(self) -> Status:
        """`error` when the run failed or recorded no check, else the worst check's status."""
        if self.error is not None or not self.checks:
            return Status.ERROR
        return worst(check.status for check in self.checks)


def collect(nb: Any, failure: RunError | None = None) -> Results:
    """Every result recorded in an executed notebook, and the error that ended the run: the
    `failure` the executor saw (timeout, dead kernel), else the first cell error, else the first
    result that `upkeep.report` would have refused, else "no check recorded"."""
    found: dict[str, list[Any]] = {kind: [] for kind in _PARSERS}
    cell_error = invalid = None
    for index, cell in enumerate(nb.get("cells", [])):
        for output in cell.get("outputs", []):
            raw = output.get("data", {}).get(MIMETYPE)
            if isinstance(raw, Mapping) and raw.get("kind") in _PARSERS:
                try:
                    found[raw["kind"]].append(_PARSERS[raw["kind"]](raw))
                except ValueError as err:
                    invalid = invalid or _invalid_result(index, cell, raw["kind"], err)
            if output.get("output_type") == "error" and cell_error is None:
                cell_error = _cell_error(index, cell, output)
    checks = tuple(found["check"])
    error = failure or cell_error or invalid or (None if checks else no_checks_error())
    return Results(checks, tuple(found["metric"]), tuple(found["finding"]), error)


def _cell_error(index: int, cell: Mapping[str, Any], output: Mapping[str, Any]) -> RunError | None:
    if output.get("ename") == "SystemExit" and output.get("evalue") in ("", "0"):
        return None
    return RunError(
        ename=output.get("ename", ""),
        evalue=output.get("evalue", ""),
        cell=index,
        execution_count=cell.get("execution_count"),
        traceback=strip_ansi("\n".join(output.get("traceback", []))),
    )


def _invalid_result(index: int, cell: Mapping[str, Any], kind: str, err: ValueError) -> RunError:
    # Written by hand rather than by upkeep.report: not to be trusted, so the run is an error.
    return RunError(
        ename="InvalidResult",
        evalue=f"a {kind} that upkeep.report would refuse: {err}",
        cell=index,
        execution_count=cell.get("execution_count"),
    )


def no_checks_error() -> RunError:
    return RunError(
        ename="NoChecksRecorded",
        evalue="the runbook finished without recording any check "
        "(call upkeep.report.check at least once)",
    )


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)
