"""Tests for upkeep.run.execute: what runs before a runbook's first cell."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers.project import CHECK_OK, Project

from upkeep import registry
from upkeep.config import load_config
from upkeep.records import RunError
from upkeep.run.execute import execute_notebook, prepare_imports
from upkeep.run.kernels import RunKernel
from upkeep.run.output_limit import OutputLimit

pytestmark = pytest.mark.slow


def test_before_first_cell_runs_once_after_the_kernel_starts_and_before_any_cell(
    project: Project, tmp_path: Path
) -> None:
    """A runbook that runs alone has upkeep's own warm-up finished before its first cell: the
    hook is called once, and every cell sees what it did."""
    marker = tmp_path / "warm"
    sees = f"from pathlib import Path\nassert Path({str(marker)!r}).read_text() == '1'"
    project.add_runbook("alone", [("code", sees), CHECK_OK, ("code", sees)])
    config = load_config(project.config)
    runbook = registry.discover(config.runbooks_dir, config.root)["alone"]
    prepare_imports()
    calls: list[int] = []

    def warm() -> None:
        calls.append(1)
        marker.write_text(str(len(calls)))

    kernel = RunKernel(tmp_path / "kernel.log", None)
    nb, failure = execute_notebook(
        runbook,
        runbook.path.read_bytes(),
        {},
        project.root,
        60,
        kernel,
        output_limit=OutputLimit(2**20),
        before_first_cell=warm,
    )
    assert failure is None
    assert calls == [1]
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert errors == []


def test_outputs_that_never_arrive_fail_the_run_saying_so(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kernel whose iopub goes quiet after a cell (here: it stops announcing idle, as a
    machine under heavy load delays it) is an error that says the outputs were lost, not a run
    that silently recorded nothing, and not a timeout of the runbook."""
    from upkeep.run import execute

    monkeypatch.setattr(execute, "IOPUB_TIMEOUT_S", 2)
    mute = (
        "kernel = get_ipython().kernel\n"
        "send = kernel.session.send\n"
        "def quiet(stream, msg, content=None, *args, **kwargs):\n"
        "    if msg == 'status' and (content or {}).get('execution_state') == 'idle':\n"
        "        return None\n"
        "    return send(stream, msg, content, *args, **kwargs)\n"
        "kernel.session.send = quiet"
    )
    project.add_runbook("muted", [CHECK_OK, ("code", mute), CHECK_OK])
    config = load_config(project.config)
    runbook = registry.discover(config.runbooks_dir, config.root)["muted"]
    prepare_imports()

    kernel = RunKernel(tmp_path / "kernel.log", None)
    source = runbook.path.read_bytes()
    limit = OutputLimit(2**20)
    _, failure = execute_notebook(runbook, source, {}, project.root, 60, kernel, limit)
    assert failure is not None and failure.ename == "OutputLost"
    assert "did not arrive within 2 s" in failure.evalue


class _DyingKernels(RunKernel):
    """Its first `dying` kernels are processes gone before they could answer (as one whose
    port was taken between being picked and being bound); the next ones are real kernels."""

    def __init__(self, log: Path, dying: int) -> None:
        super().__init__(log, None)
        self.dying = dying
        self.launches = 0

    def fork(self, kernel_cmd: list[str], kw: dict[str, Any]) -> int | None:
        self.launches += 1
        return _reaped_pid() if self.launches <= self.dying else super().fork(kernel_cmd, kw)


def _reaped_pid() -> int:
    """The pid of a process that has exited and been reaped: no process has it now."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _run_with(project: Project, kernel: RunKernel) -> RunError | None:
    project.add_runbook("restarts", [CHECK_OK])
    config = load_config(project.config)
    runbook = registry.discover(config.runbooks_dir, config.root)["restarts"]
    prepare_imports()
    limit = OutputLimit(2**20)
    _, failure = execute_notebook(
        runbook, runbook.path.read_bytes(), {}, project.root, 60, kernel, limit
    )
    return failure


def test_a_kernel_that_dies_while_starting_is_started_again_once(
    project: Project, tmp_path: Path
) -> None:
    kernel = _DyingKernels(tmp_path / "kernel.log", dying=1)
    assert _run_with(project, kernel) is None
    assert kernel.launches == 2
    log = (tmp_path / "kernel.log").read_text()
    assert "upkeep: the kernel died while starting (" in log


def test_a_kernel_that_dies_while_starting_twice_is_the_runs_error(
    project: Project, tmp_path: Path
) -> None:
    kernel = _DyingKernels(tmp_path / "kernel.log", dying=2)
    failure = _run_with(project, kernel)
    assert failure is not None and "died" in failure.evalue
    assert kernel.launches == 2
