"""What `upkeep status` costs over years of evidence: side by side with `upkeep verify` on the same
evidence, both as a person runs them (a fresh `python -m upkeep.cli` each time).

In a temporary project it:

1. runs the 12 real runbooks of `site_build.py` once (3 daily, 3 weekly, 3 monthly, 3 yearly) to
   get real notebooks and reports, then writes YEARS of synthetic history at every scheduled time
   through `upkeep.evidence`, exactly as `site_build.py` does (`upkeep verify` accepts it);
2. times `upkeep status --json` (every scheduled run of every runbook accounted for, from the
   ledger and the cadences) and `upkeep verify` (every hash and the chain), alternated A B, B A
   for ROUNDS rounds;
3. prints the medians with the spread, wall and CPU, and the ratio against the target:
   status < 0.3x verify; then the load average before and after.

Both arms read the same ledger; `verify` also re-hashes every artifact, which is the point of
the comparison (status must not cost what an integrity check costs). It is a measurement, not a
test: it exits 0 whatever the figures, and 1 only when something it runs failed.

    nox -s bench -- status
    python benchmarks/status.py --years 1 --repeat 3    # a quicker look
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from harness import (
    Arm,
    BenchError,
    BenchmarkStart,
    Target,
    at_least,
    compare,
    median_of,
    option_parser,
    rounds_line,
    run_benchmark,
    run_command,
    scratch_directory,
    timed_command,
)
from site_build import ENV, project_with_history

from upkeep.evidence import verify

TARGET = Target("<", 0.3)  # status wall / verify wall


def _upkeep(*args: str) -> list[str]:
    """The command line of `upkeep ARGS` on the project in the working directory."""
    return [sys.executable, "-m", "upkeep.cli", "--config", "upkeep.yml", *args]


def main(argv: list[str] | None = None) -> int:
    parser = option_parser(__doc__)
    parser.add_argument("--years", type=at_least(1), default=5, help="years of history [5]")
    parser.add_argument("--repeat", type=at_least(1), default=5, help="rounds [5]")
    parser.add_argument("--keep", action="store_true", help="keep the temporary project")
    args = parser.parse_args(argv)
    return run_benchmark(lambda: bench(args))


def bench(args: argparse.Namespace) -> None:
    start = BenchmarkStart.now()
    with scratch_directory("upkeep-status-bench-", keep=args.keep) as work:
        _bench(work, args.years, args.repeat)
    print(f"\n{start.closing_lines()}")


def _bench(work: Path, years: int, rounds: int) -> None:
    project = work / "project"
    added = project_with_history(project, years)
    report = verify(project / "evidence")
    if not report.ok:
        raise BenchError(f"synthetic evidence does not verify: {report.problems[0]}")
    # `--at` the end of the history, so that every runbook is on time and status does its
    # whole walk rather than stopping at an alarm (it never stops early, but say what it saw).
    at = "2026-11-01T12:00:00+00:00"
    proc = run_command(
        _upkeep("status", "--json", "--at", at), cwd=project, env=ENV, ok_codes=(0, 1)
    )
    counted = sum(sum(item["counts"].values()) for item in json.loads(proc.stdout)["runbooks"])
    print(
        f"{years} years: {report.runs_checked} runs ({added} synthetic), verify ok; "
        f"status accounts for {counted} scheduled runs"
    )
    arms = [
        Arm(
            "upkeep status",
            lambda: timed_command(
                _upkeep("status", "--json", "--at", at),
                cwd=project,
                env=ENV,
                ok_codes=(0, 1),
            )[0],
        ),
        Arm(
            "upkeep verify",
            lambda: timed_command(_upkeep("verify"), cwd=project, env=ENV)[0],
        ),
    ]
    taken = compare(arms, rounds)
    status, checked = taken["upkeep status"], taken["upkeep verify"]
    print(f"\n{median_of(rounds)}:")
    print(f"  upkeep status --json: {status.wall_spread()} wall, {status.median.cpu_s:.2f} s CPU")
    print(f"  upkeep verify:        {checked.wall_spread()} wall, {checked.median.cpu_s:.2f} s CPU")
    print(rounds_line(taken))
    ratio = status.median.wall_s / checked.median.wall_s
    cpu_ratio = status.median.cpu_s / checked.median.cpu_s
    print(
        f"status / verify: {ratio:.2f}x wall, {cpu_ratio:.2f}x CPU "
        f"(target {TARGET}x) {TARGET.verdict(ratio)}"
    )


if __name__ == "__main__":
    sys.exit(main())
