"""upkeep.evidence.in_progress: a staging folder is a run going on only while its runner process
is alive, and its run id gives the runbook and the start; anything else under .staging is not."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

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
    mine = os.getpid()
    (staging / f"{mine}-20261025T003000Z-half-past-two-7f3a").mkdir()
    (staging / f"{mine}-20261025T001000Z-health-check-00beef").mkdir()
    (staging / f"{_dead_pid()}-20261025T002000Z-backup-1234").mkdir()
    (staging / f"{mine}-not-a-run-id").mkdir()
    (staging / "no-pid-20261025T002000Z-backup-1234").mkdir()

    found = runs_in_progress(tmp_path)

    assert [(run.runbook, run.started_at, run.pid) for run in found] == [
        ("health-check", datetime(2026, 10, 25, 0, 10, tzinfo=UTC), mine),
        ("half-past-two", datetime(2026, 10, 25, 0, 30, tzinfo=UTC), mine),
    ]
    assert found[1].run_id == "20261025T003000Z-half-past-two-7f3a"


def test_no_staging_folder_is_no_run(tmp_path: Path) -> None:
    assert runs_in_progress(tmp_path) == []
