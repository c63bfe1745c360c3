"""What the command line prints (upkeep.cli.console): tables, sizes, times, status words, the
lines of a run that need attention, and the progress of a run. No kernel, no subprocess."""

from __future__ import annotations

import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click
import pytest

from upkeep import units
from upkeep.cli import console
from upkeep.plan import PlannedRun
from upkeep.records import Check, RunbookRef, RunError, RunRecord, Status
from upkeep.registry import Runbook
from upkeep.run.workflow import RunOutcome

T0 = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def _record(status: Status = Status.OK, **fields: object) -> RunRecord:
    return RunRecord(
        run_id="20261201T030000Z-probe-7f3a",
        runbook=RunbookRef("probe"),
        status=status,
        started_at=T0,
        ended_at=T0,
        as_of=T0,
        **fields,  # type: ignore[arg-type]
    )


def _planned(name: str) -> PlannedRun:
    runbook = Runbook(
        name=name,
        path=Path(f"runbooks/daily/{name}.ipynb"),
        relpath=f"runbooks/daily/{name}.ipynb",
        title=name,
        summary="",
        cadence="daily",
        category="Health Checks",
        owner="tests",
        references=(),
        timeout_s=None,
        destructive=False,
        params=(),
        sha256="0" * 64,
    )
    return PlannedRun(runbook, {})


def test_table_columns_start_where_their_header_does() -> None:
    lines = console.table_lines(
        [
            ("ID", "DATABASE", "SIZE"),
            ("20261201T030000Z-app-full", "app", "1.5 KiB"),
            ("x", "inventory-archive", "12 B"),
        ]
    )
    assert lines == [
        "ID                         DATABASE           SIZE",
        "20261201T030000Z-app-full  app                1.5 KiB",
        "x                          inventory-archive  12 B",
    ]


def test_a_table_line_has_no_trailing_blanks() -> None:
    lines = console.table_lines([("NAME", "BASE"), ("a-long-name", "")])
    assert lines == ["NAME         BASE", "a-long-name"]


def test_print_table_prints_the_header_then_the_rows(capsys: pytest.CaptureFixture[str]) -> None:
    rows = [("NAME", "CADENCE"), ("health-check", "daily")]
    console.print_table(rows)
    assert capsys.readouterr().out.splitlines() == console.table_lines(rows)


def test_the_console_prints_sizes_with_the_one_formatter() -> None:
    assert console.human_size is units.human_size


def test_a_time_is_shown_to_the_minute_in_its_own_zone() -> None:
    assert console.format_time(T0) == "2026-12-01 03:00 UTC"
    paris = T0.astimezone(ZoneInfo("Europe/Paris"))
    assert console.format_time(paris) == "2026-12-01 04:00 CET"
    assert console.format_time(None) == "-"


def test_every_status_has_a_colour_and_a_word_of_one_width() -> None:
    assert set(console.STATUS_COLOURS) == set(Status)
    for status in Status:
        word = console.status_word(status)
        assert click.unstyle(word) == status.word.ljust(7)
        assert "\x1b[" in word  # styled; click drops the style when not on a terminal


def test_a_run_that_passed_needs_no_attention() -> None:
    checks = (Check("disk:/", Status.OK, value=40, unit="%"),)
    assert console.attention_lines(_record(checks=checks)) == []


def test_attention_lines_name_the_error_then_every_check_that_did_not_pass() -> None:
    record = _record(
        Status.ERROR,
        error=RunError("KeyError", "'x'", cell=3),
        checks=(
            Check("disk:/", Status.WARN, value=87.1, limit=85, unit="%"),
            Check("web", Status.OK, message="200 in 12 ms"),
            Check("orphans", Status.FAIL, message="12 orders reference missing customers"),
        ),
    )
    assert console.attention_lines(record) == [
        "error in cell 3: KeyError: 'x'",
        "warn: disk:/: 87.1%",  # no message: the value and its unit
        "fail: orphans: 12 orders reference missing customers",
    ]


def test_a_byte_count_without_a_message_is_shown_as_a_size() -> None:
    record = _record(
        checks=(Check("cache", Status.WARN, value=1_440_000, limit=1 << 20, unit="B"),)
    )
    assert console.attention_lines(record) == ["warn: cache: 1.4 MiB"]


