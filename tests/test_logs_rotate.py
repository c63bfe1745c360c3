"""Tests for upkeep.logs.rotate: real files, real gzip, real writer processes, and the scan
that reads a log across its rotations."""

from __future__ import annotations

import gzip
import os
import select
import shutil
import stat
import subprocess
import sys
import textwrap
import time
import zoneinfo
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers.vanishing import vanishing

from upkeep.config import LogCreate, LogRotation, LogSource
from upkeep.logs.rotate import rotate_logs
from upkeep.logs.rotation_plan import RotationResult, survey
from upkeep.logs.scan import scan_log
from upkeep.procedures.logrotate import summary

NOW = datetime(2026, 11, 18, 3, 0, tzinfo=UTC)  # a Wednesday


def source(tmp_path: Path, name: str = "app", **rotate: Any) -> LogSource:
    return LogSource(
        name, tmp_path / f"{name}.log", rotate=LogRotation(**rotate), first_scan_window=None
    )


def rotate(
    log: LogSource, tmp_path: Path, now: datetime = NOW, *, dry_run: bool = False
) -> RotationResult:
    [result] = rotate_logs([log], state_dir=tmp_path / "state", dry_run=dry_run, now=now)
    return result


def names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.is_symlink() or not p.is_dir())


def snapshot(directory: Path) -> dict[str, tuple[str, bytes, int]]:
    """Every entry under `directory`: its kind, content (or link target) and mtime."""
    found = {}
    for path in sorted(directory.rglob("*")):
        st = path.lstat()
        if path.is_symlink():
            found[str(path)] = ("link", os.readlink(path).encode(), st.st_mtime_ns)
        elif path.is_file():
            found[str(path)] = ("file", path.read_bytes(), st.st_mtime_ns)
        else:
            found[str(path)] = ("dir", b"", st.st_mtime_ns)
    return found


def age(path: Path, days: float, now: datetime = NOW) -> None:
    moment = (now - timedelta(days=days)).timestamp()
    os.utime(path, (moment, moment))


# ---------------------------------------------------------------- when to rotate


def test_size_trigger_rotates_only_a_log_over_max_bytes(tmp_path: Path) -> None:
    log = source(tmp_path, max_bytes=100)
    log.path.write_bytes(b"x" * 100 + b"\n")
    small = source(tmp_path, "small", max_bytes=200)
    small.path.write_bytes(b"y" * 100 + b"\n")
    big, under = rotate_logs([log, small], state_dir=tmp_path / "state", dry_run=False, now=NOW)
    assert big.rotated and "over max_bytes 100" in big.reason
    assert (tmp_path / "app.log.1").read_bytes() == b"x" * 100 + b"\n"
    assert log.path.read_bytes() == b""  # a new, empty log for the writer to reopen
    assert not under.rotated and under.reason == "not due"
    assert names(tmp_path) == ["app.log", "app.log.1", "small.log"]


def test_age_counts_from_first_sight_then_from_the_last_rotation(tmp_path: Path) -> None:
    log = source(tmp_path, max_age_days=7)
    log.path.write_text("old line\n")
    first = rotate(log, tmp_path)
    assert not first.rotated and first.reason == "not due"  # the clock starts now
    assert not rotate(log, tmp_path, NOW + timedelta(days=6)).rotated
    due = rotate(log, tmp_path, NOW + timedelta(days=7))
    assert due.rotated and due.reason.startswith("first seen 7.0 days ago")
    # From now on the rotation time on app.log.1 is the clock, not the first sight.
    assert (tmp_path / "app.log.1").stat().st_mtime == (NOW + timedelta(days=7)).timestamp()
    log.path.write_text("new line\n")
    assert not rotate(log, tmp_path, NOW + timedelta(days=13)).rotated
    again = rotate(log, tmp_path, NOW + timedelta(days=14))
    assert again.rotated and again.reason.startswith("last rotated 7.0 days ago")


