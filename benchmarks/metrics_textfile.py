"""What writing the Prometheus textfile adds to a run: `upkeep run` with and without it.

On years of evidence: in one temporary project whose evidence holds --years of runs of a
12-runbook plan (3 daily, 3 weekly, 3 monthly, 3 yearly runbooks, each run with checks, metrics
and findings; about 6,500 runs for 5 years), this measures side by side, arms alternated A B,
B A, ...:

1. `upkeep run bench` with `metrics.textfile` set (the textfile rewritten after the run);
2. `upkeep run bench` without it (the same trivial runbook, the same evidence);

and, as the figures behind the difference, in this process: the textfile written from its
checkpoint (what a run pays: the ledger lines since the last write), and written cold (no
checkpoint: the whole ledger and every run.json read, what the first write after an upgrade or
a deleted state folder pays). A trivial runbook is the worst case: the cheaper the run, the larger
the textfile's share. Target: (1) / (2) - 1 < 2 %. It exits 0 whatever the figures, and 1 only
when something failed to run.

    nox -s bench -- metrics_textfile
    python benchmarks/metrics_textfile.py --rounds 7 --years 5
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from harness import (
    Arm,
    BenchError,
    BenchmarkStart,
    CpuOf,
    Rounds,
    Target,
    Timing,
    at_least,
    compare,
    median_of,
    note,
    option_parser,
    rounds_line,
    run_benchmark,
    scratch_directory,
    timed,
    timed_command,
)

from upkeep.config import load_config
from upkeep.evidence import EvidenceStore
from upkeep.metrics.textfile import CHECKPOINT, write_textfile
from upkeep.records import Check, Finding, Metric, RunbookRef, RunRecord, Severity, Status
from upkeep.scaffold import new_runbook

BIN = Path(sys.executable).parent
SHARE_TARGET = Target("<", 0.02)  # (with textfile) / (without) - 1
ENV = {
    **{k: v for k, v in os.environ.items() if k not in ("UPKEEP_CONFIG", "CI")},
    "NO_COLOR": "1",
}
CONFIG = """\
version: 1
timezone: UTC
evidence_dir: evidence
state_dir: state
runbooks_dir: runbooks
"""
WITH_TEXTFILE = CONFIG + "metrics: {textfile: metrics/upkeep.prom}\n"
PLAN = {"daily": 1, "weekly": 7, "monthly": 30, "yearly": 365}  # cadence: days between runs


def make_project(root: Path) -> tuple[Path, Path]:
    """The two configs (with and without the textfile) over one project and its runbook."""
    folder = root / "runbooks" / "daily"
    folder.mkdir(parents=True)
    notebook = new_runbook(
        [("code", 'from upkeep import report\nreport.check("n", "ok", value=n)')],
        params="n: int = 1  # a number",
        why="A trivial runbook for benchmarks.",
        metadata={
            "title": "Benchmark runbook",
            "summary": "Records one check.",
            "cadence": "daily",
            "category": "Benchmarks",
            "owner": "benchmarks",
            "references": [],
            "timeout_s": 300,
            "destructive": False,
        },
    )
    (folder / "bench.ipynb").write_text(json.dumps(notebook, indent=1))
    (root / "with.yml").write_text(WITH_TEXTFILE)
    (root / "without.yml").write_text(CONFIG)
    return root / "with.yml", root / "without.yml"


@contextmanager
def no_fsync() -> Iterator[None]:
    """Setting up the evidence only: publishing thousands of runs need not survive a power cut."""
    fsync = os.fsync
    os.fsync = lambda fd: None
    try:
        yield
    finally:
        os.fsync = fsync


def past_runs(years: int, end: datetime) -> Iterator[RunRecord]:
    """Every run of the 12-runbook plan over `years` before `end`, oldest first."""
    start = end - timedelta(days=365 * years)
    day = 0
    while (moment := start + timedelta(days=day)) < end:
        for cadence, every in PLAN.items():
            if day % every:
                continue
            for index in range(3):
                yield past_run(f"{cadence}-{index}", moment + timedelta(minutes=index), day)
        day += 1


def past_run(name: str, at: datetime, day: int) -> RunRecord:
    failing = day % 13 == 0
    status = Status.WARN if failing else Status.OK
    findings = (
        Finding(f"orphans:t{day % 5}", "orphaned rows", Severity.WARN),
        Finding(f"log:{day % 97:08x}", "a new error line", Severity.FAIL, sticky=True),
    )
    return RunRecord(
        f"{at:%Y%m%dT%H%M%SZ}-{name}-{day:04x}",
        RunbookRef(name),
        status,
        at,
        at + timedelta(seconds=3),
        at,
        duration_s=3.0,
        checks=tuple(Check(f"check-{i}", Status.OK) for i in range(6))
        + ((Check("limit", Status.WARN, value=91, limit=90),) if failing else ()),
        metrics=tuple(Metric(f"value_{i}", float(day + i), "B", {"part": "a"}) for i in range(4)),
        findings=findings if failing else findings[1:],
    )


def seed_evidence(root: Path, years: int) -> int:
    store = EvidenceStore(root / "evidence")
    count = 0
    with no_fsync():
        for record in past_runs(years, datetime.now(UTC) - timedelta(days=1)):
            store.publish(store.new_staging(record.run_id), record)
            count += 1
    return count


def run_arm(config: Path) -> Timing:
    timing, _ = timed_command(
        [str(BIN / "upkeep"), "--config", str(config), "run", "bench"],
        f"upkeep run ({config.name})",
        cwd=config.parent,
        env=ENV,
    )
    return timing


def write_once(config_path: Path, *, cold: bool, new_run: int | None = None) -> Timing:
    """One textfile write, timed: cold (no checkpoint), or after the run `new_run` (of the
    day after the seeded years) was published, as a run pays it."""
    config = load_config(config_path)
    if cold:
        shutil.rmtree(config.state_dir / "metrics", ignore_errors=True)
    if new_run is not None:
        store = EvidenceStore(config.evidence_dir)
        record = past_run("daily-0", datetime.now(UTC) + timedelta(minutes=new_run), new_run)
        store.publish(store.new_staging(record.run_id), record)
    timing, written = timed(lambda: write_textfile(config), CpuOf.THIS_PROCESS)
    if written is None or not written.stat().st_size:
        raise BenchError("the textfile was not written")
    return timing


def bench(args: argparse.Namespace) -> None:
    start = BenchmarkStart.now()
    with scratch_directory("upkeep-bench-metrics-", keep=args.keep, keep_on_failure=True) as root:
        with_textfile, without = make_project(root)
        note(f"seeding {args.years} years of evidence (12 runbooks)")
        runs = seed_evidence(root, args.years)
        ledger_kib = (root / "evidence/ledger.jsonl").stat().st_size / 1024
        print(
            f"metrics textfile: {runs} runs of evidence ({ledger_kib:.0f} KiB of ledger), "
            f"{args.rounds} round(s), {os.cpu_count()} CPUs\nproject: {root}",
            flush=True,
        )
        note("cold write (no checkpoint), then one run of each arm to warm up")
        cold = [write_once(with_textfile, cold=True) for _ in range(3)]
        run_arm(with_textfile), run_arm(without)
        arms = compare(
            [
                Arm("with textfile", lambda: run_arm(with_textfile)),
                Arm("without", lambda: run_arm(without)),
            ],
            args.rounds,
        )
        note("textfile writes from the checkpoint after one new run each, in this process")
        warm = [write_once(with_textfile, cold=False, new_run=i) for i in range(args.rounds)]
        if not (root / "state/metrics" / CHECKPOINT).is_file():
            raise BenchError("no checkpoint was kept")
    report(arms, cold, warm, args.rounds)
    print(f"\n{start.closing_lines()}")


def report(arms: dict[str, Rounds], cold: list[Timing], warm: list[Timing], rounds: int) -> None:
    with_it, without = arms["with textfile"].median, arms["without"].median
    share = with_it.wall_s / without.wall_s - 1
    cpu_share = with_it.cpu_s / without.cpu_s - 1
    warm_wall = statistics.median(t.wall_s for t in warm)
    cold_wall = statistics.median(t.wall_s for t in cold)
    print(f"\nresults ({median_of(rounds)})")
    print(f"  upkeep run, with textfile     {with_it.text()}")
    print(f"  upkeep run, without           {without.text()}")
    print(f"  textfile after one new run    {warm_wall * 1000:7.1f} ms wall (in-process)")
    print(f"  textfile cold, whole ledger   {cold_wall * 1000:7.1f} ms wall (in-process)")
    print()
    print(
        f"  with / without - 1            {share:+7.2%} wall, {cpu_share:+7.2%} CPU   "
        f"target {SHARE_TARGET.comparison} {SHARE_TARGET.limit:.0%}  {SHARE_TARGET.verdict(share)}"
    )
    print(
        f"  checkpoint write / run        {warm_wall / without.wall_s:7.2%}   (the same share, "
        "measured alone: free of the runs' noise)"
    )
    print(
        f"  cold write / run              {cold_wall / without.wall_s:7.2%}   (informational: "
        "once, after the state folder is lost)"
    )
    print(rounds_line(arms))


def main(argv: list[str] | None = None) -> int:
    parser = option_parser(__doc__)
    parser.add_argument("--rounds", type=at_least(1), default=7, help="rounds of each arm [7]")
    parser.add_argument("--years", type=at_least(1), default=5, help="years of evidence [5]")
    parser.add_argument("--keep", action="store_true", help="keep the temporary project")
    args = parser.parse_args(argv)
    return run_benchmark(lambda: bench(args))


if __name__ == "__main__":
    sys.exit(main())
