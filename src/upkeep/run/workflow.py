"""Responsible for the steps of one run, in order: lock the runbook, stage a folder, execute the
notebook, collect its results, seal the artifacts, publish the evidence, commit the runbook's
state. A run that cannot take the lock is recorded as skipped; a run that fails before it is
published leaves nothing behind and keeps the state as the last published run left it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import filelock

from upkeep import state
from upkeep.atomic import file_mode
from upkeep.config import Config
from upkeep.evidence import EvidenceStore
from upkeep.plan import PlannedRun, not_due_now
from upkeep.records import RunRecord, Status
from upkeep.redact import Scrubber
from upkeep.registry import Runbook
from upkeep.regular_file import read_regular
from upkeep.run.collect import Results, collect
from upkeep.run.execute import execute_notebook
from upkeep.run.kernels import KernelTemplate, RunKernel
from upkeep.run.leftovers import stop_leftovers
from upkeep.run.output_limit import KernelLogTrim, OutputLimit
from upkeep.run.provenance import Provenance, new_run_id
from upkeep.run.seal import (
    KERNEL_CONNECTION,
    KERNEL_LOG,
    Renderer,
    drop_unkept,
    restore_folder,
    scrub_artifacts,
    seal,
    secret_values,
)
from upkeep.run_artifacts import RUN_DIR_ENV, RUN_ID_ENV
from upkeep.waivers import apply_waivers

LOCKED = "locked: another run of this runbook is still going"


class Progress(Protocol):
    """Told when each run starts and ends (the CLI's progress display)."""

    def started(self, planned: PlannedRun) -> None: ...

    def finished(self, planned: PlannedRun, outcome: RunOutcome) -> None: ...


@dataclass(frozen=True)
class RunOutcome:
    """A published run: where its evidence is, and its record."""

    record: RunRecord
    path: Path

    @property
    def status(self) -> Status:
        return self.record.status


@dataclass
class RunBatch:
    """What the runs of one `upkeep run` share: the system, the evidence store, the kernel
    template, the report renderer, and the stop flag Ctrl-C raises with the kernels it kills."""

    config: Config
    store: EvidenceStore
    provenance: Provenance
    renderer: Renderer
    progress: Progress
    template: KernelTemplate | None = None
    interrupted: threading.Event = field(default_factory=threading.Event)
    kernels: set[RunKernel] = field(default_factory=set)
    # Called after each run is published (the Prometheus textfile is rewritten there).
    published: Callable[[], None] = lambda: None


@dataclass(frozen=True)
class _Stage:
    run_id: str
    started_at: datetime
    folder: Path
    pending_state: Path


def run_one(planned: PlannedRun, batch: RunBatch) -> RunOutcome:
    """One run, step by step."""
    if batch.interrupted.is_set():
        raise KeyboardInterrupt
    with _lock(planned, batch.config) as held:
        if not held:
            return record_skipped(planned, batch, LOCKED)
        entries = batch.store.entries(strict=False)
        why = not_due_now(planned, entries, batch.config, datetime.now(UTC))
        if why is not None:
            return record_skipped(planned, batch, why)
        batch.progress.started(planned)
        stage = _stage(planned, batch)
        try:
            # Resolved before the kernel starts and again after it ends: a secret file
            # rotated meanwhile (a vault agent) leaves both values to scrub.
            before = secret_values(planned.runbook, planned.params, batch.config)
            # Read once: the bytes hashed into the record are the bytes the kernel runs, even
            # when the file changed since the registry loaded it or changes during the run.
            source = read_regular(planned.runbook.path)
            nb, results, duration, log_dropped = _execute(planned, source, stage, batch)
            after = secret_values(planned.runbook, planned.params, batch.config)
            secrets = list({*before.items(), *after.items()})
            leaked = scrub_artifacts(stage.folder, Scrubber(secrets))  # files it wrote itself
            if leaked is not None:
                results = replace(results, checks=(*results.checks, leaked))
            record = _record(planned, stage, batch, results, duration, nb, source)
            log_limit = _max_output(planned.runbook, batch.config)
            record = seal(stage.folder, nb, record, secrets, batch.renderer, log_limit, log_dropped)
            published = batch.store.publish(stage.folder, record)
        except BaseException:
            batch.store.discard_staging(stage.folder)
            state.discard(stage.pending_state)
            raise
        state.commit(stage.pending_state, batch.config.state_dir)
    outcome = RunOutcome(published.record, published.path)
    batch.progress.finished(planned, outcome)
    return outcome


@contextmanager
def _lock(planned: PlannedRun, config: Config) -> Iterator[bool]:
    """Hold the runbook's OS-level lock, or yield False at once if another run holds it."""
    lock_dir = config.state_dir / "locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    lock_path = lock_dir / f"{planned.runbook.name}.lock"
    lock = filelock.FileLock(lock_path, mode=file_mode(), thread_local=False)
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        yield False
        return
    try:
        yield True
    finally:
        lock.release()


def _stage(planned: PlannedRun, batch: RunBatch) -> _Stage:
    started = datetime.now(UTC)
    run_id = new_run_id(planned.runbook.name, started)
    folder = batch.store.new_staging(run_id)
    # State is staged beside the state it replaces, not beside the evidence: the evidence may
    # be on another filesystem, where committing would be a copy, not one rename per file.
    return _Stage(
        run_id,
        started,
        folder,
        state.pending_folder(batch.config.state_dir, folder.name, folder.parent),
    )


def _execute(
    planned: PlannedRun, source: bytes, stage: _Stage, batch: RunBatch
) -> tuple[Any, Results, float, int]:
    """Run `source`, the runbook's notebook, in its own kernel; read back what it recorded.
    Also how many bytes of the kernel's own output were not kept in its log."""
    runbook = planned.runbook
    pending = {
        state.PENDING_ENV: str(stage.pending_state),
        RUN_ID_ENV: stage.run_id,
        RUN_DIR_ENV: str(stage.folder),
    }
    kernel = RunKernel(
        stage.folder / KERNEL_LOG, batch.template, pending, stage.folder / KERNEL_CONNECTION
    )
    batch.kernels.add(kernel)
    if batch.interrupted.is_set():  # interrupted after the sweep that kills every kernel
        kernel.kill_group()
    clock = time.monotonic()
    try:
        timeout_s = runbook.timeout_s or batch.config.timeout_s
        root = batch.config.root
        # A runbook that runs alone measures a quiet machine: the report renderer's warm-up
        # (CPU work of ours) overlaps its kernel's start, and is over before its first cell.
        quiet = batch.renderer.wait_until_warm if runbook.runs_alone else None
        limit = OutputLimit(_max_output(runbook, batch.config))
        with KernelLogTrim(stage.folder / KERNEL_LOG, limit.limit) as log:
            nb, failure = execute_notebook(
                runbook,
                source,
                planned.params,
                root,
                timeout_s,
                kernel,
                output_limit=limit,
                before_first_cell=quiet,
            )
        limit.log_dropped = log.dropped
    finally:
        batch.kernels.discard(kernel)
    if batch.interrupted.is_set():
        raise KeyboardInterrupt
    results = collect(nb, failure)
    today = datetime.now(batch.config.tz).date()  # a waiver's last day ends in upkeep.yml's zone
    # After collect: a run that recorded no check of its own still errs.
    own_checks = (
        limit.check(),
        restore_folder(stage.folder),
        drop_unkept(stage.folder),
        stop_leftovers(stage.run_id),  # the kernel has stopped: what it started is done too
    )
    recorded = (*results.checks, *(check for check in own_checks if check is not None))
    checks = apply_waivers(recorded, runbook.name, batch.config.risk_register, today)
    return nb, replace(results, checks=checks), time.monotonic() - clock, limit.log_dropped


def _max_output(runbook: Runbook, config: Config) -> int:
    """How many bytes of output a run of `runbook` keeps: its own limit, else the config's."""
    return runbook.max_output_bytes or config.max_output_bytes


def _record(
    planned: PlannedRun,
    stage: _Stage,
    batch: RunBatch,
    results: Results,
    duration: float,
    nb: Any,
    source: bytes | None,
) -> RunRecord:
    return RunRecord(
        run_id=stage.run_id,
        runbook=batch.provenance.runbook_ref(planned.runbook, source),
        status=results.status,
        started_at=stage.started_at,
        ended_at=datetime.now(UTC),
        as_of=stage.started_at,
        trigger=planned.trigger,
        duration_s=round(duration, 3),
        parameters=dict(planned.params),
        secret_parameters=tuple(sorted(p.name for p in planned.runbook.params if p.secret)),
        checks=results.checks,
        metrics=results.metrics,
        findings=results.findings,
        cleared=results.cleared,
        error=results.error,
        dry_run=results.dry_run,
        summary=results.summary,
        host=batch.provenance.host,
        versions=batch.provenance.run_versions(nb),
    )


def record_skipped(planned: PlannedRun, batch: RunBatch, reason: str) -> RunOutcome:
    """Publish the evidence of a run that could not start."""
    now = datetime.now(UTC)
    stage = _Stage(new_run_id(planned.runbook.name, now), now, Path(), Path())
    try:  # nothing ran: the record names the version on disk when it was skipped
        source = read_regular(planned.runbook.path)
    except OSError:
        source = None
    record = replace(
        _record(planned, stage, batch, Results(), 0.0, None, source),
        status=Status.SKIPPED,
        skipped_reason=reason,
    )
    folder = batch.store.new_staging(stage.run_id)
    try:
        record = seal(folder, None, record, {}, batch.renderer)
        published = batch.store.publish(folder, record)
    except BaseException:
        batch.store.discard_staging(folder)
        raise
    outcome = RunOutcome(published.record, published.path)
    batch.progress.finished(planned, outcome)
    return outcome
