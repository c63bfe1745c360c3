"""What alert evaluation adds to a run: `upkeep run health-check` on the demo with the shipped
kind of `alerts:` and `escalation:` sections (a local inbox target, the on-call rotation, the
health check critical) side by side with the same run without them, both as a person runs them.

In a temporary project (site_build.py's: the real health check against a real demo system) it
times the two arms alternated A B, B A for ROUNDS rounds (they share one evidence ledger, which
grows as in life), prints the medians with the spread, wall and CPU, and the added share against
the target (< 5 % of the run's wall time); then it times `alert()` itself in process on the
evidence the rounds left, which is the direct figure (the arms' difference is within noise).

    nox -s bench -- alert_evaluation
    python benchmarks/alert_evaluation.py --repeat 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from harness import (
    Arm,
    BenchmarkStart,
    Target,
    at_least,
    compare,
    median_of,
    option_parser,
    rounds_line,
    run_benchmark,
    scratch_directory,
    timed_command,
)
from site_build import ENV, REPO, make_project

from upkeep.alerts import alert
from upkeep.config import load_config
from upkeep.evidence import EvidenceStore

TARGET = Target("<", 5.0)  # % of the run's wall time
ALERTING = """\
alerts:
  remind_every: 4h
  targets:
    - {name: inbox, inbox: var/alerts/inbox, statuses: [warn, fail, error], schedule: ops-oncall}
escalation:
  critical: [health-check]
  fail:
    levels:
      - {page: 'oncall:ops-oncall', targets: [inbox], wait: 30m}
      - {page: ops-lead, targets: [inbox], wait: 1h}
"""


def main(argv: list[str] | None = None) -> int:
    parser = option_parser(__doc__)
    parser.add_argument("--repeat", type=at_least(1), default=5, help="rounds [5]")
    parser.add_argument("--keep", action="store_true", help="keep the temporary project")
    args = parser.parse_args(argv)
    return run_benchmark(lambda: bench(args))


def bench(args: argparse.Namespace) -> None:
    start = BenchmarkStart.now()
    with scratch_directory("upkeep-alert-evaluation-bench-", keep=args.keep) as work:
        _bench(work, args.repeat)
    print(f"\n{start.closing_lines()}")


def _run(project: Path, config: str) -> list[str]:
    return [sys.executable, "-m", "upkeep.cli", "--config", config, "run", "health-check"]


def _bench(project: Path, rounds: int) -> None:
    make_project(project)
    plain = (project / "upkeep.yml").read_text()
    (project / "alerting.yml").write_text(plain + ALERTING)
    (project / "oncall.yml").write_text((REPO / "oncall.yml").read_text())
    arms = [
        Arm(
            "run, no alerts",
            lambda: timed_command(_run(project, "upkeep.yml"), cwd=project, env=ENV)[0],
        ),
        Arm(
            "run + alerts",
            lambda: timed_command(_run(project, "alerting.yml"), cwd=project, env=ENV)[0],
        ),
    ]
    taken = compare(arms, rounds)
    bare, alerting = taken["run, no alerts"], taken["run + alerts"]
    print(f"\n{median_of(rounds)}:")
    print(f"  run, no alerts: {bare.wall_spread()} wall, {bare.median.cpu_s:.2f} s CPU")
    print(f"  run + alerts:   {alerting.wall_spread()} wall, {alerting.median.cpu_s:.2f} s CPU")
    print(rounds_line(taken))
    added = 100 * (alerting.median.wall_s - bare.median.wall_s) / bare.median.wall_s
    print(
        f"added by alerts (arms): {added:+.1f} % wall (target {TARGET} %) {TARGET.verdict(added)}"
    )
    config = load_config(str(project / "alerting.yml"))
    store = EvidenceStore(config.evidence_dir)
    walls = []
    for _ in range(max(rounds, 5)):
        started = time.perf_counter()
        alert(config, store, datetime.now(UTC))
        walls.append(time.perf_counter() - started)
    direct = statistics.median(walls)
    share = 100 * direct / bare.median.wall_s
    print(
        f"alert() in process over {len(store.entries())} runs: {1000 * direct:.1f} ms "
        f"({min(walls) * 1000:.1f}-{max(walls) * 1000:.1f}) = {share:.2f} % of the run's wall "
        f"(target {TARGET} %) {TARGET.verdict(share)}"
    )


if __name__ == "__main__":
    sys.exit(main())
