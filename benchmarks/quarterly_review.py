"""What the quarterly review costs on one quarter of a busy system: side by side with `upkeep
verify` on the same evidence, both as a person runs them (a fresh `python -m upkeep.cli` each).

In a temporary project it:

1. runs the real health check once on the demo system, to get a real notebook and report;
2. writes one quarter of synthetic history through `upkeep.evidence` for RUNBOOKS daily
   runbooks (RUNBOOKS x DAYS runs, each with the real artifacts, checks, a metric for the trend
   plots, and findings of which some recur, as `maintenance_review.py` writes a month), a
   monthly review at the start of November and December, and a few backlog decisions;
   `upkeep verify` accepts it;
3. times `upkeep review --quarter --plots DIR` (the whole quarter: one read of the evidence,
   coverage, the backlog folded twice for its flow, drills, restore times, proposals and every
   trend plot written as SVG) and `upkeep verify` (every hash and the chain), alternated A B,
   B A for ROUNDS rounds;
4. prints the medians with the spread, wall and CPU, and the ratio against the target:
   quarterly review < 2x verify; then the load average before and after.

It is a measurement, not a test: it exits 0 whatever the figures, 1 only when something it runs
failed.

    nox -s bench -- quarterly_review
    python benchmarks/quarterly_review.py --repeat 3
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from harness import (
    Arm,
    BenchError,
    BenchmarkStart,
    Target,
    at_least,
    compare,
    median_of,
    note,
    option_parser,
    rounds_line,
    run_benchmark,
    run_command,
    scratch_directory,
    timed_command,
)
from maintenance_review import RUNBOOKS, _publish, _upkeep, make_project, real_run
from site_build import ENV

from upkeep.evidence import EvidenceStore, verify
from upkeep.records import Decision
from upkeep.review.backlog import BACKLOG_CHANGE, item_id

TARGET = Target("<", 2.0)  # quarterly review wall / verify wall
DAYS = 92  # October to December
END = datetime(2027, 1, 1, 0, 0, tzinfo=UTC)


def main(argv: list[str] | None = None) -> int:
    parser = option_parser(__doc__)
    parser.add_argument("--repeat", type=at_least(1), default=5, help="rounds [5]")
    parser.add_argument("--keep", action="store_true", help="keep the temporary project")
    args = parser.parse_args(argv)
    return run_benchmark(lambda: bench(args))


def bench(args: argparse.Namespace) -> None:
    start = BenchmarkStart.now()
    with scratch_directory("upkeep-quarter-bench-", keep=args.keep) as work:
        _bench(work, args.repeat)
    print(f"\n{start.closing_lines()}")


def write_quarter(evidence: Path, real: dict[str, Any]) -> int:
    """A run of every runbook every day of the quarter before END, and a monthly review at the
    start of each month; returns the number of runs."""
    store = EvidenceStore(evidence)
    real_fsync = os.fsync
    os.fsync = lambda fd: None  # generation only: the bytes are the same, the disk waits less
    count = 0
    try:
        for day in range(DAYS):
            day_start = END - timedelta(days=DAYS - day)
            for index in range(RUNBOOKS):
                at = day_start + timedelta(hours=3, minutes=index)
                _publish(store, real, f"service-{index:02d}", index, day % 30, at)
                count += 1
            if day_start.day == 1 and day > 0:
                review_at = day_start + timedelta(hours=5)
                _publish(store, real, "maintenance-review", 99, day % 30, review_at)
                count += 1
            if day == 40:
                for index in range(0, RUNBOOKS, 6):
                    decision = Decision(
                        BACKLOG_CHANGE,
                        item_id(f"service-{index:02d}", "disk:/data"),
                        "ops",
                        at + timedelta(hours=1),
                        "done",
                        {"state": "done"},
                    )
                    store.record_decision(decision)
    finally:
        os.fsync = real_fsync
    return count


def _bench(work: Path, rounds: int) -> None:
    project = work / "project"
    project.mkdir()
    make_project(project)
    note("running the health check once for real ...")
    real = real_run(project)
    note(f"writing {RUNBOOKS} runbooks x {DAYS} days of evidence ...")
    added = write_quarter(project / "evidence", real)
    report = verify(project / "evidence")
    if not report.ok:
        raise BenchError(f"synthetic evidence does not verify: {report.problems[0]}")
    at = END.isoformat()
    plots = work / "plots"
    review = _upkeep("review", "--quarter", "--at", at, "--plots", str(plots))
    proc = run_command(review, "upkeep review --quarter", cwd=project, env=ENV)
    first = proc.stdout.splitlines()[0] if proc.stdout else ""
    print(
        f"{RUNBOOKS} runbooks x {DAYS} days: {report.runs_checked} runs ({added} synthetic), "
        f"{report.decisions_checked} decisions, verify ok; {first}; "
        f"{len(list(plots.glob('*.svg')))} trend plot(s)"
    )
    arms = [
        Arm(
            "upkeep review --quarter",
            lambda: timed_command(review, cwd=project, env=ENV)[0],
        ),
        Arm("upkeep verify", lambda: timed_command(_upkeep("verify"), cwd=project, env=ENV)[0]),
    ]
    taken = compare(arms, rounds)
    quarter, checked = taken["upkeep review --quarter"], taken["upkeep verify"]
    print(f"\n{median_of(rounds)}:")
    print(f"  upkeep review --quarter --plots: {quarter.wall_spread()} wall, ", end="")
    print(f"{quarter.median.cpu_s:.2f} s CPU")
    print(f"  upkeep verify: {checked.wall_spread()} wall, {checked.median.cpu_s:.2f} s CPU")
    print(rounds_line(taken))
    ratio = quarter.median.wall_s / checked.median.wall_s
    cpu_ratio = quarter.median.cpu_s / checked.median.cpu_s
    print(
        f"quarterly review / verify: {ratio:.2f}x wall, {cpu_ratio:.2f}x CPU "
        f"(target {TARGET}x) {TARGET.verdict(ratio)}"
    )


if __name__ == "__main__":
    sys.exit(main())
