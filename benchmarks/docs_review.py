"""What the documentation review costs on a site with years of run history: side by side with
the site build itself, both as a person runs them (a fresh Python process each).

In a temporary project (the one `site_build.py` makes: 12 runbooks, the repository's docs) it:

1. runs the 12 runbooks once for real, then writes YEARS of synthetic history through
   `upkeep.evidence` (a run at every scheduled time, real notebook and report bytes);
2. times, alternated A B, B A for ROUNDS rounds:
   A. `upkeep site build` (strict), the build the nightly runs;
   B. the documentation review as its runbook runs it (`procedures.documentation_review.review`,
      external links off): the site built once into a temporary folder, every HTML file read
      once for every internal link and anchor, orphans and external links, plus each page's
      freshness from git and the evidence, the runbooks' commands against the CLI and the
      maintenance review's suggestions;
3. prints the medians with the spread, wall and CPU, how many links were checked, and the ratio
   against the target: review <= 1.5x the site build; then the link scan alone on the built
   site (context: what checking the links adds to the build); then the load average before and
   after.

It is a measurement, not a test: it exits 0 whatever the figures, 1 only when something it runs
failed.

    nox -s bench -- docs_review
    python benchmarks/docs_review.py --years 1 --rounds 1     # a quicker look
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from harness import (
    Arm,
    BenchError,
    BenchmarkStart,
    Target,
    Timing,
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
from site_build import ENV, make_project, real_runs, write_history

from upkeep.evidence import verify

TARGET = Target("<=", 1.5)  # review wall / site build wall
REVIEW = """\
from upkeep.config import load_config
from upkeep.procedures import documentation_review

result = documentation_review.review(load_config("upkeep.yml"), check_external_links=False)
print(result.links.internal, len(result.links.pages), len(result.links.broken))
"""
SCAN = """\
import sys, time
from pathlib import Path
from upkeep.docs_review.site_links import scan_site

started = time.perf_counter()
links = scan_site(Path(sys.argv[1]))
print(links.internal, len(links.pages), time.perf_counter() - started)
"""


def main(argv: list[str] | None = None) -> int:
    parser = option_parser(__doc__)
    parser.add_argument("--years", type=at_least(1), default=5, help="years of history [5]")
    parser.add_argument("--rounds", type=at_least(1), default=2, help="rounds per arm [2]")
    parser.add_argument("--keep", action="store_true", help="keep the temporary project")
    args = parser.parse_args(argv)
    return run_benchmark(lambda: bench(args))


def bench(args: argparse.Namespace) -> None:
    start = BenchmarkStart.now()
    with scratch_directory("upkeep-docs-review-bench-", keep=args.keep) as work:
        _bench(work / "project", args.years, args.rounds)
    print(f"\n{start.closing_lines()}")


def _bench(project: Path, years: int, rounds: int) -> None:
    project.mkdir()
    make_project(project)
    note("running the 12 runbooks once for real")
    reals = real_runs(project)
    started = time.perf_counter()
    added = write_history(project / "evidence", reals, years)
    report = verify(project / "evidence")
    if not report.ok:
        raise BenchError(f"synthetic evidence does not verify: {report.problems[0]}")
    note(
        f"{years} years: {report.runs_checked} runs ({added} generated in "
        f"{time.perf_counter() - started:.0f} s), verify ok"
    )
    counted: list[str] = []

    def site_build() -> Timing:
        shutil.rmtree(project / "site", ignore_errors=True)
        command = [sys.executable, "-m", "upkeep.cli", "--config", "upkeep.yml", "site", "build"]
        return timed_command([*command, "--site-dir", "site"], cwd=project, env=ENV)[0]

    def review() -> Timing:
        timing, proc = timed_command([sys.executable, "-c", REVIEW], cwd=project, env=ENV)
        counted.append(proc.stdout.strip())
        return timing

    arms = [Arm("site build", site_build), Arm("documentation review", review)]
    results = compare(arms, rounds)
    build, checked = results["site build"].median, results["documentation review"].median
    internal, pages, broken = counted[-1].split()
    print(
        f"\n{report.runs_checked} runs, {pages} HTML pages, {internal} internal links "
        f"({broken} broken)"
    )
    print(f"results ({median_of(rounds)}):")
    print(f"  site build            {results['site build'].wall_spread()}, {build.cpu_s:.2f} s CPU")
    print(
        f"  documentation review  {results['documentation review'].wall_spread()}, "
        f"{checked.cpu_s:.2f} s CPU"
    )
    print(rounds_line(results))
    ratio = checked.wall_s / build.wall_s
    print(
        f"review / site build: {ratio:.2f}x wall, {checked.cpu_s / build.cpu_s:.2f}x CPU "
        f"(target {TARGET}x) {TARGET.verdict(ratio)}"
    )
    scan = run_command([sys.executable, "-c", SCAN, str(project / "site")], env=ENV)
    links, html_pages, seconds = scan.stdout.split()
    print(
        f"context: the link scan alone read {html_pages} pages and checked {links} links in "
        f"{float(seconds):.2f} s ({float(seconds) / build.wall_s:.2f}x the build)"
    )


if __name__ == "__main__":
    sys.exit(main())
