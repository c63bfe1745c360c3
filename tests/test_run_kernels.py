"""Tests for upkeep.run.kernels and upkeep.run.kernel_template: a forked kernel can be killed as
a group the moment its pid is known, a template asked for no kernel is killed at close, and a
template that never answers costs a bounded wait, after which kernels are launched normally."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest
from helpers.processes import pid_alive
from helpers.project import Project
from jupyter_client.connect import write_connection_file

from upkeep.records import Status
from upkeep.run.kernels import LAUNCHER, KernelTemplate, RunKernel

pytestmark = pytest.mark.slow


def _gone_soon(pid: int) -> bool:
    deadline = time.monotonic() + 30
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not pid_alive(pid)


def test_a_forked_kernel_leads_its_group_as_soon_as_its_pid_is_known(tmp_path: Path) -> None:
    """A kill sent to the group at once (Ctrl-C while a kernel starts) must find the group:
    the template tells the pid only after the child left the template's group."""
    template = KernelTemplate()
    template.start()
    try:
        for attempt in range(8):
            connection, _ = write_connection_file(str(tmp_path / f"kernel-{attempt}.json"))
            cmd = [sys.executable, *LAUNCHER, "-f", connection]
            pid = template.spawn(cmd, str(tmp_path), dict(os.environ), tmp_path / "kernel.log")
            assert pid is not None, "the template could not fork a kernel"
            os.killpg(pid, signal.SIGKILL)  # ProcessLookupError if it were not its group yet
            assert _gone_soon(pid), f"kernel {pid} outlived its group's SIGKILL"
    finally:
        template.close()


def test_a_template_asked_for_no_kernel_is_killed_not_waited_for() -> None:
    """Nothing came to run (planning failed, nothing due): the template, maybe still importing
    IPython, is killed at close rather than waited for."""
    template = KernelTemplate()
    template.start()
    process = template._process
    assert process is not None
    template.close()
    assert process.returncode == -signal.SIGKILL


# Stand-ins for a template that is stuck (swapping, stopped, wedged on an import): one that
# never says it is ready, and one that says so and then never answers a request.
SILENT = [sys.executable, "-c", "import time; time.sleep(600)"]
MUTE_AFTER_READY = [
    sys.executable,
    "-c",
    "import time; print('{\"ready\": 1}', flush=True); time.sleep(600)",
]


@pytest.mark.parametrize("command", [SILENT, MUTE_AFTER_READY], ids=["never-ready", "no-reply"])
def test_a_template_that_never_answers_is_given_up_on(command: list[str], tmp_path: Path) -> None:
    template = KernelTemplate(command=command, ready_s=0.5, reply_s=0.5)
    template.start()
    process = template._process
    assert process is not None
    cmd = [sys.executable, *LAUNCHER, "-f", str(tmp_path / "kernel.json")]
    try:
        first = template.spawn(cmd, str(tmp_path), dict(os.environ), tmp_path / "kernel.log")
        assert first is None
        assert not template.can_fork(cmd), "a template given up on was asked again"
    finally:
        template.close()
    assert process.returncode is not None, "the stuck template outlived close()"


def test_a_run_whose_template_is_stuck_launches_its_kernel_normally(project: Project) -> None:
    """The run goes on with a kernel of its own, and passes: before, it waited on the
    template's pipe for ever."""
    from upkeep.cli.run import run_runbooks
    from upkeep.config.load import load_config
    from upkeep.records import Trigger

    project.add_runbook("fine", [("code", "from upkeep import report\nreport.check('ok', 'ok')")])
    template = KernelTemplate(command=SILENT, ready_s=0.5, reply_s=0.5)
    template.start()
    try:
        code = run_runbooks(
            load_config(project.config),
            ("fine",),
            (),
            due_at=None,
            jobs=1,
            trigger=Trigger.MANUAL,
            start_demo_service=False,
            as_json=False,
            template=template,
        )
    finally:
        template.close()
    assert code == 0
    [record] = project.records()
    assert record["status"] == Status.OK.value


def test_a_request_the_parent_gave_up_on_is_never_forked(tmp_path: Path) -> None:
    """The template stalls (stopped here) with a request in its pipe; the run stops waiting
    and launches its kernel itself, on the request's ports. Woken, the template must not fork
    a second kernel for it: that one would take the ports and run the cells, out of reach."""
    import psutil

    template = KernelTemplate(reply_s=6.0)  # forks only within the first second of a request
    template.start()
    process = template._process
    assert process is not None
    try:
        connection, _ = write_connection_file(str(tmp_path / "first.json"))
        cmd = [sys.executable, *LAUNCHER, "-f", connection]
        first = template.spawn(cmd, str(tmp_path), dict(os.environ), tmp_path / "kernel.log")
        assert first is not None
        os.killpg(first, signal.SIGKILL)
        assert _gone_soon(first)
        os.kill(process.pid, signal.SIGSTOP)
        try:
            connection, _ = write_connection_file(str(tmp_path / "second.json"))
            cmd = [sys.executable, *LAUNCHER, "-f", connection]
            late = template.spawn(cmd, str(tmp_path), dict(os.environ), tmp_path / "kernel.log")
            assert late is None
        finally:
            os.kill(process.pid, signal.SIGCONT)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            assert psutil.Process(process.pid).children() == [], "a kernel was forked late"
            time.sleep(0.1)
    finally:
        template.close()


def test_a_kernel_killed_while_starting_is_not_started_again(tmp_path: Path) -> None:
    killed = RunKernel(tmp_path / "killed.log", None)
    killed.kill_group()  # a timeout or Ctrl-C, while the kernel was starting
    assert killed.restart("it died") is False
    assert not (tmp_path / "killed.log").exists()
    died = RunKernel(tmp_path / "died.log", None)
    assert died.restart("it died") is True
    assert "the kernel died while starting (it died)" in (tmp_path / "died.log").read_text()