def test_an_empty_log_is_not_rotated(tmp_path: Path) -> None:
    log = source(tmp_path, max_age_days=0)
    log.path.write_text("")
    result = rotate(log, tmp_path)
    assert not result.rotated and result.reason.startswith("empty")
    assert names(tmp_path) == ["app.log"]


def test_never_twice_in_a_period_even_without_any_saved_state(tmp_path: Path) -> None:
    log = source(tmp_path, max_bytes=10, period="daily")
    log.path.write_text("first day, long enough\n")
    assert rotate(log, tmp_path).rotated
    log.path.write_text("same day, long enough again\n")
    later = rotate(log, tmp_path, NOW + timedelta(hours=20))
    assert not later.rotated and later.reason.startswith("already rotated this day")
    # The rule lives in the files: a run whose state was never published changes nothing.
    shutil.rmtree(tmp_path / "state", ignore_errors=True)
    assert not rotate(log, tmp_path, NOW + timedelta(hours=20)).rotated
    assert (tmp_path / "app.log.1").read_text() == "first day, long enough\n"
    assert rotate(log, tmp_path, NOW + timedelta(hours=21)).rotated  # the next calendar day
    assert (tmp_path / "app.log.1").read_text() == "same day, long enough again\n"


@pytest.mark.parametrize(
    ("period", "same", "next_"),
    [
        ("hourly", NOW + timedelta(minutes=59), NOW + timedelta(minutes=60)),
        ("daily", NOW + timedelta(hours=20, minutes=59), NOW + timedelta(hours=21)),
        ("weekly", NOW + timedelta(days=4, hours=20), NOW + timedelta(days=4, hours=21)),
        ("monthly", datetime(2026, 11, 30, 23, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)),
    ],
)
def test_periods_are_calendar_periods(
    tmp_path: Path, period: str, same: datetime, next_: datetime
) -> None:
    log = source(tmp_path, max_bytes=1, period=period)
    log.path.write_text("one\n")
    assert rotate(log, tmp_path).rotated
    log.path.write_text("two\n")
    assert not rotate(log, tmp_path, same).rotated
    assert rotate(log, tmp_path, next_).rotated


def test_periods_follow_the_time_zone_of_now(tmp_path: Path) -> None:
    # 03:00 UTC on the 18th is still the 17th in New York: 21:30 UTC there is the 18th.
    log = source(tmp_path, max_bytes=1)
    log.path.write_text("one\n")
    new_york = NOW.astimezone(zoneinfo.ZoneInfo("America/New_York"))
    assert rotate(log, tmp_path, new_york).rotated
    log.path.write_text("two\n")
    assert rotate(log, tmp_path, new_york + timedelta(hours=2)).rotated


# ---------------------------------------------------------------- copies: keep, compress, age


def test_keep_n_leaves_exactly_n_copies_newest_first(tmp_path: Path) -> None:
    log = source(tmp_path, max_bytes=1, keep=3)
    for day in range(5):
        log.path.write_text(f"written on day {day}\n")
        assert rotate(log, tmp_path, NOW + timedelta(days=day)).rotated
    assert names(tmp_path) == ["app.log", "app.log.1", "app.log.2.gz", "app.log.3.gz"]
    assert (tmp_path / "app.log.1").read_text() == "written on day 4\n"
    assert gzip.decompress((tmp_path / "app.log.2.gz").read_bytes()) == b"written on day 3\n"
    assert gzip.decompress((tmp_path / "app.log.3.gz").read_bytes()) == b"written on day 2\n"


def test_a_rotation_stopped_part_way_reports_only_what_it_did(tmp_path: Path) -> None:
    # The oldest copy cannot be deleted (immutable: root cannot unlink it either), so moving
    # the next one into its place fails and the rest is not done. The result listed every
    # planned step as done, "rotated", and one old copy deleted.
    log = source(tmp_path, max_bytes=1, keep=3, method="copytruncate")
    for day in range(4):
        log.path.write_text(f"written on day {day}\n")
        rotate(log, tmp_path, NOW + timedelta(days=day))
    log.path.write_text("written on day 5\n")
    before = snapshot(tmp_path)
    oldest = tmp_path / "app.log.3.gz"
    subprocess.run(["chattr", "+i", str(oldest)], check=True)  # ext4, as root: this machine's
    try:
        result = rotate(log, tmp_path, NOW + timedelta(days=5))
    finally:
        subprocess.run(["chattr", "-i", str(oldest)], check=True)

    assert not result.rotated and result.steps == ()
    assert summary(result) == "not rotated: move app.log.2.gz -> app.log.3.gz failed"
    assert [p.kind for p in result.problems] == ["delete", "error"]
    assert snapshot(tmp_path) == before  # nothing was done, and nothing is said to be


