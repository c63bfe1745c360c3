"""Responsible for running a whole plan: `jobs` runs at a time on worker threads, one kernel
template shared by all of them, evidence recovered first, and on Ctrl-C every kernel stopped and
nothing unfinished published. Outcomes come back in plan order.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait

from upkeep.config import Config
from upkeep.evidence import EvidenceStore, recover
from upkeep.plan import PlannedRun
from upkeep.run.execute import prepare_imports
from upkeep.run.kernels import KernelTemplate
from upkeep.run.provenance import Provenance
from upkeep.run.seal import Renderer
from upkeep.run.workflow import Progress, RunBatch, RunOutcome, run_one


class _Silent:
    def started(self, planned: PlannedRun) -> None:
        pass

    def finished(self, planned: PlannedRun, outcome: RunOutcome) -> None:
        pass


def run_plan(
    plan: list[PlannedRun],
    config: Config,
    store: EvidenceStore,
    *,
    jobs: int | None = None,
    progress: Progress | None = None,
    notify: Callable[[str], None] = lambda text: None,
) -> list[RunOutcome]:
    """Run every planned runbook, `jobs` at a time (default: `defaults.jobs`, else the CPUs)."""
    template = KernelTemplate()
    template.start()  # its imports overlap ours
    try:
        prepare_imports()
        os.environ["UPKEEP_CONFIG"] = str(config.path)
        for note in recover(store):
            notify(note)
        batch = RunBatch(
            config=config,
            store=store,
            provenance=Provenance.gather(config.root),
            renderer=Renderer(config.tz),
            progress=progress or _Silent(),
            template=template,
        )
        jobs = jobs or config.jobs or os.cpu_count() or 1
        if len(plan) == 1 or jobs == 1:
            return [run_one(planned, batch) for planned in plan]
        return _run_pool(plan, batch, jobs)
    finally:
        template.close()


def _run_pool(plan: list[PlannedRun], batch: RunBatch, jobs: int) -> list[RunOutcome]:
    """Run on worker threads; on Ctrl-C, stop every kernel and publish nothing unfinished."""
    pool = ThreadPoolExecutor(max_workers=min(jobs, len(plan)))
    futures = [pool.submit(run_one, planned, batch) for planned in plan]
    try:
        # Wake up regularly: Ctrl-C is often delivered to a worker thread, and the main
        # thread only raises KeyboardInterrupt once it runs Python code again.
        pending = set(futures)
        while pending:
            _, pending = wait(pending, timeout=0.2)
        return [future.result() for future in futures]
    except KeyboardInterrupt:  # anything else: the other runs finish and publish first
        batch.interrupted.set()
        for future in futures:
            future.cancel()
        for kernel in list(batch.kernels):
            kernel.kill_group()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
