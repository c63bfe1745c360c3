"""A process a run started that left the kernel's process group (`start_new_session=True`, a
daemon that detaches) is stopped once the kernel has stopped, and named in a warning: it lived
on, reparented to init, with nobody told. Children in the group were stopped already."""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

from helpers.project import Project

from upkeep.run.leftovers import LEFTOVER_CHECK


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_process_that_left_the_kernels_group_is_stopped_and_named(
    project: Project, tmp_path: Path
) -> None:
    pid_file = tmp_path / "detached.pid"
    cells = f"""
        import subprocess
        from upkeep import report
        child = subprocess.Popen(["sleep", "300"], start_new_session=True)
        open({str(pid_file)!r}, "w").write(str(child.pid))
        report.check("work", "ok")
    """
    project.add_runbook("detacher", [("code", textwrap.dedent(cells))])

    result = project.upkeep("run", "detacher")

    pid = int(pid_file.read_text())
    try:
        assert result.code == 0, result.text
        [record] = project.records()
        checks = {check["name"]: check for check in record["checks"]}
        assert record["status"] == "warn"
        assert checks[LEFTOVER_CHECK]["status"] == "warn"
        assert f"{pid} (sleep 300)" in checks[LEFTOVER_CHECK]["message"]
        deadline = time.monotonic() + 5
        while _running(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _running(pid)
    finally:
        if _running(pid):  # only the process this test's run started
            os.kill(pid, 9)


def test_a_run_that_leaves_nothing_behind_gets_no_such_warning(project: Project) -> None:
    cells = """
        import subprocess
        from upkeep import report
        subprocess.run(["true"], check=True)
        report.check("work", "ok")
    """
    project.add_runbook("tidy", [("code", textwrap.dedent(cells))])

    result = project.upkeep("run", "tidy")

    assert result.code == 0, result.text
    [record] = project.records()
    assert record["status"] == "ok"
    assert LEFTOVER_CHECK not in {check["name"] for check in record["checks"]}