def test_keep_shrinking_prunes_without_rotating(tmp_path: Path) -> None:
    log = source(tmp_path, max_bytes=1000, keep=2)
    log.path.write_text("small\n")
    for index in (1, 2, 3, 4):
        (tmp_path / f"app.log.{index}").write_text(f"copy {index}\n")
    result = rotate(log, tmp_path)
    assert not result.rotated and result.bytes_freed == 2 * len("copy 3\n")
    assert names(tmp_path) == ["app.log", "app.log.1", "app.log.2.gz"]


def test_compressed_copies_round_trip_and_plain_copies_stay_plain(tmp_path: Path) -> None:
    log = source(tmp_path, max_bytes=1, keep=5)
    content = "".join(f"2026-11-18 03:00:{n % 60:02d} INFO request {n} ok\n" for n in range(5000))
    log.path.write_text(content)
    rotate(log, tmp_path)
    log.path.write_text("next\n")
    rotate(log, tmp_path, NOW + timedelta(days=1))
    packed = tmp_path / "app.log.2.gz"
    assert gzip.decompress(packed.read_bytes()) == content.encode()
    assert packed.stat().st_size < len(content) // 5
    assert packed.stat().st_mtime == NOW.timestamp()  # compression keeps the rotation time
    if shutil.which("gzip"):  # what an engineer with zcat or less would see
        unpacked = subprocess.run(["gzip", "-dc", str(packed)], capture_output=True, check=True)
        assert unpacked.stdout == content.encode()
    assert (tmp_path / "app.log.1").read_text() == "next\n"


def test_compress_false_keeps_every_copy_plain(tmp_path: Path) -> None:
    log = source(tmp_path, max_bytes=1, keep=3, compress=False)
    for day in range(3):
        log.path.write_text(f"day {day}\n")
        rotate(log, tmp_path, NOW + timedelta(days=day))
    assert names(tmp_path) == ["app.log", "app.log.1", "app.log.2", "app.log.3"]
    assert (tmp_path / "app.log.3").read_text() == "day 0\n"


def test_copies_older_than_max_copy_age_are_deleted(tmp_path: Path) -> None:
    log = source(tmp_path, max_bytes=1000, keep=9, max_copy_age_days=10)
    log.path.write_text("live\n")
    for index, days in ((1, 1), (2, 9.9), (3, 10.1), (4, 30)):
        copy = tmp_path / (f"app.log.{index}" + (".gz" if index > 1 else ""))
        copy.write_bytes(b"copy")
        age(copy, days)
    result = rotate(log, tmp_path)
    assert not result.rotated
    assert names(tmp_path) == ["app.log", "app.log.1", "app.log.2.gz"]
    assert result.bytes_freed == 8
    assert [s.detail for s in result.steps] == ["older than 10 days"] * 2


def test_a_copy_compressed_before_a_crash_loses_its_plain_twin(tmp_path: Path) -> None:
    log = source(tmp_path, max_bytes=1000)
    log.path.write_text("live\n")
    (tmp_path / "app.log.2").write_text("both\n")
    (tmp_path / "app.log.2.gz").write_bytes(gzip.compress(b"both\n"))
    rotate(log, tmp_path)
    assert names(tmp_path) == ["app.log", "app.log.2.gz"]


