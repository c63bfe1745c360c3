"""Responsible for everything the command line prints: lines on stdout and stderr, JSON for
scripts, aligned tables, human sizes, times, status words in their colours, a runbook's last run
and when it is next due, the progress of a run (a line when a run starts unless a terminal shows
a live line of what is running; when it ends, one line saying what it did, a dry run marked, then
the lines a person must read and where its evidence is).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

import click

from upkeep.plain_text import one_line
from upkeep.records import RunRecord, Status, tally
from upkeep.units import human_size as human_size  # re-exported: commands print sizes with it
from upkeep.units import quantity

if TYPE_CHECKING:
    from upkeep.plan import PlannedRun, RunbookState
    from upkeep.run.workflow import RunOutcome

STATUS_COLOURS = {
    Status.OK: "green",
    Status.WARN: "yellow",
    Status.FAIL: "red",
    Status.ERROR: "red",
    Status.SKIPPED: "cyan",
}
# An attention line is cut here: a traceback or a long message stays in the report.
ATTENTION_WIDTH = 300
# The live line of what is running is cut here, to stay on one line of a terminal.
LIVE_WIDTH = 150


def print_out(text: str = "", *, bold: bool = False) -> None:
    """A line on stdout (bold only on a terminal)."""
    click.echo(click.style(text, bold=True) if bold else text)


def print_err(text: str) -> None:
    """A line on stderr. A reader that went away (`2>&1 | head`) ends the messages, never the
    work: the runs, their metrics and alerts go on, and the exit code stays theirs."""
    try:
        click.echo(text, err=True)
    except BrokenPipeError:
        # What is left in the buffer, and every later message, goes nowhere.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stderr.fileno())
        os.close(devnull)


def print_json(value: Any) -> None:
    """JSON for scripts on stdout, indented."""
    click.echo(json.dumps(value, indent=2))


def table_lines(rows: list[tuple[str, ...]]) -> list[str]:
    """Rows as lines of columns aligned on the widest cell, two spaces apart."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def print_table(rows: list[tuple[str, ...]]) -> None:
    """An aligned table on stdout; the first row is the header, in bold."""
    for index, line in enumerate(table_lines(rows)):
        print_out(line, bold=index == 0)


def format_time(moment: datetime | None) -> str:
    """A moment to the minute in its own time zone, or `-` when there is none."""
    return moment.strftime("%Y-%m-%d %H:%M %Z") if moment else "-"


STATE_COLUMNS = ("NAME", "CADENCE", "LAST", "LAST RUN", "NEXT DUE")
DRY_RUN_MARK = "(dry run)"
WAIVED_MARK = "(waived)"  # the last run's warn or fail includes a waived check, never ok


def state_row(state: RunbookState) -> tuple[str, ...]:
    """A runbook's state as a row under STATE_COLUMNS (`upkeep list`, `run --due --at`)."""
    last = "never"
    if state.last_status is not None:
        last = state.last_status.value + (f" {DRY_RUN_MARK}" if state.last_dry_run else "")
        last += f" {WAIVED_MARK}" if state.last_waived else ""
    return (
        state.runbook.name,
        state.runbook.cadence,
        last,
        format_time(state.last_run_at),
        format_next_due(state),
    )


def format_next_due(state: RunbookState) -> str:
    """When a runbook is next due, and whether it is a retry or its retries are used up."""
    moment = format_time(state.next_due)
    if state.due and state.period_errors:
        retries = state.runbook.retries
        return f"DUE since {moment} (retry {state.period_errors} of {retries})"
    if state.due:
        return f"DUE since {moment}"
    if state.gave_up:
        return f"{moment} (gave up: {state.period_errors} runs ended in error)"
    return moment


