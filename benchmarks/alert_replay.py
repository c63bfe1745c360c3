"""What the noise replay of a month costs: `upkeep alerts replay` of the demo's synthetic month
side by side with `upkeep verify` of the same month, both as a person runs them (a fresh
`python -m upkeep.cli` each time).

In a temporary project holding the shipped `alerts:` and `escalation:` sections and the shipped
rotation, it writes the synthetic month the tests replay (tests/helpers/alert_month.py: the
demo's runbooks at their times with planted failures, acknowledgements and log entries), then
times the replay (evaluated after every run and every 15 minutes, as the cron line would) and
`upkeep verify`, alternated A B, B A for ROUNDS rounds, and prints the medians with the spread,
wall and CPU, the ratio against the target (replay < 2x verify), and the load average.

    nox -s bench -- alert_replay
    python benchmarks/alert_replay.py --repeat 3
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml
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
    run_command,
    scratch_directory,
    timed_command,
)
from site_build import ENV, REPO

sys.path.insert(0, str(REPO / "tests"))  # the synthetic month the replay tests use too
from helpers.alert_month import write_month  # noqa: E402

from upkeep.evidence import EvidenceStore  # noqa: E402

TARGET = Target("<", 2.0)  # replay wall / verify wall
SPAN = ("--from", "2026-11-01", "--to", "2026-12-01")


def _upkeep(*args: str) -> list[str]:
    return [sys.executable, "-m", "upkeep.cli", "--config", "upkeep.yml", *args]


def main(argv: list[str] | None = None) -> int:
    parser = option_parser(__doc__)
    parser.add_argument("--repeat", type=at_least(1), default=5, help="rounds [5]")
    parser.add_argument("--keep", action="store_true", help="keep the temporary project")
    args = parser.parse_args(argv)
    return run_benchmark(lambda: bench(args))


def bench(args: argparse.Namespace) -> None:
    start = BenchmarkStart.now()
    with scratch_directory("upkeep-alert-replay-bench-", keep=args.keep) as work:
        _bench(work, args.repeat)
    print(f"\n{start.closing_lines()}")


def make_project(root: Path) -> None:
    """The shipped alerting policy and rotation, and nothing else to run."""
    shipped = yaml.safe_load((REPO / "upkeep.yml").read_text())
    policy = {key: shipped[key] for key in ("timezone", "alerts", "escalation")}
    (root / "upkeep.yml").write_text(
        "version: 1\nevidence_dir: evidence\nrunbooks_dir: runbooks\n" + yaml.safe_dump(policy)
    )
    (root / "oncall.yml").write_text((REPO / "oncall.yml").read_text())
    (root / "runbooks").mkdir()


def _bench(work: Path, rounds: int) -> None:
    make_project(work)
    month = write_month(EvidenceStore(work / "evidence"))
    proc = run_command(_upkeep("alerts", "replay", *SPAN, "--json"), cwd=work, env=ENV)
    replayed = json.loads(proc.stdout)
    print(
        f"a month: {month.runs} runs; the replay pages {len(replayed['pages'])} times, at most "
        f"{replayed['most_in_a_shift']} in one shift, {len(replayed['missed'])} missed"
    )
    arms = [
        Arm(
            "upkeep alerts replay",
            lambda: timed_command(_upkeep("alerts", "replay", *SPAN), cwd=work, env=ENV)[0],
        ),
        Arm("upkeep verify", lambda: timed_command(_upkeep("verify"), cwd=work, env=ENV)[0]),
    ]
    taken = compare(arms, rounds)
    replay, verified = taken["upkeep alerts replay"], taken["upkeep verify"]
    print(f"\n{median_of(rounds)}:")
    print(f"  upkeep alerts replay: {replay.wall_spread()} wall, {replay.median.cpu_s:.2f} s CPU")
    print(
        f"  upkeep verify:        {verified.wall_spread()} wall, {verified.median.cpu_s:.2f} s CPU"
    )
    print(rounds_line(taken))
    ratio = replay.median.wall_s / verified.median.wall_s
    cpu_ratio = replay.median.cpu_s / verified.median.cpu_s
    print(
        f"replay / verify: {ratio:.2f}x wall, {cpu_ratio:.2f}x CPU "
        f"(target {TARGET}x) {TARGET.verdict(ratio)}"
    )


if __name__ == "__main__":
    sys.exit(main())
