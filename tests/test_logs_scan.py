"""Tests for upkeep.logs.scan: real log files, read since the last scan, across rotations, in
memory bounded by the buffer, and only when they are regular files."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest
from helpers.files import append, make_config
from helpers.recorder import Recorder
from hypothesis import given, settings
from hypothesis import strategies as st

from upkeep.config import LogSource
from upkeep.logs import matching
from upkeep.logs.scan import CHUNK_SIZE, LogScan, scan_log
from upkeep.procedures import health
from upkeep.records import Status

STAMP = "2026-11-16 02:15:00,123"


def log_source(tmp_path: Path, name: str = "app") -> LogSource:
    config = make_config(
        tmp_path, f"logs:\n  - name: {name}\n    path: {name}.log\n    first_scan: whole\n"
    )
    return config.logs[0]


# ---------------------------------------------------------------- grouping and matching


def test_scan_groups_like_messages_and_keeps_unlike_apart(tmp_path: Path) -> None:
    log = log_source(tmp_path)
    append(
        log.path,
        f"{STAMP} ERROR [web] timeout after 31s for id 812",
        f"{STAMP} INFO  [web] GET /orders 200",
        f"{STAMP} ERROR [web] database is locked",
        f"{STAMP} ERROR [web] timeout after 32s for id 9",
        f"{STAMP} WARNING [web] slow query took 1200ms",
    )
    scan = scan_log(log, tmp_path / "state")
    assert (scan.errors, scan.warnings) == (3, 1)
    timeout, locked = scan.error_groups
    assert (timeout.template, timeout.count) == ("[web] timeout after <N>s for id <N>", 2)
    assert timeout.first.endswith("31s for id 812") and timeout.last.endswith("32s for id 9")
    assert (locked.template, locked.count) == ("[web] database is locked", 1)
    assert scan.warning_groups[0].template == "[web] slow query took <N>ms"


def test_a_line_matching_error_and_warning_counts_once_as_error(tmp_path: Path) -> None:
    log = log_source(tmp_path)
    append(log.path, "WARNING escalated to ERROR", "ERRORS=0 WARNINGS=0 (no word match)")
    scan = scan_log(log, tmp_path / "state")
    assert (scan.errors, scan.warnings) == (1, 0)


def test_patterns_without_a_literal_and_case_insensitive_ones_work(tmp_path: Path) -> None:
    config = make_config(
        tmp_path,
        r"""
        logs:
          - name: custom
            path: custom.log
            first_scan: whole
            error_patterns: ['(?i)oops', '\d{3} failed', '^E\d+']
            warn_patterns: []
        """,
    )
    log = config.logs[0]
    append(
        log.path,
        "Oops one",
        "all OOPS",
        "500 failed",
        "50 failed",
        "E12 at start",
        "not E12 at start",
        "fine",
    )
    scan = scan_log(log, tmp_path / "state")
    assert scan.errors == 4
    assert scan.warnings == 0


LINES = st.lists(
    st.sampled_from(
        ["ERROR", "ERR", "WARN", "WARNING", "FATAL", "CRIT", " ", "x", "7", "_", ":", "\r", "é"]
    ),
    max_size=12,
).map("".join)


PATTERN_SETS = st.sampled_from(
    [
        (LogSource.error_patterns, LogSource.warn_patterns),  # literal search
        ((r"(?i)err\b", r"7:"), (r"WARN",)),  # decoded-text search: (?i) has no literal
        # each line searched from its first literal: `^`, groups, alternatives
        ((r"^ERR", r"(?:WARN|ERR)OR\b"), (r"\bWARN(?:ING)?:?", r"x7_")),
    ]
)


@settings(max_examples=80, deadline=None)
@given(st.lists(LINES, max_size=40), st.sampled_from([16, 64, 1 << 20]), PATTERN_SETS)
def test_scan_counts_what_a_line_by_line_regex_counts(
    lines: list[str], chunk: int, patterns: tuple[tuple[str, ...], tuple[str, ...]]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        log = LogSource("p", Path(tmp) / "p.log", *patterns, first_scan_window=None)
        log.path.write_text("".join(line + "\n" for line in lines), newline="")
        scan = scan_log(log, Path(tmp) / "state", chunk_size=chunk)
    is_error = [any(re.search(p, line) for p in log.error_patterns) for line in lines]
    is_warn = [
        not e and any(re.search(p, line) for p in log.warn_patterns)
        for line, e in zip(lines, is_error, strict=True)
    ]
    assert (scan.errors, scan.warnings) == (sum(is_error), sum(is_warn))


# ---------------------------------------------------------------- reading only what is new


def test_second_scan_sees_only_appended_lines(tmp_path: Path) -> None:
    log, state = log_source(tmp_path), tmp_path / "state"
    append(log.path, f"{STAMP} ERROR first", f"{STAMP} ERROR second")
    first = scan_log(log, state)
    assert first.first_scan and first.errors == 2
    append(log.path, f"{STAMP} ERROR third")
    second = scan_log(log, state)
    assert not second.first_scan
    assert second.errors == 1 and second.error_groups[0].first.endswith("third")
    assert scan_log(log, state).errors == 0


def test_position_is_kept_in_a_state_file(tmp_path: Path) -> None:
    log, state = log_source(tmp_path), tmp_path / "state"
    append(log.path, "ERROR one")
    scan_log(log, state)
    (saved,) = (state / "logscan").glob("app-*.json")
    data = json.loads(saved.read_text())
    stat = log.path.stat()
    assert (data["device"], data["inode"], data["offset"]) == (stat.st_dev, stat.st_ino, 10)
    assert data["fingerprint_len"] == 10 and len(data["fingerprint"]) == 64


def test_commit_false_leaves_the_position_alone(tmp_path: Path) -> None:
    log, state = log_source(tmp_path), tmp_path / "state"
    append(log.path, "ERROR one")
    assert scan_log(log, state, commit=False).errors == 1
    assert not (state / "logscan").exists()
    assert scan_log(log, state).errors == 1
    assert scan_log(log, state, commit=False).errors == 0


def test_half_written_last_line_waits_until_complete(tmp_path: Path) -> None:
    log, state = log_source(tmp_path), tmp_path / "state"
    append(log.path, "ERROR whole", "ERROR half", end="")
    scan = scan_log(log, state)
    assert scan.errors == 1 and scan.offset == len("ERROR whole\n")
    append(log.path, " now done")
    scan = scan_log(log, state)
    assert scan.errors == 1 and scan.error_groups[0].first == "ERROR half now done"
    assert scan_log(log, state).errors == 0


def test_rotation_reads_rotated_tail_then_new_file_without_double_counting(tmp_path: Path) -> None:
    log, state = log_source(tmp_path), tmp_path / "state"
    append(log.path, "ERROR one", "ERROR two")
    assert scan_log(log, state).errors == 2
    append(log.path, "ERROR three, written before the rotation")
    log.path.rename(log.path.with_name("app.log.1"))
    append(log.path, "ERROR four", "INFO five", "ERROR six")
    scan = scan_log(log, state)
    assert scan.rotated and not scan.truncated
    assert scan.errors == 3
    assert [g.first for g in scan.error_groups] == [
        "ERROR three, written before the rotation",
        "ERROR four",
        "ERROR six",
    ]
    assert scan_log(log, state).errors == 0


def test_rotation_without_a_rotated_file_reads_the_new_file_from_the_start(tmp_path: Path) -> None:
    log, state = log_source(tmp_path), tmp_path / "state"
    append(log.path, "ERROR old")
    scan_log(log, state)
    log.path.unlink()
    append(log.path, "ERROR new one", "ERROR new two")
    scan = scan_log(log, state)
    # The new file may reuse the old inode: then it is recognised by its first bytes instead.
    assert (scan.rotated or scan.truncated) and scan.errors == 2


def test_copytruncate_reads_the_copy_tail_then_the_truncated_file(tmp_path: Path) -> None:
    log, state = log_source(tmp_path), tmp_path / "state"
    append(log.path, "ERROR before the first scan")
    scan_log(log, state)
    append(log.path, "ERROR unread when copied")
    shutil.copyfile(log.path, log.path.with_name("app.log.1"))
    with log.path.open("r+") as handle:
        handle.truncate(0)
    append(log.path, "ERROR after truncation")
    scan = scan_log(log, state)
    assert scan.truncated and not scan.rotated
    assert sorted(g.first for g in scan.error_groups) == [
        "ERROR after truncation",
        "ERROR unread when copied",
    ]


@pytest.mark.parametrize(
    "names",
    [
        ("app.log.1", "app.log.2.gz", "app.log.3.gz"),  # logrotate's default, compress
        ("app.log-20261114", "app.log-20261115.gz", "app.log-20261116.gz"),  # dateext
        ("app.log.2026-11-16", "app.log.2026-11-15", "app.log.2026-11-14.gz"),  # dateformat
    ],
)
def test_copies_in_every_naming_are_followed_across_rotations(
    tmp_path: Path, names: tuple[str, ...]
) -> None:
    # Three rotations between two scans (no health check for three days): each rotated file is
    # named as the log's logrotate names it; what the first scan had not read, and every newer
    # copy, is read once, in the order it was written.
    log, state = log_source(tmp_path), tmp_path / "state"
    append(log.path, "ERROR seen by the first scan")
    assert scan_log(log, state).errors == 1
    dated = names[0].endswith("14")
    rotated_out = sorted(names) if dated else list(reversed(names))  # oldest first
    words = ("alpha", "beta", "gamma")
    for day, name in enumerate(rotated_out):
        append(log.path, f"ERROR {words[day]}")
        target = tmp_path / name
        if name.endswith(".gz"):
            target.write_bytes(gzip.compress(log.path.read_bytes()))
            log.path.unlink()
        else:
            log.path.rename(target)
        stamp = 1_700_000_000 + day * 86400  # the oldest copy last written first
        os.utime(target, (stamp, stamp))
        append(log.path, "INFO new file")
    append(log.path, "ERROR today")
    scan = scan_log(log, state)
    assert [g.first for g in scan.error_groups] == [
        "ERROR alpha",
        "ERROR beta",
        "ERROR gamma",
        "ERROR today",
    ]
    assert scan.rotated and scan.copies_read == 3 and not scan.previous_lost
    assert scan_log(log, state).errors == 0


def test_many_rotations_between_two_scans_lose_nothing_still_on_disk(tmp_path: Path) -> None:
    # Hourly rotation, a daily scan: 24 copies since, every one still there is read.
    log, state = log_source(tmp_path), tmp_path / "state"
    append(log.path, "INFO seen")
    scan_log(log, state)
    for hour in range(24):
        append(log.path, f"ERROR hour {hour}")
        for index in range(hour, 0, -1):  # shift .N to .N+1, newest first
            (tmp_path / f"app.log.{index}").rename(tmp_path / f"app.log.{index + 1}")
        log.path.rename(tmp_path / "app.log.1")
        append(log.path, "INFO new")
    scan = scan_log(log, state)
    assert scan.errors == 24 and scan.copies_read == 24
    [group] = scan.error_groups
    assert (group.first, group.last) == ("ERROR hour 0", "ERROR hour 23")


def test_when_the_file_read_last_is_gone_copies_written_since_are_read_whole(
    tmp_path: Path,
) -> None:
    log, state = log_source(tmp_path), tmp_path / "state"
    append(log.path, "ERROR read before")
    scan_log(log, state)
    old = tmp_path / "app.log.2"
    old.write_text("ERROR rotated out long before the last scan\n")
    os.utime(old, (1_600_000_000, 1_600_000_000))
    log.path.rename(tmp_path / "app.log.1")  # what the scan was reading ...
    (tmp_path / "app.log.1").unlink()  # ... deleted (keep 1, two rotations)
    append(tmp_path / "app.log.1", "ERROR written after the last scan, then rotated out")
    append(log.path, "ERROR in the new file")
    scan = scan_log(log, state)
    assert [g.first for g in scan.error_groups] == [
        "ERROR written after the last scan, then rotated out",
        "ERROR in the new file",
    ]
    assert scan.previous_lost and scan.copies_read == 1


def test_truncation_restarts_from_the_beginning(tmp_path: Path) -> None:
    log, state = log_source(tmp_path), tmp_path / "state"
    append(log.path, *[f"ERROR line {n}" for n in range(20)])
    scan_log(log, state)
    log.path.write_text("ERROR fresh\n")
    scan = scan_log(log, state)
    assert scan.truncated and scan.errors == 1 and scan.offset == len("ERROR fresh\n")


def test_lines_full_of_the_literals_letters_are_still_counted_exactly(tmp_path: Path) -> None:
    # Every byte of "ERROR" and "WARN" is common here, so the rare-byte search gives up midway.
    log = log_source(tmp_path)
    noise = "ERR OR EROR WAR ARN RRRR EEEE OOOO WWWW NNNN AAAA"
    append(log.path, *[f"{noise} {n}" + (" ERROR" if n % 10 == 0 else "") for n in range(5000)])
    scan = scan_log(log, tmp_path / "state")
    assert (scan.errors, scan.warnings) == (500, 0)


def test_a_pivot_byte_rare_in_the_sample_but_not_later_still_counts_exactly(
    tmp_path: Path,
) -> None:
    # No "A" in the first lines, so "WARN", "FATAL" and "CRITICAL" are looked for through
    # their "A"; later "A"s abound, so that search gives up midway and finds them another way.
    log = log_source(tmp_path)
    quiet = [f"{STAMP} INFO ok {n}" for n in range(400)]
    loud = [
        "AAAA BANANA " + ("WARN x" if n % 3 == 0 else "FATAL" if n % 3 == 1 else "CRITICALLY")
        for n in range(3000)
    ]
    append(log.path, *quiet, *loud)
    scan = scan_log(log, tmp_path / "state")
    assert (scan.errors, scan.warnings) == (1000, 1000)


def test_small_chunks_and_overlong_lines_give_the_same_answer(tmp_path: Path) -> None:
    log = log_source(tmp_path)
    lines = [
        f"{STAMP} {'ERROR' if n % 7 == 0 else 'INFO'} item {n} " + "x" * (n % 50)
        for n in range(500)
    ]
    lines.append("ERROR " + "y" * 5000)  # longer than a chunk
    append(log.path, *lines)
    big = scan_log(log, tmp_path / "a", commit=False)
    small = scan_log(log, tmp_path / "b", chunk_size=64, commit=False)
    assert big.errors == small.errors == 73
    assert big.error_groups == small.error_groups
    assert big.bytes_scanned == small.bytes_scanned == log.path.stat().st_size


def test_missing_log_is_reported_not_raised(tmp_path: Path) -> None:
    scan = scan_log(log_source(tmp_path), tmp_path / "state")
    assert scan.missing and scan.errors == 0


# ---------------------------------------------------------------- lines longer than the buffer


@pytest.mark.parametrize("where", ["start", "middle", "across", "end"])
def test_a_line_longer_than_the_buffer_is_judged_whole(tmp_path: Path, where: str) -> None:
    # Chunks of 64 bytes: the ERROR of a 5 KB line is found wherever it is, even split between
    # two chunks, and the line counts once, as an example of a few hundred bytes.
    log = log_source(tmp_path)
    filler = "y" * 5000
    at = {"start": 0, "middle": 2500, "across": 64 * 40 - 2, "end": 5000}[where]
    long_line = filler[:at] + " ERROR " + filler[at:]
    append(log.path, "INFO before", long_line, "WARNING after")
    scan = scan_log(log, tmp_path / "state", chunk_size=64)
    assert (scan.errors, scan.warnings) == (1, 1)
    assert scan.bytes_scanned == scan.offset == log.path.stat().st_size
    [group] = scan.error_groups
    assert group.first.endswith("…«cut: 4.9 KiB line»") and len(group.first.encode()) < 400
    assert group.first == group.last
    assert scan_log(log, tmp_path / "state", chunk_size=64).errors == 0


def test_a_long_line_without_its_newline_yet_waits_for_the_next_scan(tmp_path: Path) -> None:
    log, state = log_source(tmp_path), tmp_path / "state"
    append(log.path, "ERROR whole", "ERROR " + "z" * 1000, end="")
    scan = scan_log(log, state, chunk_size=64)
    assert scan.errors == 1 and scan.offset == len("ERROR whole\n")
    append(log.path, " done")
    scan = scan_log(log, state, chunk_size=64)
    assert scan.errors == 1 and scan.offset == log.path.stat().st_size


def test_a_long_line_in_a_compressed_rotated_copy_is_read_in_pieces(tmp_path: Path) -> None:
    log, state = log_source(tmp_path), tmp_path / "state"
    append(log.path, "INFO started")
    scan_log(log, state)
    append(log.path, "x" * 3000 + " FATAL at the end", "WARNING " + "w" * 3000)
    with log.path.open("rb") as plain, gzip.open(f"{log.path}.1.gz", "wb") as packed:
        packed.write(plain.read())
    log.path.write_text("")
    scan = scan_log(log, state, chunk_size=256)
    assert scan.truncated and (scan.errors, scan.warnings) == (1, 1)
    assert scan.error_groups[0].first.endswith("…«cut: 2.9 KiB line»")


@settings(max_examples=80, deadline=None)
@given(st.lists(LINES, max_size=40), st.sampled_from([16, 24]), PATTERN_SETS)
def test_long_lines_judged_in_windows_count_what_a_line_by_line_regex_counts(
    lines: list[str], chunk: int, patterns: tuple[tuple[str, ...], tuple[str, ...]]
) -> None:
    # Windows overlapping by 32 bytes (exact for matches up to 16 bytes long, as every match of
    # these patterns is) over lines up to 100 bytes read in chunks of 16 or 24.
    original = matching.WINDOW_OVERLAP
    matching.WINDOW_OVERLAP = 32
    try:
        with tempfile.TemporaryDirectory() as tmp:
            log = LogSource("p", Path(tmp) / "p.log", *patterns, first_scan_window=None)
            log.path.write_text("".join(line * 3 + "\n" for line in lines), newline="")
            scan = scan_log(log, Path(tmp) / "state", chunk_size=chunk)
    finally:
        matching.WINDOW_OVERLAP = original
    tripled = [line * 3 for line in lines]
    is_error = [any(re.search(p, line) for p in log.error_patterns) for line in tripled]
    is_warn = [
        not e and any(re.search(p, line) for p in log.warn_patterns)
        for line, e in zip(tripled, is_error, strict=True)
    ]
    assert (scan.errors, scan.warnings) == (sum(is_error), sum(is_warn))


@pytest.mark.slow
def test_a_100_mb_line_is_scanned_in_memory_bounded_by_the_buffer(tmp_path: Path) -> None:
    log = log_source(tmp_path)
    with log.path.open("wb") as handle:
        handle.write(f"{STAMP} ERROR upstream sent ".encode())
        for _ in range(100):
            handle.write(b"x" * (1 << 20))
        handle.write(b"\n")
    probe = (
        "import resource, sys\n"
        "from pathlib import Path\n"
        "from upkeep.config import LogSource\n"
        "from upkeep.logs.scan import scan_log\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        f"log = LogSource('app', Path({str(log.path)!r}), first_scan_window=None)\n"
        f"scan = scan_log(log, Path({str(tmp_path)!r}))\n"
        "grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before\n"
        "print(scan.errors, len(scan.error_groups[0].first.encode()), grown * 1024)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=300
    ).stdout
    errors, example_bytes, grown = map(int, out.split())
    assert errors == 1 and example_bytes < 400
    # A few chunks of 4 MiB at most, whatever the line's length.
    assert grown < 6 * CHUNK_SIZE, f"the scan grew by {grown >> 20} MiB"


# ---------------------------------------------------------------- what is not a regular file


def _scan_in_a_thread(log: LogSource, state: Path) -> LogScan:
    """scan_log, given 10 s: a scan that blocks fails the test instead of hanging it."""
    results: list[LogScan] = []
    worker = threading.Thread(target=lambda: results.append(scan_log(log, state)), daemon=True)
    worker.start()
    worker.join(10)
    if worker.is_alive():
        # Unblock it: a writer opening the FIFO lets a reader blocked in open() go on.
        os.close(os.open(log.path, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(10)
        pytest.fail(f"scanning {log.path} blocked")
    return results[0]


def test_a_fifo_is_reported_and_never_waited_on(tmp_path: Path) -> None:
    log = log_source(tmp_path)
    os.mkfifo(log.path)
    scan = _scan_in_a_thread(log, tmp_path / "state")
    assert scan.not_regular == "a FIFO" and scan.errors == 0
    assert not (tmp_path / "state").exists()


def test_a_device_is_reported_not_read(tmp_path: Path) -> None:
    log = LogSource("null", Path("/dev/null"))
    assert scan_log(log, tmp_path / "state").not_regular == "a character device"
    link = tmp_path / "zero.log"
    link.symlink_to("/dev/zero")
    assert scan_log(LogSource("zero", link), tmp_path / "state").not_regular == (
        "a character device"
    )


def test_a_rotated_copy_that_is_a_fifo_is_skipped_not_waited_on(tmp_path: Path) -> None:
    log, state = log_source(tmp_path), tmp_path / "state"
    append(log.path, "ERROR one")
    scan_log(log, state)
    append(log.path, "ERROR two, unread when rotated")
    log.path.rename(tmp_path / "app.log.2")  # the file the scan was reading
    os.mkfifo(tmp_path / "app.log.1")  # a newer copy, which a scan reads in full
    append(log.path, "ERROR three")
    scan = _scan_in_a_thread(log, state)
    assert scan.rotated and scan.errors == 2
    assert [g.first for g in scan.error_groups] == ["ERROR two, unread when rotated", "ERROR three"]
    assert scan.unreadable == ("app.log.1: a FIFO, not a regular file",)


def test_a_damaged_compressed_copy_is_named_and_its_readable_lines_count(tmp_path: Path) -> None:
    log, state = log_source(tmp_path), tmp_path / "state"
    append(log.path, "ERROR before the first scan")
    scan_log(log, state)
    append(log.path, *(f"ERROR unread {i} when rotated" for i in range(20_000)))
    rotated = log.path.with_name("app.log.1.gz")
    rotated.write_bytes(gzip.compress(log.path.read_bytes()))
    log.path.unlink()
    whole = rotated.read_bytes()
    rotated.write_bytes(whole[: len(whole) // 2])  # cut short: a disk filled while gzip wrote
    append(log.path, "ERROR after the rotation")
    scan = scan_log(log, state)
    assert scan.rotated or scan.truncated  # the new file may take the old one's inode
    assert scan.unreadable and scan.unreadable[0].startswith("app.log.1.gz: damaged (")
    assert "the lines before the damage were counted" in scan.unreadable[0]
    # The new file whole, and of the copy what decompressed before the damage (not all of it).
    assert 1 + 1000 < scan.errors < 1 + 20_000


def test_a_copy_that_is_a_symlink_loop_leaves_the_log_itself_read(tmp_path: Path) -> None:
    log, state = log_source(tmp_path), tmp_path / "state"
    append(log.path, "ERROR one")
    scan_log(log, state)
    (tmp_path / "app.log.7").symlink_to("app.log.7")  # points at itself: ELOOP when followed
    log.path.rename(tmp_path / "app.log.1")
    append(log.path, "ERROR two")
    scan = scan_log(log, state)
    assert scan.errors == 1 and scan.error_groups[0].first == "ERROR two"
    assert scan.unreadable == ()  # written before the last scan: never a copy to read


def test_the_health_check_warns_about_a_copy_it_could_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorded = Recorder()
    monkeypatch.setattr(health, "report", recorded)
    config = make_config(tmp_path, "logs:\n  - {name: app, path: app.log, first_scan: whole}\n")
    log = config.logs[0]
    append(log.path, "ERROR one")
    health.record_logs(config)
    log.path.rename(tmp_path / "app.log.2")
    os.mkfifo(tmp_path / "app.log.1")
    append(log.path, "ERROR three")
    health.record_logs(config)
    check = recorded.checks()["log:app:rotated-copies"]
    assert check["status"] == Status.WARN
    assert check["message"] == (
        f"1 rotated copy of {log.path} could not be read in full: app.log.1: a FIFO, not a"
        " regular file"
    )


def test_control_characters_in_a_line_are_shown_not_passed_on(tmp_path: Path) -> None:
    """A line may carry escape sequences (set a terminal's title, clear it), a NUL or a
    backspace: shown in terminals, reports and the site, none of them may act."""
    log, state = log_source(tmp_path), tmp_path / "state"
    log.path.write_bytes(
        b"ERROR login failed \x1b]0;PWNED\x07 for \x1b[2J\x1bc user\x00x\x08y\tz \xc2\x9b6n\n"
    )
    scan = scan_log(log, state)
    group = scan.error_groups[0]
    for text in (group.template, group.first, group.last):
        assert not any(ord(char) < 0x20 and char != "\t" for char in text), repr(text)
        assert not any(0x7F <= ord(char) < 0xA0 for char in text), repr(text)
    assert group.first == ("ERROR login failed ␛]0;PWNED␇ for ␛[2J␛c user␀x␈y\tz \ufffd6n")
