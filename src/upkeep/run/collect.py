"""Responsible for reading a run's checks, metrics, findings and error back from its executed
notebook (with the one-line summary the runbook gave and whether it said it was a dry run), and
for deciding the run's status.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from upkeep.plain_text import cut
from upkeep.records import Check, Clearance, Finding, Metric, RunError, RunErrorName, Status, worst
from upkeep.report import DRY_RUN, MIMETYPE, SUMMARY

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# How much of an error's message and traceback the run's record keeps (the notebook keeps them
# whole): run.json is read by every listing, and an exception may carry a whole log.
EVALUE_CHARS = 2000
TRACEBACK_CHARS = 20000
_PARSERS = {
    "check": Check.from_json,
    "metric": Metric.from_json,
    "finding": Finding.from_json,
    "cleared": Clearance.from_json,
}


@dataclass(frozen=True)
class Results:
    """What a run recorded, and the error that ended it, if any."""

    checks: tuple[Check, ...] = ()
    metrics: tuple[Metric, ...] = ()
    findings: tuple[Finding, ...] = ()
    error: RunError | None = None
    cleared: tuple[Clearance, ...] = ()
    dry_run: bool = False  # the runbook called `upkeep.report.dry_run`
    summary: str = ""  # what the runbook said it did (`upkeep.report.summary`), parts joined

    @property
    def status(self) -> Status:
        """`error` when the run failed or recorded no check, else the worst check's verdict (a
        waived fail counts as warn)."""
        if self.error is not None or not self.checks:
            return Status.ERROR
        return worst(check.verdict for check in self.checks)


def collect(nb: Any, failure: RunError | None = None) -> Results:
    """Every result recorded in an executed notebook, and the error that ended the run: the
    `failure` the executor saw (timeout, dead kernel), else the first cell papermill would fail
    the run on, else the first result that `upkeep.report` would have refused, else "no check
    recorded" (naming the cell where a clean `sys.exit` stopped the runbook early); and whether
    the runbook said it was a dry run, and the summary it gave."""
    found: dict[str, list[Any]] = {kind: [] for kind in _PARSERS}
    cell_error = invalid = early_exit = None
    dry_run = False
    summary: list[str] = []
    for index, cell in enumerate(nb.get("cells", [])):
        errors = []
        for output in cell.get("outputs", []):
            raw = output.get("data", {}).get(MIMETYPE)
            if isinstance(raw, Mapping) and raw.get("kind") == DRY_RUN:
                dry_run = True
            elif isinstance(raw, Mapping) and raw.get("kind") == SUMMARY:
                if isinstance(raw.get("text"), str):
                    summary.append(raw["text"])
                else:
                    err = ValueError(f"summary text must be a string, got {raw.get('text')!r}")
                    invalid = invalid or _invalid_result(index, cell, SUMMARY, err)
            elif isinstance(raw, Mapping) and raw.get("kind") in _PARSERS:
                try:
                    found[raw["kind"]].append(_PARSERS[raw["kind"]](raw))
                except ValueError as err:
                    invalid = invalid or _invalid_result(index, cell, raw["kind"], err)
            if output.get("output_type") == "error":
                errors.append(output)
        cell_error = cell_error or _cell_error(index, cell, errors)
        if early_exit is None and any(_clean_exit(output) for output in errors):
            early_exit = _early_exit(index, cell, errors)
    checks = tuple(found["check"])
    error = (
        failure or cell_error or invalid or (None if checks else early_exit or no_checks_error())
    )
    return Results(
        checks,
        tuple(found["metric"]),
        tuple(found["finding"]),
        error,
        tuple(found["cleared"]),
        dry_run,
        "; ".join(text for text in summary if text),
    )


def stopped_cell(nb: Any) -> tuple[int | None, int | None]:
    """The cell where execution stopped, and its execution count: the last cell papermill
    started (its status is no guide: papermill marks an unfinished cell completed)."""
    stopped: tuple[int | None, int | None] = (None, None)
    for index, cell in enumerate(nb.get("cells", [])):
        if (cell.get("metadata", {}).get("papermill") or {}).get("start_time"):
            stopped = (index, cell.get("execution_count"))
    return stopped


def _cell_error(
    index: int, cell: Mapping[str, Any], errors: list[Mapping[str, Any]]
) -> RunError | None:
    """What fails the run in this cell, as papermill decides: its first error output that is
    not a clean exit, else papermill's own mark of a cell that failed without an error output
    (an unknown magic: IPython prints a UsageError to stderr and raises nothing)."""
    for output in errors:
        if not _clean_exit(output):
            traceback = strip_ansi("\n".join(output.get("traceback", [])))
            return RunError(
                ename=cut(output.get("ename", ""), EVALUE_CHARS),
                evalue=cut(output.get("evalue", ""), EVALUE_CHARS),
                cell=index,
                execution_count=cell.get("execution_count"),
                traceback=cut(traceback, TRACEBACK_CHARS),
            )
    if errors or (cell.get("metadata", {}).get("papermill") or {}).get("exception") is not True:
        return None
    return RunError(
        ename=RunErrorName.CELL_FAILED,
        evalue=_last_stderr_line(cell) or "the cell failed without an error output",
        cell=index,
        execution_count=cell.get("execution_count"),
    )


def _clean_exit(output: Mapping[str, Any]) -> bool:
    """`sys.exit()`, `sys.exit(0)`, `raise SystemExit`: papermill counts these as success."""
    return output.get("ename") == "SystemExit" and output.get("evalue") in ("", "0")


def _early_exit(index: int, cell: Mapping[str, Any], errors: list[Mapping[str, Any]]) -> RunError:
    exit_output = next(output for output in errors if _clean_exit(output))
    how = f"SystemExit: {exit_output.get('evalue')}".rstrip(": ")
    return RunError(
        ename=RunErrorName.NO_CHECKS,
        evalue=f"the runbook stopped early, here ({how}), before recording any check",
        cell=index,
        execution_count=cell.get("execution_count"),
    )


def _last_stderr_line(cell: Mapping[str, Any]) -> str:
    text = "".join(
        "".join(output.get("text", ""))
        for output in cell.get("outputs", [])
        if output.get("output_type") == "stream" and output.get("name") == "stderr"
    )
    lines = [line.strip() for line in strip_ansi(text).splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _invalid_result(index: int, cell: Mapping[str, Any], kind: str, err: ValueError) -> RunError:
    # Written by hand rather than by upkeep.report: not to be trusted, so the run is an error.
    return RunError(
        ename=RunErrorName.INVALID_RESULT,
        evalue=f"a {kind} that upkeep.report would refuse: {err}",
        cell=index,
        execution_count=cell.get("execution_count"),
    )


def no_checks_error() -> RunError:
    return RunError(
        ename=RunErrorName.NO_CHECKS,
        evalue="the runbook finished without recording any check "
        "(call upkeep.report.check at least once)",
    )


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)