def test_a_plain_and_a_compressed_first_copy_stop_the_rotation(tmp_path: Path) -> None:
    # Which of the two the health check still has to read cannot be told: touch neither.
    log = source(tmp_path, max_bytes=1)
    log.path.write_text("due\n")
    (tmp_path / "app.log.1").write_text("plain\n")
    (tmp_path / "app.log.1.gz").write_bytes(gzip.compress(b"packed\n"))
    before = snapshot(tmp_path)
    result = rotate(log, tmp_path)
    assert not result.rotated and [p.kind for p in result.problems] == ["duplicate"]
    assert snapshot(tmp_path) == before


# ---------------------------------------------------------------- writers: rename, copytruncate

WRITER = textwrap.dedent(
    """
    import os, signal, sys
    path, pid_file = sys.argv[1], sys.argv[2]
    log = open(path, "a", buffering=1)  # append mode: copytruncate needs it

    def reopen(signum, frame):
        global log
        log.close()
        log = open(path, "a", buffering=1)
        print("reopened", flush=True)

    signal.signal(signal.SIGHUP, reopen)
    with open(pid_file + ".tmp", "w") as handle:
        handle.write(f"{os.getpid()}\\n")
    os.rename(pid_file + ".tmp", pid_file)
    print("ready", flush=True)
    for line in sys.stdin:
        log.write(line)
        print("ok", flush=True)
    """
)


class Writer:
    """A real process that appends to a log whatever line the test sends it."""

    def __init__(self, log: Path, pid_file: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(log), str(pid_file)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.expect() == "ready"

    def expect(self, timeout_s: float = 20) -> str:
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout_s)
        assert ready, "the writer process did not answer"
        return self.process.stdout.readline().strip()

    def write(self, *lines: str) -> None:
        assert self.process.stdin is not None
        for line in lines:
            self.process.stdin.write(line + "\n")
            self.process.stdin.flush()
            assert self.expect() == "ok"

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[Writer]:
    started = Writer(tmp_path / "app.log", tmp_path / "app.pid")
    yield started
    started.stop()


def test_rename_then_signal_makes_the_real_writer_reopen(tmp_path: Path, writer: Writer) -> None:
    log = source(tmp_path, max_bytes=1, pid_file=tmp_path / "app.pid")
    writer.write("ERROR before 1", "ERROR before 2")
    result = rotate(log, tmp_path)
    assert result.rotated and result.problems == ()
    assert [s.action for s in result.steps] == ["rename", "create", "signal"]
    assert writer.expect() == "reopened"  # SIGHUP reached it
    writer.write("INFO after")
    assert (tmp_path / "app.log.1").read_text() == "ERROR before 1\nERROR before 2\n"
    assert log.path.read_text() == "INFO after\n"


def test_copytruncate_keeps_the_writers_handle_working(tmp_path: Path, writer: Writer) -> None:
    log = source(tmp_path, max_bytes=1, method="copytruncate")
    writer.write("line 1", "line 2")
    inode = log.path.stat().st_ino
    result = rotate(log, tmp_path)
    assert result.rotated and result.lost_window_s is not None and result.lost_window_s >= 0
    writer.write("line 3")
    assert (tmp_path / "app.log.1").read_text() == "line 1\nline 2\n"
    # Same file, written from its start again (an append-mode handle: no hole of zero bytes).
    assert log.path.stat().st_ino == inode and log.path.read_bytes() == b"line 3\n"
    assert "between copy and truncate are lost" in summary(result)


def test_missing_or_stale_pid_file_is_reported_and_the_log_still_rotates(tmp_path: Path) -> None:
    pid_file = tmp_path / "app.pid"
    log = source(tmp_path, max_bytes=1, pid_file=pid_file)
    log.path.write_text("ERROR one\n")
    missing = rotate(log, tmp_path)
    assert missing.rotated and missing.status == "warn"
    assert [p.kind for p in missing.problems] == ["pid-file"]
    assert "No such file" in missing.problems[0].message
    assert "not told to reopen" in missing.problems[0].message
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    pid_file.write_text(f"{gone.pid}\n")
    log.path.write_text("ERROR two\n")
    stale = rotate(log, tmp_path, NOW + timedelta(days=1))
    assert stale.rotated and "stale pid file" in stale.problems[0].message
    assert (tmp_path / "app.log.1").read_text() == "ERROR two\n"