def state_json(state: RunbookState) -> dict[str, Any]:
    """A runbook's state for scripts; times in the configured time zone, ISO 8601."""
    return {
        "name": state.runbook.name,
        "title": state.runbook.title,
        "cadence": state.runbook.cadence,
        "last_status": state.last_status.value if state.last_status else None,
        "last_run_id": state.last_run_id,
        "last_run_at": state.last_run_at.isoformat() if state.last_run_at else None,
        "last_dry_run": state.last_dry_run,
        "last_waived": state.last_waived,
        "due": state.due,
        "next_due": state.next_due.isoformat(),
        "period_errors": state.period_errors,
        "retries": state.runbook.retries,
        "gave_up": state.gave_up,
        "invalid": None,
    }


def status_word(status: Status) -> str:
    """The status as a fixed-width word in its colour (the colour only on a terminal)."""
    return click.style(f"{status.word:<7}", fg=STATUS_COLOURS[status], bold=True)


def run_summary(record: RunRecord) -> str:
    """What a run did, in one line: the summary its runbook recorded, else its checks counted
    (`4 checks: 3 ok, 1 warn`)."""
    if record.summary:
        return one_line(record.summary)
    if record.status is Status.SKIPPED:
        return "not run"
    if not record.checks:
        return "no check recorded"
    counted = ", ".join(f"{n} {word}" for word, n in tally(record.checks))
    plural = "s" if len(record.checks) > 1 else ""
    return f"{len(record.checks)} check{plural}: {counted}"


def attention_lines(record: RunRecord) -> list[str]:
    """The lines a person must read about a run: its error or why it was skipped, then every
    check that did not pass."""
    lines = []
    if record.error is not None:
        lines.append(one_line(record.error.summary)[:ATTENTION_WIDTH])
    if record.skipped_reason:
        lines.append(f"skipped: {one_line(record.skipped_reason)}")
    for check in record.checks:
        if check.status is not Status.OK:
            message = check.message
            if not message and check.value is not None:
                message = quantity(check.value, check.unit)
            if check.waiver is not None:
                message = f"{message} ({check.waiver.note})" if message else check.waiver.note
            line = f"{check.word.lower()}: {check.name}: {message}"
            lines.append(one_line(line)[:ATTENTION_WIDTH])  # a \r or an escape cannot act
    return lines


class RunProgress:
    """The progress of a run on stderr: a line when each run starts (on a terminal, a live line
    of what is still running instead), and when it ends one line saying what it did, the lines
    that need attention and where its evidence is, so that cron and CI logs tell the whole story.
    A context manager: leaving it stops the live line and clears it. Implements
    `upkeep.run.workflow.Progress`."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.begun = 0
        self.done = 0
        self.running: dict[str, float] = {}
        self.lock = threading.Lock()
        self.live = sys.stderr.isatty()
        self._stop = threading.Event()

    def __enter__(self) -> RunProgress:
        if self.live:
            threading.Thread(target=self._tick, daemon=True).start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        with self.lock:
            self._clear_live_line()

    def started(self, planned: PlannedRun) -> None:
        with self.lock:
            self.running[planned.runbook.name] = time.monotonic()
            self.begun += 1
            if not self.live:
                print_err(f"started {planned.runbook.name} (run {self.begun} of {self.total})")

    def finished(self, planned: PlannedRun, outcome: RunOutcome) -> None:
        name = planned.runbook.name
        with self.lock:
            self.running.pop(name, None)
            self.done += 1
            self._clear_live_line()
            record = outcome.record
            dry = f"{DRY_RUN_MARK} " if record.dry_run else ""
            print_err(
                f"[{self.done}/{self.total}] {status_word(outcome.status)} {name} {dry}"
                f"({record.duration_s:.1f} s): {run_summary(record)}"
            )
            for line in [*attention_lines(record), f"evidence: {outcome.path}"]:
                print_err(f"      {line}")

    def _tick(self) -> None:
        while not self._stop.wait(0.5):
            with self.lock:
                if self.running:
                    now = time.monotonic()
                    names = ", ".join(f"{n} {now - t:.0f}s" for n, t in self.running.items())
                    self._clear_live_line()
                    sys.stderr.write(f"running: {names}"[:LIVE_WIDTH])
                    sys.stderr.flush()

    def _clear_live_line(self) -> None:
        if self.live:
            sys.stderr.write("\r\x1b[K")
