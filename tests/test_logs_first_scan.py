"""Tests for upkeep.logs.first_scan, through `scan_log`: a log seen for the first time is read
from its end, or from a window such as the last 24 hours (into its rotated copies when the
window reaches back past its first line), or whole, on real files."""

from __future__ import annotations

import gzip
import os
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers.files import append
from helpers.real_logs import FORMATS, LabelledLine, generate

from upkeep.config import LogSource
from upkeep.logs import first_scan
from upkeep.logs.scan import scan_log

DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def utc_local_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The generated logs write UTC; stamps without a zone are read in the local zone."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def every_line(path: Path, window: timedelta | None) -> LogSource:
    """A log whose every line counts as an error line: the count says where reading began."""
    return LogSource("app", path, error_patterns=(".",), warn_patterns=(), first_scan_window=window)


def write(path: Path, lines: list[LabelledLine]) -> None:
    path.write_text("".join(line.text + "\n" for line in lines), encoding="utf-8")


def test_a_months_old_log_is_read_from_its_end_the_first_time(tmp_path: Path) -> None:
    # The first scan of a months-old dpkg.log read the whole file and graded FAIL.
    log = LogSource("dpkg", tmp_path / "dpkg.log")  # the default first scan
    append(log.path, *[f"2026-0{m}-01 10:00:00 ERROR old trouble {m}" for m in range(1, 9)])
    append(log.path, "2026-09-01 10:00:00 ERROR half written", end="")
    scan = scan_log(log, tmp_path / "state")
    assert scan.first_scan and scan.errors == 0 and scan.bytes_scanned == 0
    assert scan.first_scan_from == "from the end: new lines only"
    append(log.path, " line, now done", "2026-11-16 10:00:00 ERROR new trouble")
    scan = scan_log(log, tmp_path / "state")
    assert [g.first for g in scan.error_groups] == [
        "2026-09-01 10:00:00 ERROR half written line, now done",
        "2026-11-16 10:00:00 ERROR new trouble",
    ]


def test_whole_reads_the_whole_file(tmp_path: Path) -> None:
    log = replace(LogSource("app", tmp_path / "app.log"), first_scan_window=None)
    append(log.path, "ERROR one", "ERROR two")
    scan = scan_log(log, tmp_path / "state")
    assert scan.errors == 2 and scan.first_scan_from == "whole file"


@pytest.mark.parametrize("kind", list(FORMATS))
@pytest.mark.parametrize("hours", [1, 24, 100])
def test_a_window_reads_exactly_the_lines_written_in_it(
    tmp_path: Path, kind: str, hours: int
) -> None:
    # About 1 MB of lines over two days: the file is bisected on its timestamps.
    lines = generate(kind, 10_000, gap_s=30)
    log = every_line(tmp_path / "app.log", timedelta(hours=hours))
    write(log.path, lines)
    now = lines[-1].at + timedelta(seconds=1)
    cutoff = now - timedelta(hours=hours)
    scan = scan_log(log, tmp_path / "state", now=now)
    assert scan.errors == sum(line.at >= cutoff for line in lines)
    assert scan.first_scan_from == f"lines since {cutoff:%Y-%m-%d %H:%M} UTC"


def test_lines_without_a_timestamp_go_with_the_stamped_line_before_them(tmp_path: Path) -> None:
    now = datetime(2026, 11, 16, 12, 0, tzinfo=UTC)
    log = every_line(tmp_path / "app.log", timedelta(hours=1))
    append(
        log.path,
        "2026-11-16 10:00:00,000 ERROR outside the window",
        "Traceback (most recent call last):",
        "KeyError: 'outside'",
        "2026-11-16 11:30:00,000 ERROR inside",
        "Traceback (most recent call last):",
        "KeyError: 'inside'",
    )
    scan = scan_log(log, tmp_path / "state", now=now)
    assert scan.errors == 3 and scan.error_groups[0].first.endswith("ERROR inside")


def test_a_log_without_timestamps_is_read_from_its_end(tmp_path: Path) -> None:
    log = every_line(tmp_path / "app.log", timedelta(hours=24))
    append(log.path, *["no stamp here"] * 50)
    scan = scan_log(log, tmp_path / "state")
    assert scan.errors == 0 and scan.first_scan_from == "no timestamps found: from the end"


def test_a_window_before_the_logs_first_line_reads_the_rotated_copies_in_it(
    tmp_path: Path,
) -> None:
    # Rotated daily; a 60 h window reaches over app.log.1 into part of app.log.2.gz, not
    # into app.log.3.gz (last written before the window).
    lines = generate("nginx-access", 4 * 4320, gap_s=40)  # four days, a line every ~20 s
    now = lines[-1].at + timedelta(seconds=1)
    days = [
        [line for line in lines if now - (n + 1) * DAY <= line.at < now - n * DAY] for n in range(4)
    ]
    log = every_line(tmp_path / "access.log", timedelta(hours=60))
    write(log.path, days[0])
    for n, name in ((1, "access.log.1"), (2, "access.log.2.gz"), (3, "access.log.3.gz")):
        text = "".join(line.text + "\n" for line in days[n]).encode()
        (tmp_path / name).write_bytes(gzip.compress(text) if name.endswith(".gz") else text)
        last = days[n][-1].at.timestamp()
        os.utime(tmp_path / name, (last, last))
    scan = scan_log(log, tmp_path / "state", now=now)
    cutoff = now - timedelta(hours=60)
    assert scan.errors == sum(line.at >= cutoff for line in lines)
    assert scan.copies_read == 2
    assert scan.first_scan_from.endswith("2 rotated copies included")
    assert scan.error_groups  # and the second scan reads only what is new
    assert scan_log(log, tmp_path / "state", now=now).errors == 0


def test_a_line_longer_than_a_probe_does_not_lose_the_window(tmp_path: Path) -> None:
    now = datetime(2026, 11, 16, 12, 0, tzinfo=UTC)
    log = every_line(tmp_path / "app.log", timedelta(hours=1))
    long = "x" * (3 * first_scan.PROBE_BYTES)
    stamps = [now - timedelta(minutes=m) for m in range(180, 0, -1)]
    append(
        log.path,
        *[
            f"{s:%Y-%m-%d %H:%M:%S} ERROR {long if m % 20 == 0 else ''}"
            for m, s in enumerate(stamps)
        ],
    )
    scan = scan_log(log, tmp_path / "state", now=now)
    assert scan.errors == sum(s >= now - timedelta(hours=1) for s in stamps)


@pytest.mark.parametrize(
    ("value", "window"),
    [
        ("end", timedelta(0)),
        ("whole", None),
        ("24h", DAY),
        ("90m", timedelta(minutes=90)),
        ("7d", 7 * DAY),
        ("1.5h", timedelta(minutes=90)),
    ],
)
def test_the_first_scan_setting(tmp_path: Path, value: str, window: timedelta | None) -> None:
    from helpers.files import make_config

    config = make_config(tmp_path, f"logs:\n  - {{name: a, path: a.log, first_scan: {value}}}\n")
    assert config.logs[0].first_scan_window == window