def test_a_reused_pid_is_not_signalled(tmp_path: Path) -> None:
    pid_file = tmp_path / "app.pid"
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        pid_file.write_text(f"{bystander.pid}\n")
        age(pid_file, 1, datetime.now(UTC))  # written a day before this process started
        log = source(tmp_path, max_bytes=1, pid_file=pid_file)
        log.path.write_text("ERROR one\n")
        result = rotate(log, tmp_path)
        assert result.rotated and "the pid was reused" in result.problems[0].message
        time.sleep(0.2)
        assert bystander.poll() is None  # SIGHUP would have ended it
    finally:
        bystander.kill()
        bystander.wait()


def test_rename_without_a_pid_file_is_reported(tmp_path: Path) -> None:
    log = source(tmp_path, max_bytes=1)
    log.path.write_text("x\n")
    result = rotate(log, tmp_path, dry_run=True)
    assert result.rotated and "no pid_file configured" in result.problems[0].message
    # Without a pid_file there is no signal step: the problem is the report, in both modes.
    assert rotate(log, tmp_path).problems == result.problems


def test_a_postrotate_command_makes_the_real_writer_reopen_without_a_pid_file(
    tmp_path: Path, writer: Writer
) -> None:
    # As logrotate's nginx entry does it: `kill -USR1 $(cat /run/nginx.pid)`; the log is $1.
    command = f'kill -HUP "$(cat {tmp_path}/app.pid)" && echo "$1" > {tmp_path}/reopened-log'
    log = source(tmp_path, max_bytes=1, postrotate=command)
    writer.write("ERROR before")
    result = rotate(log, tmp_path)
    assert result.rotated and result.problems == ()
    assert [s.action for s in result.steps] == ["rename", "create", "postrotate"]
    assert writer.expect() == "reopened"
    writer.write("INFO after")
    assert (tmp_path / "app.log.1").read_text() == "ERROR before\n"
    assert log.path.read_text() == "INFO after\n"
    assert (tmp_path / "reopened-log").read_text() == f"{log.path}\n"


def test_a_dry_run_lists_the_postrotate_command_and_does_not_run_it(tmp_path: Path) -> None:
    log = source(tmp_path, max_bytes=1, postrotate=f"touch {tmp_path}/ran")
    log.path.write_text("x\n")
    result = rotate(log, tmp_path, dry_run=True)
    assert result.problems == ()  # the command will tell the writer: no pid file needed
    assert result.steps[-1].describe() == f"run postrotate: touch {tmp_path}/ran"
    assert not (tmp_path / "ran").exists() and names(tmp_path) == ["app.log"]


def test_a_failing_or_hanging_postrotate_command_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = source(tmp_path, max_bytes=1, postrotate="echo 'nginx: reload refused' >&2; exit 3")
    log.path.write_text("x\n")
    failed = rotate(log, tmp_path)
    assert failed.rotated and failed.status == "warn"
    assert [p.message for p in failed.problems] == [
        "postrotate exited with status 3: nginx: reload refused; the writer may keep writing"
        " to app.log.1"
    ]
    monkeypatch.setattr("upkeep.logs.reopen.POSTROTATE_TIMEOUT_S", 0.5)
    hung = source(tmp_path, max_bytes=1, postrotate="sleep 60 & sleep 60")
    hung.path.write_text("y\n")
    started = time.monotonic()
    result = rotate(hung, tmp_path, NOW + timedelta(days=1))
    assert time.monotonic() - started < 10  # both sleeps stopped, not waited for
    assert "postrotate did not finish in 0.5 s and was stopped" in result.problems[0].message