def test_a_run_is_summed_up_by_what_its_runbook_said_else_by_its_checks() -> None:
    checks = (
        Check("a", Status.OK),
        Check("b", Status.OK),
        Check("c", Status.WARN, message="slow"),
    )
    said = "removed 12 entries, freeing 1.4 MiB in 3 roots"
    assert console.run_summary(_record(checks=checks, summary=said)) == said
    assert console.run_summary(_record(checks=checks)) == "3 checks: 1 warn, 2 ok"
    assert console.run_summary(_record(checks=checks[:1])) == "1 check: 1 ok"
    assert console.run_summary(_record(Status.ERROR)) == "no check recorded"
    assert console.run_summary(_record(Status.SKIPPED, skipped_reason="locked")) == "not run"


def test_a_skipped_run_says_why() -> None:
    record = _record(Status.SKIPPED, skipped_reason="locked: another run is still going")
    assert console.attention_lines(record) == ["skipped: locked: another run is still going"]


def test_attention_lines_are_cut_to_a_readable_length() -> None:
    record = _record(
        Status.ERROR,
        error=RunError("ValueError", "v" * 1000),
        checks=(Check("long", Status.FAIL, message="m" * 1000),),
    )
    lines = console.attention_lines(record)
    assert [len(line) for line in lines] == [300, 300]
    assert lines[0].startswith("error: ValueError: vvv") and lines[1].startswith("fail: long: mmm")


def test_progress_without_a_terminal_says_when_each_run_starts_and_what_each_did(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Cron and CI have no terminal: a line when each run starts, and when it ends a line saying
    what it did, the lines that need attention and where its evidence is."""
    failed = _record(
        Status.FAIL, duration_s=1.34, checks=(Check("x", Status.FAIL, message="broke"),)
    )
    cleaned = _record(checks=(Check("total", Status.OK),), summary="removed 3 entries, 1.4 MiB")
    with console.RunProgress(2) as progress:
        assert not progress.live  # stderr is not a terminal here: no live line
        progress.started(_planned("probe"))
        progress.started(_planned("other"))
        assert set(progress.running) == {"probe", "other"}
        progress.finished(_planned("probe"), RunOutcome(failed, Path("evidence/runs/x")))
        progress.finished(_planned("other"), RunOutcome(cleaned, Path("evidence/runs/y")))
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "started probe (run 1 of 2)",
        "started other (run 2 of 2)",
        "[1/2] FAIL    probe (1.3 s): 1 check: 1 fail",
        "      fail: x: broke",
        "      evidence: evidence/runs/x",
        "[2/2] OK      other (0.0 s): removed 3 entries, 1.4 MiB",
        "      evidence: evidence/runs/y",
    ]
    assert progress.running == {}


def test_progress_marks_a_dry_run(capsys: pytest.CaptureFixture[str]) -> None:
    with console.RunProgress(1) as progress:
        dry = _record(dry_run=True, duration_s=2.0, summary="would remove 3 entries")
        progress.finished(_planned("cleaning"), RunOutcome(dry, Path("evidence/runs/x")))
    assert capsys.readouterr().err == (
        "[1/1] OK      cleaning (dry run) (2.0 s): would remove 3 entries\n"
        "      evidence: evidence/runs/x\n"
    )


def test_on_a_terminal_a_live_line_shows_what_is_running_and_is_cleared(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    with console.RunProgress(1) as progress:
        assert progress.live
        progress.started(_planned("probe"))
        deadline = time.monotonic() + 10
        seen = ""
        while "running: probe" not in seen and time.monotonic() < deadline:
            time.sleep(0.1)
            seen += capsys.readouterr().err
        assert re.search(r"\r\x1b\[Krunning: probe \d+s", seen), seen
        progress.finished(_planned("probe"), RunOutcome(_record(), Path("evidence/runs/x")))
    err = capsys.readouterr().err
    assert "\r\x1b[K[1/1] " in err  # the live line is cleared before the run's line
    assert "started" not in err  # the live line shows what runs: no start lines
    assert "[1/1] OK      probe (0.0 s): no check recorded\n" in click.unstyle(err)
    assert err.endswith("\r\x1b[K")  # leaving the progress clears the live line


def test_text_a_run_wrote_cannot_act_on_the_terminal() -> None:
    # A check message with a carriage return could overwrite the line before it (a forged
    # "OK"), and an OSC sequence retitle the terminal: both are shown as their pictures.
    started = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    record = RunRecord(
        "20261201T030000Z-probe-0001",
        RunbookRef("probe"),
        Status.FAIL,
        started,
        started,
        started,
        checks=(Check("disk", Status.FAIL, message="full\r[1/1] OK  probe\x1b]0;owned\x07"),),
        summary="line one\nline two \x1b[2J",
    )
    [line] = console.attention_lines(record)
    assert line == "fail: disk: full [1/1] OK probe␛]0;owned␇"  # one line, inert
    assert console.run_summary(record) == "line one line two ␛[2J"
