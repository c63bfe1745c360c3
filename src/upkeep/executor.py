"""Responsible for running planned runbooks: lock, execute with papermill, collect, redact,
render and publish one piece of evidence per run.

papermill, nbclient and nbconvert are imported once per process; runbooks run on a thread pool so
kernel starts overlap. Each run holds an OS-level lock on its runbook, executes in its own kernel
under a deadline (the kernel's whole process group is killed when it passes), and is published
from a staging folder in one rename.
"""

from __future__ import annotations

import contextlib
import getpass
import logging
import os
import platform
import re
import secrets as token
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import filelock

from upkeep import __version__, kernels, results, state
from upkeep.atomic import write_text
from upkeep.config import Config
from upkeep.evidence import EvidenceStore
from upkeep.registry import Runbook
from upkeep.secrets import SecretError
from upkeep.secrets import resolve as resolve_secret

SCHEMA_VERSION = 1
# What a run's own code and inputs produced, and so what may carry a secret value.
RUN_PRODUCED = ("parameters", "checks", "metrics", "findings", "error")
KERNEL_NAME = "python3"
_ENGINE = "nbclient"  # papermill's engine keeps executing our notebook object, even on error


@dataclass(frozen=True)
class PlannedRun:
    """A runbook with validated parameters, ready to run; `as_of` is the schedule's clock."""

    runbook: Runbook
    params: dict[str, Any]
    trigger: str = "manual"
    as_of: datetime | None = None


@dataclass(frozen=True)
class RunOutcome:
    run_id: str
    runbook: str
    status: str
    duration_s: float
    path: Path | None
    record: dict[str, Any] = field(repr=False)


ProgressFn = Callable[[str, PlannedRun, "RunOutcome | None"], None]


def _prepare_imports() -> None:
    """Import what every worker thread needs before any starts: module imports racing between
    threads break pygments' lazy lexer loading ("cannot import name 'PythonLexer'")."""
    import papermill.engines  # noqa: F401
    from pygments.lexers import PythonLexer  # noqa: F401

    logging.getLogger("papermill").setLevel(logging.ERROR)  # its notices are not for our users


