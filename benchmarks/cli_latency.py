"""How long `upkeep list` and `upkeep show` take over years of evidence, side by side with what a
person compares a command-line tool's start with: `nox --help` and `python -c pass`.

In a temporary project it:

1. runs the 12 real runbooks of `site_build.py` once (3 daily, 3 weekly, 3 monthly, 3 yearly),
   then writes YEARS of synthetic history at every scheduled time through `upkeep.evidence`,
   exactly as `site_build.py` and `status.py` do;
2. runs `upkeep list` once, so that its cache of recent runs (`recent-runs.json` in the state
   folder) is there, as it is for every `list` after the first;
3. times, each as a fresh process as a person runs it, alternated (A B C D, D C B A, ...) for
   ROUNDS rounds: `upkeep list`, `upkeep show health-check`, `nox --help`, `python -c pass`, and
   as context `upkeep list` with its cache removed before each run (the whole ledger read, as
   the first `list` of a checkout does) and `upkeep list` on the repository's own upkeep.yml
   (every section of the shipped config, which validates its support hours' holiday calendar;
   no history);
4. prints the medians with the spread, wall and CPU, the targets (list and show <= 0.2 s, and
   <= 1.5x `nox --help`), then the load average before and after.

`python -c pass` is the floor any Python command pays. It is a measurement, not a test: it exits
0 whatever the figures, and 1 only when something it runs failed.

    nox -s bench -- cli_latency
    python benchmarks/cli_latency.py --years 1 --repeat 5    # a quicker look
"""

from __future__ import annotations

import argparse
import sys
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
    run_command,
    scratch_directory,
    timed_command,
)
from site_build import ENV, REPO, RUNBOOKS, project_with_history

from upkeep.recent_runs import CACHE_FILE

SECONDS_TARGET = Target("<=", 0.2)  # list, show: median wall seconds
NOX_TARGET = Target("<=", 1.5)  # list, show: median wall / nox --help median wall


def _upkeep(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "upkeep.cli", "--config", str(config), *args]


def main(argv: list[str] | None = None) -> int:
    parser = option_parser(__doc__)
    parser.add_argument("--years", type=at_least(1), default=5, help="years of history [5]")
    parser.add_argument("--repeat", type=at_least(1), default=15, help="rounds [15]")
    parser.add_argument("--keep", action="store_true", help="keep the temporary project")
    args = parser.parse_args(argv)
    return run_benchmark(lambda: bench(args))


def bench(args: argparse.Namespace) -> None:
    start = BenchmarkStart.now()
    with scratch_directory("upkeep-cli-latency-bench-", keep=args.keep) as work:
        _bench(work, args.years, args.repeat)
    print(f"\n{start.closing_lines()}")


def _bench(work: Path, years: int, rounds: int) -> None:
    project = work / "project"
    added = project_with_history(project, years)
    config = project / "upkeep.yml"
    listed = run_command(_upkeep(config, "list"), cwd=project, env=ENV)
    cache = project / "var" / "state" / CACHE_FILE
    print(
        f"{years} years: {added + len(RUNBOOKS)} runs in the ledger "
        f"({(project / 'evidence' / 'ledger.jsonl').stat().st_size / 1e6:.1f} MB), "
        f"{len(listed.stdout.splitlines()) - 1} runbooks listed; cache {cache.stat().st_size} B"
    )

    def command(label: str, cmd: list[str], cwd: Path = project) -> Arm:
        return Arm(label, lambda: timed_command(cmd, label, cwd=cwd, env=ENV)[0])

    def uncached() -> Arm:
        def measure():  # type: ignore[no-untyped-def]
            cache.unlink(missing_ok=True)
            return timed_command(_upkeep(config, "list"), cwd=project, env=ENV)[0]

        return Arm("upkeep list, no cache", measure)

    arms = [
        command("upkeep list", _upkeep(config, "list")),
        command("upkeep show", _upkeep(config, "show", "health-check")),
        command("nox --help", [sys.executable, "-m", "nox", "--help"]),
        command("python -c pass", [sys.executable, "-c", "pass"]),
        uncached(),
        command("upkeep list, shipped config", _upkeep(REPO / "upkeep.yml", "list"), REPO),
    ]
    taken = compare(arms, rounds)
    nox = taken["nox --help"].median
    print(f"\n{median_of(rounds)}:")
    for label, measured in taken.items():
        print(
            f"  {label + ':':<30}{measured.wall_spread()} wall, "
            f"{measured.median.cpu_s:.3f} s CPU, {measured.median.wall_s / nox.wall_s:.2f}x "
            "nox --help"
        )
    print(rounds_line(taken))
    for label in ("upkeep list", "upkeep show"):
        wall, cpu = taken[label].median.wall_s, taken[label].median.cpu_s
        ratio = wall / nox.wall_s
        print(
            f"{label}: {wall:.3f} s (target {SECONDS_TARGET} s) {SECONDS_TARGET.verdict(wall)}; "
            f"{ratio:.2f}x nox --help (target {NOX_TARGET}x) {NOX_TARGET.verdict(ratio)}; "
            f"CPU {cpu:.3f} s, {cpu / nox.cpu_s:.2f}x nox's (what a busy machine moves least)"
        )


if __name__ == "__main__":
    sys.exit(main())
