"""Responsible for executing one runbook in its own kernel with papermill, under a deadline: the
kernel's whole process group is killed when the run passes its timeout.

papermill is used as a library (its parameter injection, metadata, error-marker cleaning and
nbclient engine), so its imports are paid once per process, not once per notebook.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from upkeep.plain_text import cut
from upkeep.records import RunError, RunErrorName
from upkeep.registry import Runbook
from upkeep.run.collect import EVALUE_CHARS, stopped_cell, strip_ansi
from upkeep.run.kernels import RunKernel
from upkeep.run.output_limit import OutputLimit

KERNEL_NAME = "python3"
IOPUB_TIMEOUT_S = 30  # how long a finished cell's outputs may take to arrive
IOPUB_LOST = "Timeout waiting for IOPub output"  # nbclient's words when they did not
IOPUB_ERROR = "OutputLost"


def prepare_imports() -> None:
    """Import and build what every worker thread needs before any starts: module imports racing
    between threads break pygments' lazy lexer loading ("cannot import name 'PythonLexer'"), and
    nbformat's schema validator, compiled on first use, would be compiled by every thread that
    reads a notebook before the first one is done (a third of a second of CPU each)."""
    import nbformat
    from pygments.lexers import PythonLexer  # noqa: F401

    import upkeep.run.engine  # noqa: F401

    nbformat.validate(nbformat.v4.new_notebook())

    # Its notices and nbclient's ("Kernel died while waiting for execute reply") are not for our
    # users: what they say ends up in the run's record, where the cell is named.
    logging.getLogger("papermill").setLevel(logging.CRITICAL)


def execute_notebook(
    runbook: Runbook,
    source: bytes,
    params: dict[str, Any],
    cwd: Path,
    timeout_s: int,
    kernel: RunKernel,
    output_limit: OutputLimit,
    before_first_cell: Callable[[], None] | None = None,
) -> tuple[Any, RunError | None]:
    """Execute `source`, the notebook bytes of `runbook` this run read (and records the hash
    of), in a fresh kernel; return the executed notebook and any failure (timeout, dead kernel,
    failed start) that left no error output in the notebook.
    Outputs are kept as `output_limit` decides, which tallies what was printed and kept.
    `before_first_cell` is called once the kernel is up, before any cell runs.

    The kernel's own stdout and stderr (what subprocesses write to fds 1 and 2) go to the
    kernel's log file, never to the terminal, so nothing unscrubbed reaches the logs.
    """
    from papermill.engines import papermill_engines
    from papermill.execute import prepare_notebook_metadata, remove_error_markers
    from papermill.parameterize import parameterize_notebook

    from upkeep.run.engine import ENGINE_NAME

    nb = notebook_node(source)
    nb = parameterize_notebook(
        nb, params, kernel_name=KERNEL_NAME, language="python", engine_name=ENGINE_NAME
    )
    nb = prepare_notebook_metadata(nb, runbook.relpath, None)
    # A notebook saved from an earlier papermill run keeps its "An Exception was encountered"
    # cells: papermill drops them before it executes, and so does upkeep.
    nb = remove_error_markers(nb)
    watchdog = _Watchdog(kernel, timeout_s)
    pending = before_first_cell

    def before_cell(**_: Any) -> None:
        nonlocal pending
        if pending is not None:
            call, pending = pending, None
            call()
        watchdog.enforce()

    failure = None
    try:
        papermill_engines.execute_notebook_with_engine(
            ENGINE_NAME,
            nb,
            kernel_name=KERNEL_NAME,
            input_path=runbook.relpath,
            output_path=None,
            progress_bar=False,
            log_output=False,
            start_timeout=60,
            execution_timeout=timeout_s,
            kernel_manager_class=kernel.manager_class(),
            resources={"metadata": {"path": str(cwd)}},
            shutdown_kernel="immediate",
            # One output per stream, not one per flush: a secret printed across two flushes
            # must be whole in one string for the scrubber to find it.
            coalesce_streams=True,
            on_cell_execute=before_cell,
            # After a cell's reply, its outputs may still be on the way: nbclient waits 4 s for
            # them and then silently drops the rest, which on a loaded machine loses the
            # checks a runbook recorded ("no check recorded"). Wait longer, and say so when
            # they still do not come.
            iopub_timeout=IOPUB_TIMEOUT_S,
            raise_on_iopub_timeout=True,
            output_limit=output_limit,
            restart=kernel.restart,
        )
    except Exception as exc:  # noqa: BLE001 - any failure to execute is this run's error, not ours
        failure = _failure(exc, watchdog, timeout_s, nb)
    finally:
        watchdog.stop()
        kernel.kill_group()
    return nb, failure


def notebook_node(source: bytes) -> Any:
    """The notebook in `source`, prepared as papermill's `load_notebook_node` prepares a file:
    parsed from the bytes given, never read again from disk, where it may have changed since."""
    import nbformat
    from papermill import __version__ as papermill_version

    nb = nbformat.reads(source.decode("utf-8"), as_version=4)
    nb = nbformat.v4.upgrade(nb) or nb
    # NotebookNode turns a dict into a node only on assignment (setdefault would not).
    if "papermill" not in nb.metadata:
        nb.metadata["papermill"] = {
            "default_parameters": {},
            "parameters": {},
            "environment_variables": {},
            "version": papermill_version,
        }
    for cell in nb.cells:
        if "tags" not in cell.metadata:
            cell.metadata["tags"] = []
        if "papermill" not in cell.metadata:
            cell.metadata["papermill"] = {}
    return nb


def _failure(exc: Exception, watchdog: _Watchdog, timeout_s: int, nb: Any) -> RunError:
    cell, count = stopped_cell(nb)
    if not watchdog.fired and IOPUB_LOST in str(exc):
        return RunError(
            IOPUB_ERROR,
            f"the cell's output did not arrive within {IOPUB_TIMEOUT_S} s of its end (a machine "
            "under heavy load?): what the runbook recorded may be incomplete, so the run is "
            "not trusted",
            cell,
            count,
        )
    if (
        watchdog.fired
        or "timed out" in str(exc).lower()
        or type(exc).__name__ == "CellTimeoutError"
    ):
        return RunError(
            RunErrorName.TIMEOUT,
            f"the runbook ran past its timeout of {timeout_s} s and its kernel was stopped",
            cell,
            count,
        )
    return RunError(
        type(exc).__name__, cut(strip_ansi(str(exc)).strip(), EVALUE_CHARS), cell, count
    )


class _Watchdog:
    """Kills the kernel's process group once the whole run passes its deadline."""

    def __init__(self, kernel: RunKernel, timeout_s: int) -> None:
        self.kernel = kernel
        self.fired = False
        self._timer = threading.Timer(timeout_s, self.expire)
        self._timer.daemon = True
        self._timer.start()

    def expire(self) -> None:
        self.fired = True
        self.kernel.kill_group()

    def enforce(self) -> None:
        """Called before each cell: a deadline that passed during kernel start-up still holds."""
        if self.fired:
            self.kernel.kill_group()

    def stop(self) -> None:
        self._timer.cancel()