def new_run_id(name: str, now: datetime) -> str:
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{name}-{token.token_hex(2)}"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Executor:
    """Runs a plan against one config and evidence store."""

    def __init__(
        self,
        config: Config,
        store: EvidenceStore,
        *,
        jobs: int | None = None,
        progress: ProgressFn | None = None,
        template: kernels.KernelTemplate | None = None,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.template = template
        self._warm_up: threading.Thread | None = None
        self._interrupted = threading.Event()
        self._kernels: set[kernels.RunKernel] = set()
        self.jobs = jobs or config.jobs or os.cpu_count() or 1
        self.progress = progress or (lambda event, planned, outcome: None)
        self.notify = notify or (lambda text: None)
        self.context = _static_context(config)

    def run_all(self, plan: list[PlannedRun]) -> list[RunOutcome]:
        """Run every planned runbook, `jobs` at a time; outcomes in plan order."""
        owned = self.template is None
        if owned:
            self.template = kernels.KernelTemplate()
            self.template.start()
        try:
            _prepare_imports()
            os.environ["UPKEEP_CONFIG"] = str(self.config.path)
            for note in self.store.recover():
                self.notify(note)
            self._warm_up = threading.Thread(target=_warm_up_renderer, daemon=True)
            self._warm_up.start()
            if len(plan) == 1 or self.jobs == 1:
                return [self.run_one(p) for p in plan]
            return self._run_pool(plan)
        finally:
            if owned:
                self.template.close()

    def _run_pool(self, plan: list[PlannedRun]) -> list[RunOutcome]:
        """Run on worker threads; on Ctrl-C, stop every kernel and publish nothing unfinished."""
        pool = ThreadPoolExecutor(max_workers=min(self.jobs, len(plan)))
        futures = [pool.submit(self.run_one, p) for p in plan]
        try:
            # Wake up regularly: Ctrl-C is often delivered to a worker thread, and the main
            # thread only raises KeyboardInterrupt once it runs Python code again.
            pending = set(futures)
            while pending:
                _, pending = wait(pending, timeout=0.2)
            return [future.result() for future in futures]
        except KeyboardInterrupt:  # anything else: the other runs finish and publish first
            self._interrupted.set()
            for future in futures:
                future.cancel()
            for kernel in list(self._kernels):
                kernel.kill_group()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def run_one(self, planned: PlannedRun) -> RunOutcome:
        if self._interrupted.is_set():
            raise KeyboardInterrupt
        lock_dir = self.config.state_dir / "locks"
        lock_dir.mkdir(parents=True, exist_ok=True)
        lock = filelock.FileLock(lock_dir / f"{planned.runbook.name}.lock", thread_local=False)
        try:
            lock.acquire(timeout=0)
        except filelock.Timeout:
            return self._skipped(planned, "locked: another run of this runbook is still going")
        try:
            return self._run_locked(planned)
        finally:
            lock.release()

    def _skipped(self, planned: PlannedRun, reason: str) -> RunOutcome:
        now = datetime.now(UTC)
        run_id = new_run_id(planned.runbook.name, now)
        record = self._record(planned, run_id, now, now, "skipped")
        record["skipped_reason"] = reason
        staging = self.store.new_staging(run_id)
        write_text(staging / "report.html", self._render().render_report(None, record))
        published = self.store.publish(staging, record)
        outcome = RunOutcome(run_id, planned.runbook.name, "skipped", 0.0, published.path, record)
        self.progress("done", planned, outcome)
        return outcome

    def _run_locked(self, planned: PlannedRun) -> RunOutcome:
        """Execute, collect, seal and publish one run; on any failure nothing is published
        and the state the runbook staged is dropped."""
        self.progress("start", planned, None)
        started = datetime.now(UTC)
        run_id = new_run_id(planned.runbook.name, started)
        staging = self.store.new_staging(run_id)
        pending_state = staging.parent / f"{staging.name}.state"
        try:
            nb, record, kernel_log = self._execute(planned, run_id, started, staging, pending_state)
            self._seal(planned, staging, nb, record, kernel_log)
            published = self.store.publish(staging, record)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            state.discard(pending_state)
            raise
        state.commit(pending_state, self.config.state_dir)
        outcome = RunOutcome(
            run_id,
            planned.runbook.name,
            record["status"],
            record["duration_s"],
            published.path,
            record,
        )
        self.progress("done", planned, outcome)
        return outcome

    def _execute(
        self,
        planned: PlannedRun,
        run_id: str,
        started: datetime,
        staging: Path,
        pending_state: Path,
    ) -> tuple[Any, dict[str, Any], Path]:
        """Run the notebook in its own kernel and build the run record from what it left."""
        runbook = planned.runbook
        kernel = kernels.RunKernel(
            staging / "kernel.log", self.template, {state.PENDING_ENV: str(pending_state)}
        )
        self._kernels.add(kernel)
        if self._interrupted.is_set():  # interrupted after the sweep that kills every kernel
            kernel.kill_group()
        clock = time.monotonic()
        try:
            nb, failure = execute_notebook(
                runbook,
                planned.params,
                self.config.root,
                runbook.timeout_s or self.config.timeout_s,
                kernel,
            )
        finally:
            self._kernels.discard(kernel)
        if self._interrupted.is_set():
            raise KeyboardInterrupt
        duration = time.monotonic() - clock
        found = results.collect(nb)
        if failure is not None:
            found = results.Results(found.checks, found.metrics, found.findings, failure)
        elif found.error is None and not found.checks:
            found = results.Results(
                found.checks, found.metrics, found.findings, results.no_checks_error()
            )
        status = results.decide_status(found)
        record = self._record(
            planned, run_id, started, datetime.now(UTC), status, duration, found, nb
        )
        return nb, record, kernel.log_path

    def _seal(
        self, planned: PlannedRun, staging: Path, nb: Any, record: dict[str, Any], kernel_log: Path
    ) -> None:
        """Scrub secrets from everything the run produced and write its artifacts."""
        from upkeep import redact

        secrets = self._secret_values(planned)
        nb = redact.scrub_notebook(nb, secrets)
        for key in RUN_PRODUCED:  # the fields upkeep itself owns (ids, times, hashes) stay exact
            record[key] = redact.scrub_value(record[key], secrets)
        _keep_kernel_log(kernel_log, secrets)
        _write_notebook(staging / "notebook.ipynb", nb)
        write_text(staging / "report.html", self._render().render_report(nb, record))

    def _render(self) -> Any:
        """The renderer, once the warm-up thread has imported it: pygments' lazy lexer loading
        is not safe to race from two threads."""
        if self._warm_up is not None:
            self._warm_up.join()
        return _render()

    def _secret_values(self, planned: PlannedRun) -> dict[str, str]:
        values = {}
        for spec in planned.runbook.params:
            reference = planned.params.get(spec.name)
            if spec.secret and reference:
                try:
                    values[reference] = resolve_secret(reference)
                except SecretError:
                    continue  # unresolvable: the kernel failed on it too, nothing to scrub
        return values

    def _record(
        self,
        planned: PlannedRun,
        run_id: str,
        started: datetime,
        ended: datetime,
        status: str,
        duration: float = 0.0,
        found: results.Results | None = None,
        nb: Any = None,
    ) -> dict[str, Any]:
        runbook = planned.runbook
        found = found or results.Results()
        kernel = (nb or {}).get("metadata", {}).get("language_info", {}).get("version")
        return {
            "schema": SCHEMA_VERSION,
            "run_id": run_id,
            "runbook": {
                "name": runbook.name,
                "title": runbook.title,
                "path": runbook.relpath,
                "sha256": runbook.sha256,
                "cadence": runbook.cadence,
                "category": runbook.category,
                **self.context["git"].get(runbook.relpath, {}),
            },
            "parameters": dict(planned.params),
            "secret_parameters": sorted(p.name for p in runbook.params if p.secret),
            "trigger": planned.trigger,
            "as_of": iso(planned.as_of) if planned.as_of else iso(started),
            "started_at": iso(started),
            "ended_at": iso(ended),
            "duration_s": round(duration, 3),
            "status": status,
            "checks": list(found.checks),
            "metrics": list(found.metrics),
            "findings": list(found.findings),
            "error": found.error.to_json() if found.error else None,
            "host": self.context["host"],
            "versions": {**self.context["versions"], "kernel": kernel},
        }


def execute_notebook(
    runbook: Runbook,
    params: dict[str, Any],
    cwd: Path,
    timeout_s: int,
    kernel: kernels.RunKernel,
) -> tuple[Any, results.RunError | None]:
    """Execute a runbook in a fresh kernel; return the executed notebook and any failure
    (timeout, dead kernel, failed start) that left no error output in the notebook.

    The kernel's own stdout and stderr (what subprocesses write to fds 1 and 2) go to the
    kernel's log file, never to the terminal, so nothing unscrubbed reaches the logs.
    """
    from papermill.engines import papermill_engines
    from papermill.execute import prepare_notebook_metadata
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    nb = load_notebook_node(str(runbook.path))
    nb = parameterize_notebook(
        nb, params, kernel_name=KERNEL_NAME, language="python", engine_name=_ENGINE
    )
    nb = prepare_notebook_metadata(nb, runbook.relpath, None)
    watchdog = _Watchdog(kernel, timeout_s)
    failure = None
    try:
        papermill_engines.execute_notebook_with_engine(
            _ENGINE,
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
            on_cell_execute=lambda **kw: watchdog.enforce(),
        )
    except Exception as exc:  # noqa: BLE001 - any failure to execute is this run's error, not ours
        failure = _failure(exc, watchdog, timeout_s, nb)
    finally:
        watchdog.stop()
        kernel.kill_group()
    return nb, failure


def _failure(exc: Exception, watchdog: _Watchdog, timeout_s: int, nb: Any) -> results.RunError:
    cell, count = _running_cell(nb)
    if (
        watchdog.fired
        or "timed out" in str(exc).lower()
        or type(exc).__name__ == "CellTimeoutError"
    ):
        return results.RunError(
            "Timeout",
            f"the runbook ran past its timeout of {timeout_s} s and its kernel was stopped",
            cell,
            count,
        )
    return results.RunError(
        type(exc).__name__, results.strip_ansi(str(exc)).strip()[:2000], cell, count
    )


def _running_cell(nb: Any) -> tuple[int | None, int | None]:
    """The cell papermill marked as running when execution stopped."""
    for index, cell in enumerate(nb.cells):
        if cell.get("metadata", {}).get("papermill", {}).get("status") == "running":
            return index, cell.get("execution_count")
    return None, None


class _Watchdog:
    """Kills the kernel's process group once the whole run passes its deadline."""

    def __init__(self, kernel: kernels.RunKernel, timeout_s: int) -> None:
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


_KERNEL_NOISE = re.compile(rb"^.*Kernel is running over TCP without encryption.*\n?", re.M)


def _keep_kernel_log(path: Path, secrets: dict[str, str]) -> None:
    """Keep what the kernel process itself printed, scrubbed, only when it printed something."""
    if not path.exists():
        return
    data = _KERNEL_NOISE.sub(b"", path.read_bytes()).strip()
    if not data:
        path.unlink()
        return
    from upkeep import redact

    text = redact.scrub_text(data.decode("utf-8", errors="replace"), secrets)
    write_text(path, text + "\n")


def _render() -> Any:
    """The report renderer, imported on first use: nbconvert's import overlaps kernel starts."""
    from upkeep import render

    return render


def _warm_up_renderer() -> None:
    with contextlib.suppress(Exception):  # only a head start; a real render reports failures
        _render().warm_up()


def _write_notebook(path: Path, nb: Any) -> None:
    import nbformat

    write_text(path, nbformat.writes(nb))


def _static_context(config: Config) -> dict[str, Any]:
    import papermill

    return {
        "host": {
            "name": socket.gethostname(),
            "user": getpass.getuser(),
            "platform": platform.platform(),
        },
        "versions": {
            "python": platform.python_version(),
            "upkeep": __version__,
            "papermill": papermill.__version__,
        },
        "git": _git_versions(config.root),
    }


def _git_versions(root: Path) -> dict[str, dict[str, Any]]:
    """For every tracked runbook: the checked-out commit (HEAD) and whether the file differs."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, check=True, timeout=10
        ).stdout

    try:
        head = git("rev-parse", "HEAD").strip()
        dirty_paths = set(git("diff", "--name-only", "--relative", "HEAD", "--").splitlines())
    except (OSError, subprocess.SubprocessError):
        return {}
    versions = {}
    for path in git("ls-files", "--", "*.ipynb").splitlines():
        versions[path] = {"git_commit": head, "git_dirty": path in dirty_paths}
    return versions
