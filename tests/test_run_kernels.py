"""Tests for upkeep.run.kernels and upkeep.run.kernel_template: a forked kernel can be killed as
a group the moment its pid is known, and a template asked for no kernel is killed at close."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest
from helpers.processes import pid_alive
from jupyter_client.connect import write_connection_file

from upkeep.run.kernels import LAUNCHER, KernelTemplate

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
