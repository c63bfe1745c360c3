"""upkeep.evidence.in_progress: a staging folder is a run going on only while its runner process
is alive, and its run id gives the runbook and the start; anything else under .staging is not."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from helpers.folder_lock import held_by_another_process

from upkeep.evidence.in_progress import runs_in_progress


def _dead_pid() -> int:
    """The id of a process that has ended (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_only_staging_folders_of_live_runners_with_a_run_id_are_runs_going_on(
    tmp_path: Path,
) -> None:
    staging = tmp_path / ".staging"
    staging.mkdir()
    mine = os.getpid()  # this process started before the runs it "staged" (now, and 20 min on)
    now = datetime.now(UTC).replace(microsecond=0)
    first, second = now + timedelta(minutes=10), now + timedelta(minutes=30)
    (staging / f"{mine}-{second:%Y%m%dT%H%M%SZ}-half-past-two-7f3a").mkdir()
    (staging / f"{mine}-{first:%Y%m%dT%H%M%SZ}-health-check-00beef").mkdir()
    (staging / f"{_dead_pid()}-{now:%Y%m%dT%H%M%SZ}-backup-1234").mkdir()
    (staging / f"{mine}-not-a-run-id").mkdir()
    (staging / f"no-pid-{now:%Y%m%dT%H%M%SZ}-backup-1234").mkdir()

    found = runs_in_progress(tmp_path)

    assert [(run.runbook, run.started_at, run.pid) for run in found] == [
        ("health-check", first, mine),
        ("half-past-two", second, mine),
    ]
    assert found[1].run_id == f"{second:%Y%m%dT%H%M%SZ}-half-past-two-7f3a"


def test_a_process_that_started_after_the_run_holds_a_reused_pid(tmp_path: Path) -> None:
    # A dead run whose pid a later process got was shown as OVERRUNNING, and counted as on time.
    staging = tmp_path / ".staging"
    staging.mkdir()
    later = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yesterday = datetime.now(UTC) - timedelta(days=1)
        (staging / f"{later.pid}-{yesterday:%Y%m%dT%H%M%SZ}-chk-ab12").mkdir()
        assert runs_in_progress(tmp_path) == []
    finally:
        later.kill()  # only the process this test started, by its pid
        later.wait()


def test_a_held_folder_is_a_run_going_on_whatever_its_pid(tmp_path: Path) -> None:
    # A runner in another container sharing the evidence: its pid is no process here. (The
    # other pid namespace is stood in for by a process of ours holding the lock.)
    staging = tmp_path / ".staging"
    now = datetime.now(UTC).replace(microsecond=0)
    beside = staging / f"{_dead_pid()}-{now:%Y%m%dT%H%M%SZ}-backup-1234"
    beside.mkdir(parents=True)
    with held_by_another_process(beside):
        assert [(run.runbook, run.started_at) for run in runs_in_progress(tmp_path)] == [
            ("backup", now)
        ]
    assert runs_in_progress(tmp_path) == []


def test_no_staging_folder_is_no_run(tmp_path: Path) -> None:
    assert runs_in_progress(tmp_path) == []