def test_create_gives_the_new_log_the_mode_and_owner_asked_for(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("changing a file's owner needs root")
    create = LogCreate(mode=0o640, owner="65534", group="65534")
    log = source(tmp_path, max_bytes=1, postrotate="true", create=create)
    log.path.write_text("x\n")
    log.path.chmod(0o600)
    assert rotate(log, tmp_path).problems == ()
    made = log.path.stat()
    assert (stat.S_IMODE(made.st_mode), made.st_uid, made.st_gid) == (0o640, 65534, 65534)
    assert stat.S_IMODE((tmp_path / "app.log.1").stat().st_mode) == 0o600  # the old one as it was


def test_a_wildcard_path_rotates_every_log_it_matches(tmp_path: Path) -> None:
    for name in ("access.log", "error.log"):
        (tmp_path / name).write_text(f"{name}\n")
    log = LogSource(
        "nginx",
        tmp_path / "*.log",
        rotate=LogRotation(max_bytes=1, method="copytruncate", compress=False),
    )
    results = rotate_logs([log], state_dir=tmp_path / "state", dry_run=False, now=NOW)
    assert [(r.name, r.rotated) for r in results] == [
        ("nginx:access.log", True),
        ("nginx:error.log", True),
    ]
    assert (tmp_path / "error.log.1").read_text() == "error.log\n"
    # The copies are not logs of their own the next time.
    again = rotate_logs([log], state_dir=tmp_path / "state", dry_run=False, now=NOW)
    assert [r.name for r in again] == ["nginx:access.log", "nginx:error.log"]


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_log_whose_folder_is_reached_through_a_symlink_is_not_rotated(
    tmp_path: Path, dry_run: bool
) -> None:
    # Copies were moved through the link, then could not be deleted or compressed (those open
    # the folder without following links): half a rotation, the same every day after, while
    # the dry run said all was well.
    (tmp_path / "real").mkdir()
    (tmp_path / "logs").symlink_to(tmp_path / "real")
    (tmp_path / "real" / "app.log").write_text("line\n" * 100)
    (tmp_path / "real" / "app.log.1").write_text("older\n")
    before = snapshot(tmp_path / "real")
    log = LogSource("app", tmp_path / "logs" / "app.log", rotate=LogRotation(max_bytes=1, keep=3))

    [result] = rotate_logs([log], state_dir=tmp_path / "state", dry_run=dry_run, now=NOW)

    assert not result.rotated and result.steps == ()
    assert summary(result).endswith(
        f"not rotated: {tmp_path}/logs (the log's folder) is reached through a symlink"
    )
    assert [p.kind for p in result.problems] == ["symlink"]
    assert "name the real folder in logs[].path" in result.problems[0].message
    assert snapshot(tmp_path / "real") == before


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_wildcard_never_rotates_copies_whose_log_is_missing(
    tmp_path: Path, dry_run: bool
) -> None:
    # With `logs/*` and app.log gone for a while, its copies matched as logs of their own and
    # were copytruncated: app.log.1.1 and app.log.2.gz.1, an empty app.log.2.gz left behind.
    (tmp_path / "app.log.1").write_text("line\n" * 100)
    (tmp_path / "app.log.2.gz").write_bytes(gzip.compress(b"older\n" * 100))
    before = snapshot(tmp_path)
    log = LogSource("app", tmp_path / "*", rotate=LogRotation(max_bytes=1, method="copytruncate"))

    results = rotate_logs([log], state_dir=tmp_path / "state", dry_run=dry_run, now=NOW)

    assert [(r.name, r.rotated, summary(r)) for r in results] == [
        (f"app:{name}", False, f"{'(dry run) ' * dry_run}not rotated: named like a rotated "
         "copy of app.log, which is not there")
        for name in ("app.log.1", "app.log.2.gz")
    ]  # fmt: skip
    assert snapshot(tmp_path) == before


def test_a_wildcard_folder_that_cannot_be_listed_is_a_failed_rotation(tmp_path: Path) -> None:
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    log = LogSource("web", tmp_path / "loop" / "*.log", rotate=LogRotation(max_bytes=1))
    [result] = rotate_logs([log], state_dir=tmp_path / "state", dry_run=False, now=NOW)
    assert result.status == "fail" and not result.rotated
    assert result.problems[0].message.startswith(f"{tmp_path}/loop: ")


# ---------------------------------------------------------------- never following a symlink


def test_a_symlinked_log_is_not_rotated_and_its_target_untouched(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    precious = elsewhere / "precious.db"
    precious.write_bytes(b"precious" * 100)
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "app.log").symlink_to(precious)
    log = source(logs, max_bytes=1)
    before = snapshot(tmp_path)
    result = rotate(log, tmp_path)
    assert not result.rotated and result.status == "warn"
    assert result.problems[0].kind == "symlink" and result.steps == ()
    assert snapshot(tmp_path) == before


def test_a_symlinked_copy_is_neither_followed_nor_deleted(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    precious = elsewhere / "precious.gz"
    precious.write_bytes(b"precious")
    logs = tmp_path / "logs"
    logs.mkdir()
    log = source(logs, max_bytes=1, keep=1, max_copy_age_days=0)
    log.path.write_text("ERROR due\n")
    (logs / "app.log.1").write_text("old\n")
    (logs / "app.log.2.gz").symlink_to(precious)  # beyond keep, and old: would be deleted
    age(precious, 100)
    before = snapshot(tmp_path)
    result = rotate(log, tmp_path)
    assert not result.rotated
    assert [p.kind for p in result.problems] == ["symlink"]
    assert "app.log.2.gz" in result.problems[0].message
    assert snapshot(tmp_path) == before


# ---------------------------------------------------------------- dry run


def test_dry_run_changes_nothing_and_plans_what_the_real_run_does(tmp_path: Path) -> None:
    log = source(tmp_path, max_bytes=10, keep=3, max_copy_age_days=20)
    log.path.write_text("ERROR a line long enough to be over max_bytes\n")
    (tmp_path / "app.log.1").write_text("copy one\n")
    (tmp_path / "app.log.2.gz").write_bytes(gzip.compress(b"copy two\n"))
    (tmp_path / "app.log.3.gz").write_bytes(gzip.compress(b"copy three, beyond keep\n"))
    age(tmp_path / "app.log.2.gz", 30)  # too old
    for index, path in enumerate(sorted(tmp_path.glob("app.log.*"))):
        if index != 1:
            age(path, index + 1)
    before = snapshot(tmp_path)
    dry = rotate(log, tmp_path, dry_run=True)
    assert snapshot(tmp_path) == before and not (tmp_path / "state").exists()
    real = rotate(log, tmp_path)
    assert (dry.rotated, dry.steps, dry.bytes_freed) == (real.rotated, real.steps, real.bytes_freed)
    assert dry.dry_run and not real.dry_run
    assert [s.describe() for s in real.steps] == [
        "delete app.log.2.gz (older than 20 days)",
        "delete app.log.3.gz (beyond keep 3)",
        "move app.log.1 -> app.log.2",
        "rename app.log -> app.log.1",
        "create app.log",
        "compress app.log.2 -> app.log.2.gz",
    ]
    assert names(tmp_path) == ["app.log", "app.log.1", "app.log.2.gz"]
    assert "(dry run) rotated by rename" in summary(dry)


def test_a_directory_in_a_copy_slot_stops_the_rotation(tmp_path: Path) -> None:
    log = source(tmp_path, max_bytes=1, keep=3, compress=False)
    log.path.write_text("due\n")
    (tmp_path / "app.log.1").write_text("one\n")
    result = rotate(log, tmp_path)  # fine: app.log.1 -> .2, app.log -> .1
    log.path.write_text("due again\n")
    (tmp_path / "app.log.3").mkdir()  # in the way of the shift, and not a regular file
    blocked = rotate(log, tmp_path, NOW + timedelta(days=1))
    assert result.rotated and not blocked.rotated and blocked.problems[0].kind == "not-regular"
    assert log.path.read_text() == "due again\n"


def test_naive_now_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        rotate_logs(
            [source(tmp_path, max_bytes=1)],
            state_dir=tmp_path,
            dry_run=True,
            now=NOW.replace(tzinfo=None),
        )


def test_logs_without_a_rotate_policy_are_left_alone(tmp_path: Path) -> None:
    log = replace(source(tmp_path, max_bytes=1), rotate=None)
    log.path.write_text("x\n")
    assert rotate_logs([log], state_dir=tmp_path, dry_run=False, now=NOW) == []
    assert names(tmp_path) == ["app.log"]


# ---------------------------------------------------------------- with the health check


@pytest.mark.parametrize("method", ["rename", "copytruncate"])
def test_error_lines_written_just_before_a_rotation_are_counted_by_the_next_scan(
    tmp_path: Path, method: str
) -> None:
    log = source(tmp_path, max_bytes=1, method=method, keep=3)
    log.path.write_text("ERROR seen by the first scan\n")
    assert scan_log(log, tmp_path / "scan").errors == 1
    for day in range(3):  # several rotations, so that copies are compressed too
        with log.path.open("a") as handle:
            handle.write(f"ERROR {day} written after the scan, before the rotation\nINFO ok\n")
        assert rotate(log, tmp_path, NOW + timedelta(days=day)).rotated
        log.path.open("a").write(f"ERROR {day} written after the rotation\n")
        scan = scan_log(log, tmp_path / "scan")
        assert scan.errors == 2, [g.first for g in scan.error_groups]
        assert scan.error_groups[0].first.startswith(f"ERROR {day} written after the scan")
    assert (tmp_path / "app.log.2.gz").exists()


@pytest.mark.parametrize(
    ("method", "compress"), [("rename", True), ("copytruncate", True), ("rename", False)]
)
def test_several_rotations_between_two_scans_lose_no_error_line(
    tmp_path: Path, method: str, compress: bool
) -> None:
    log = source(tmp_path, max_bytes=1, method=method, keep=5, compress=compress)
    log.path.write_text("ERROR seen\n" + "INFO padding\n" * 100)
    assert scan_log(log, tmp_path / "scan").errors == 1
    for day, word in enumerate(("alpha", "beta", "gamma")):  # no health check for 3 days
        with log.path.open("a") as handle:
            handle.write(f"ERROR {word}\nINFO ok\n")
        assert rotate(log, tmp_path, NOW + timedelta(days=day)).rotated
    with log.path.open("a") as handle:
        handle.write("ERROR today\n")
    gz = ".gz" if compress else ""
    assert names(tmp_path) == ["app.log", "app.log.1", f"app.log.2{gz}", f"app.log.3{gz}"]
    scan = scan_log(log, tmp_path / "scan")
    assert [g.first for g in scan.error_groups] == [
        "ERROR alpha",  # the unread end of the file the first scan read, now app.log.3.gz
        "ERROR beta",
        "ERROR gamma",
        "ERROR today",
    ]
    assert scan_log(log, tmp_path / "scan").errors == 0


def test_the_rotation_survey_counts_a_copy_that_vanished_while_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "app.log"
    for name in ("app.log", "app.log.1", "app.log.2.gz"):
        (tmp_path / name).write_text("x\n")
    with vanishing(monkeypatch, before_stat=("app.log.1",)):
        found = survey(log, os.lstat(log))
    assert [c.path.name for c in found.copies] == ["app.log.2.gz"]
    assert found.vanished == (tmp_path / "app.log.1",) and found.refusals == ()


def test_a_copy_that_vanished_while_listed_does_not_stop_the_rotation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = source(tmp_path, max_bytes=1, method="copytruncate", compress=False)
    log.path.write_text("line\n" * 10)
    (tmp_path / "app.log.1").write_text("old\n")
    (tmp_path / "app.log.2").write_text("older\n")
    with vanishing(monkeypatch, before_stat=("app.log.2",)):
        result = rotate(log, tmp_path)
    assert result.rotated and result.problems == ()
    assert result.vanished == (tmp_path / "app.log.2",)
    assert "; 1 copy vanished while listed (removed or renamed by someone else);" in summary(result)
    assert (tmp_path / "app.log.1").read_text() == "line\n" * 10
    assert (tmp_path / "app.log.2").read_text() == "old\n"
