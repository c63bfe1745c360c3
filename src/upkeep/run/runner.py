"""Responsible for running a whole plan: the runbooks that run alone first, one at a time on a
quiet machine, then the others `jobs` at a time on worker threads, each started once the runs of
the plan its runbook's `after` names have ended; one kernel template shared by all of them,
evidence recovered first, and on Ctrl-C every kernel stopped and nothing unfinished published.
Outcomes come back in plan order.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime

from upkeep.config import Config
from upkeep.config.windows import open_window
from upkeep.evidence import EvidenceStore, recover
from upkeep.metrics.textfile import textfile_writer
from upkeep.plan import PlannedRun
from upkeep.registry import Runbook
from upkeep.run.alone import run_turn, waited_too_long
from upkeep.run.execute import prepare_imports
from upkeep.run.kernels import KernelTemplate
from upkeep.run.provenance import Provenance
from upkeep.run.seal import Renderer
from upkeep.run.workflow import Progress, RunBatch, RunOutcome, record_skipped, run_one


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
    template: KernelTemplate | None = None,
) -> list[RunOutcome]:
    """Run every planned runbook: those that run alone first, one by one, each runbook's code
    once upkeep's own start-up work is done; then the others, `jobs` at a time (default:
    `defaults.jobs`, else the CPUs). Kernels fork from `template` (the caller started it early
    and closes it) or from one started and closed here."""
    own_template = template is None
    if template is None:
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
            provenance=Provenance.gather(config.root, config.host_id or ""),
            renderer=Renderer(config.tz),
            progress=progress or _Silent(),
            template=template,
            published=textfile_writer(config, notify),
        )
        alone = [i for i, planned in enumerate(plan) if planned.runbook.runs_alone]
        beside = [i for i, planned in enumerate(plan) if not planned.runbook.runs_alone]
        outcomes = {i: run_in_turn(plan[i], batch) for i in alone}
        jobs = jobs or config.jobs or os.cpu_count() or 1
        if len(beside) == 1 or jobs == 1:
            in_order = _in_order([plan[i] for i in beside])
            outcomes |= {beside[k]: run_in_turn(plan[beside[k]], batch) for k in in_order}
        elif beside:
            ran = _run_pool([plan[i] for i in beside], batch, jobs)
            outcomes |= dict(zip(beside, ran, strict=True))
        return [outcomes[i] for i in range(len(plan))]
    finally:
        if own_template:
            template.close()


def run_in_turn(planned: PlannedRun, batch: RunBatch) -> RunOutcome:
    """One run, holding its turn on the machine: alone, or beside other runs but never beside
    one that runs alone; skipped when its turn does not come within its timeout. Once it is
    published (its turn given back), `batch.published` runs (the metrics textfile)."""
    alone = planned.runbook.runs_alone
    wait_s = planned.runbook.timeout_s or batch.config.timeout_s
    lock_dir = batch.config.state_dir / "locks"
    if (outside := outside_window(planned.runbook, batch.config, datetime.now(UTC))) is not None:
        outcome = record_skipped(planned, batch, outside)
        batch.published()
        return outcome
    with run_turn(lock_dir, alone=alone, wait_s=wait_s, interrupted=batch.interrupted) as held:
        if not held:
            outcome = record_skipped(planned, batch, waited_too_long(alone, wait_s))
        else:
            outcome = run_one(planned, batch)
    batch.published()
    return outcome


def outside_window(runbook: Runbook, config: Config, now: datetime) -> str | None:
    """Why a runbook marked `window: required` may not run at `now` (no maintenance window for
    it is open), or None when it may."""
    if not runbook.window_required or open_window(config.maintenance_windows, runbook.name, now):
        return None
    return "outside every maintenance window for it (maintenance_windows in upkeep.yml)"


def _named(plan: list[PlannedRun]) -> list[set[int]]:
    """For each run of the plan, the runs of the plan its runbook's `after` names (a runbook
    named there that is not in the plan is not waited for)."""
    where: dict[str, list[int]] = {}
    for i, planned in enumerate(plan):
        where.setdefault(planned.runbook.name, []).append(i)
    return [{j for name in planned.runbook.after for j in where.get(name, ())} for planned in plan]


def _in_order(plan: list[PlannedRun]) -> list[int]:
    """The plan's indexes in plan order, each moved after the runs it waits for."""
    named, order, placed = _named(plan), [], set()
    while len(order) < len(plan):
        ready = [i for i in range(len(plan)) if i not in placed and named[i] <= placed]
        # None ready: a cycle, which the registry refuses; run the rest as planned.
        for i in ready[:1] or [i for i in range(len(plan)) if i not in placed]:
            order.append(i)
            placed.add(i)
    return order


def _waits(plan: list[PlannedRun]) -> list[set[int]]:
    """For each run of the plan, the runs it starts after: those `after` names that come
    before it in `_in_order` (so that some run can always start)."""
    position = {i: at for at, i in enumerate(_in_order(plan))}
    return [{j for j in named if position[j] < position[i]} for i, named in enumerate(_named(plan))]


def _run_pool(plan: list[PlannedRun], batch: RunBatch, jobs: int) -> list[RunOutcome]:
    """Run on worker threads, each run once those it waits for have ended; on Ctrl-C, stop
    every kernel and publish nothing unfinished."""
    pool = ThreadPoolExecutor(max_workers=min(jobs, len(plan)))
    waits = _waits(plan)
    futures: dict[int, Future[RunOutcome]] = {}

    def start_ready() -> None:
        for i, planned in enumerate(plan):
            if i not in futures and all(j in futures and futures[j].done() for j in waits[i]):
                futures[i] = pool.submit(run_in_turn, planned, batch)

    try:
        start_ready()
        # Wake up regularly: Ctrl-C is often delivered to a worker thread, and the main
        # thread only raises KeyboardInterrupt once it runs Python code again.
        while len(futures) < len(plan) or not all(f.done() for f in futures.values()):
            pending = [future for future in futures.values() if not future.done()]
            wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            start_ready()
        return [futures[i].result() for i in range(len(plan))]
    except KeyboardInterrupt:  # anything else: the other runs finish and publish first
        batch.interrupted.set()
        for future in futures.values():
            future.cancel()
        for kernel in list(batch.kernels):
            kernel.kill_group()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
