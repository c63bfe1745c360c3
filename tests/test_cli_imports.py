"""What the commands a person runs often import: `upkeep list` and `upkeep show` read runbooks and
the ledger, never run a kernel, so they must not pay for papermill, nbformat, Jupyter, requests or
jsonschema, nor for the modules of the other commands. This is the guard that keeps them fast
(their time is measured in benchmarks/cli_latency.py, never here): each test runs the real
command in a fresh interpreter and reads which modules it holds when it exits."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers.history import History
from helpers.project import CHECK_OK, REPO, Project

# Imported only where a kernel runs (or, for requests and jsonschema, only because papermill
# and nbformat pull them in).
KERNEL_PACKAGES = {
    "papermill",
    "nbformat",
    "nbclient",
    "nbconvert",
    "jupyter_client",
    "jupyter_core",
    "ipykernel",
    "requests",
    "jsonschema",
    "tenacity",
}
# What `list` and `show` need of the command line beside their own module.
CLI_CORE = {"upkeep.cli", "upkeep.cli.group", "upkeep.cli.console", "upkeep.cli.options"}
# Run as `python -m upkeep.cli` runs it, then print every module the process holds at exit.
_RUN_AND_TELL = """
import atexit, json, sys
atexit.register(lambda: print("MODULES " + json.dumps(sorted(sys.modules)), file=sys.stderr))
from upkeep.cli.group import main
sys.argv = ["upkeep", *sys.argv[1:]]
main()
"""


def _imported(config: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run `upkeep --config CONFIG ARGS` in a fresh interpreter; the process, and the modules it
    imported with the top-level package of each."""
    proc = subprocess.run(
        [sys.executable, "-c", _RUN_AND_TELL, "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=config.parent,
    )
    told = [line for line in proc.stderr.splitlines() if line.startswith("MODULES ")]
    assert told, proc.stderr[-2000:]
    modules = set(json.loads(told[-1].removeprefix("MODULES ")))
    modules |= {module.split(".")[0] for module in modules}
    return proc, modules


@pytest.fixture
def with_history(project: Project) -> Project:
    """Two runbooks, one with parameters, and a few weeks of runs in the ledger."""
    project.add_runbook("alpha", [CHECK_OK], params="limit: float = 2.5  # the limit")
    project.add_runbook("beta", [CHECK_OK], cadence="weekly")
    history = History(project.evidence)
    start = datetime(2026, 11, 1, 3, tzinfo=UTC)
    for day in range(21):
        history.record("alpha", start + timedelta(days=day))
    history.record("beta", start + timedelta(days=14))
    return project


@pytest.mark.parametrize(
    "args",
    [("list",), ("list", "--json"), ("show", "alpha"), ("show", "alpha", "--json")],
    ids=" ".join,
)
def test_list_and_show_import_nothing_a_kernel_needs(
    with_history: Project, args: tuple[str, ...]
) -> None:
    proc, modules = _imported(with_history.config, *args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "alpha" in proc.stdout  # the command did its whole work
    assert sorted(modules & KERNEL_PACKAGES) == []
    own = f"upkeep.cli.{args[0]}"
    assert sorted(m for m in modules if m.startswith("upkeep.cli")) == sorted({*CLI_CORE, own})


@pytest.mark.parametrize("args", [("list",), ("show", "health-check")], ids=" ".join)
def test_the_shipped_plan_lists_and_shows_without_them(args: tuple[str, ...]) -> None:
    """The repository's own config and runbooks: every section of upkeep.yml, real notebooks."""
    proc, modules = _imported(REPO / "upkeep.yml", *args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "health-check" in proc.stdout
    assert sorted(modules & KERNEL_PACKAGES) == []


def test_running_a_runbook_still_imports_papermill(with_history: Project) -> None:
    """The other side of the guard: the list above names modules upkeep really uses."""
    proc, modules = _imported(with_history.config, "run", "alpha")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert {"papermill", "nbformat", "jupyter_client"} <= modules
