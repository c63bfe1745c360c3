"""What years of nightly history cost the site: `upkeep site build` side by side with a bare
mkdocs-material build of as many one-paragraph pages, and with twice the history.

In temporary projects it:

1. runs 12 real runbooks once (3 daily, 3 weekly, 3 monthly, 3 yearly; the daily ones include the
   shipped health check against its own demo system) to get real notebooks and real reports;
2. writes YEARS of synthetic history through `upkeep.evidence` (a run at every scheduled time,
   each with its own run.json, statuses and checks varied, reusing the real notebook and report
   bytes of its runbook), so that `upkeep verify` accepts it; then the same for 2 x YEARS;
3. times `upkeep site build` (strict) on both, and `mkdocs build` of a bare Material project with
   one one-paragraph page per run, kept out of the nav;
4. prints times, site bytes per run and the ratios against the targets: site build <= 1.0x the
   bare build, <= 40 KB of site per run on average, doubled history <= 2.2x the time; then the
   load average before and after.

It is a measurement, not a test: it exits 0 whatever the figures, and 1 only when something it
runs failed. fsync is skipped while the synthetic history is generated (the files are the same;
only generation gets faster); the builds themselves run untouched in child processes.

    nox -s bench -- site_build
    python benchmarks/site_build.py --years 1     # a quicker look
    python benchmarks/site_build.py --repeat 2    # each build twice, the fastest counts
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import textwrap
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from harness import (
    BenchError,
    BenchmarkStart,
    Rounds,
    Target,
    Timing,
    option_parser,
    run_benchmark,
    run_command,
    scratch_directory,
    timed_command,
)

from upkeep import demo, schedule
from upkeep.evidence import EvidenceStore, verify
from upkeep.records import RunRecord, Status
from upkeep.scaffold import new_runbook

REPO = Path(__file__).resolve().parent.parent
TIME_TARGET = Target("<=", 1.0)  # site build wall / bare build wall
BYTES_TARGET = Target("<=", 40 * 1024)  # site bytes per run
DOUBLING_TARGET = Target("<=", 2.2)  # site build wall with twice the history / with the history
ENV = {
    **{k: v for k, v in os.environ.items() if k not in ("UPKEEP_CONFIG", "CI")},
    "NO_COLOR": "1",
    "NO_MKDOCS_2_WARNING": "1",
}
# name, cadence, plan category: three of each cadence, the daily health check is the real one.
RUNBOOKS = [
    ("health-check", "daily", "Health Checks"),
    ("daily-cleaning", "daily", "Cleaning"),
    ("daily-backup", "daily", "Backups"),
    ("weekly-updates", "weekly", "Updates"),
    ("weekly-security", "weekly", "Security"),
    ("weekly-review", "weekly", "Performance"),
    ("monthly-restore", "monthly", "Backups"),
    ("monthly-audit", "monthly", "Security"),
    ("monthly-capacity", "monthly", "Performance"),
    ("yearly-drill", "yearly", "Disaster Recovery"),
    ("yearly-review", "yearly", "Maintenance Review"),
    ("yearly-access", "yearly", "Security"),
]
SCHEDULED_HOUR = 3
STATUS_WEIGHTS = ((Status.OK, 90), (Status.WARN, 7), (Status.FAIL, 2), (Status.ERROR, 1))

# A synthetic runbook that leaves a realistically sized report: a table printed, checks,
# metrics and a finding, like the procedures do.
STEP = """\
from upkeep import report
rows = [(f"item-{i:02d}", i * 7 % 23, "fine" if i % 5 else "look at it") for i in range(30)]
for name, value, note in rows:
    print(f"{name:<10} {value:>4}  {note}")
for i in range(5):
    report.check(f"{NAME}:check-{i}", "ok", value=i * 3.5, limit=50, unit="%", message="fine")
    report.metric(f"{NAME.replace('-', '_')}_value", i * 3.5, unit="%", labels={"part": str(i)})
report.finding(f"{NAME}:note", "one thing to look at next time", severity="info")
"""


def _run(args: list[str], cwd: Path) -> Timing:
    """Run a command; its Timing; BenchError with its output if it fails."""
    return timed_command(args, cwd=cwd, env=ENV)[0]


def _upkeep(project: Path, *args: str) -> Timing:
    return _run([sys.executable, "-m", "upkeep.cli", "--config", "upkeep.yml", *args], project)


# --- the project and its real runs ------------------------------------------------------------


def make_project(root: Path) -> None:
    """Twelve runbooks, the repo's site sources, a demo system for the health check."""
    port = demo.free_port()
    (root / "upkeep.yml").write_text(
        textwrap.dedent(f"""\
        version: 1
        timezone: UTC
        evidence_dir: evidence
        state_dir: var/state
        demo: {{root: var/demo, http_port: {port}}}
        services:
          - {{name: web, kind: http, url: "http://127.0.0.1:{port}/health", timeout_s: 2}}
        logs:
          - {{name: app, path: var/demo/logs/app.log}}
        mounts:
          - {{path: var/demo}}
        thresholds:
          cpu_percent: {{warn: 101, fail: 101}}
          load_per_cpu: {{warn: 1000, fail: 1000}}
          memory_percent: {{warn: 101, fail: 101}}
          disk_percent: {{warn: 99.9, fail: 100}}
        """)
    )
    shutil.copy(REPO / "mkdocs.yml", root / "mkdocs.yml")
    shutil.copytree(REPO / "docs", root / "docs")
    for name, cadence, category in RUNBOOKS:
        target = root / "runbooks" / cadence / f"{name}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        if name == "health-check":
            shutil.copy(REPO / "runbooks" / "daily" / "health-check.ipynb", target)
            continue
        nb = new_runbook(
            [("markdown", f"## Step\n\nWhat {name} does by hand."), ("code", STEP)],
            metadata={
                "title": name.replace("-", " ").capitalize(),
                "summary": f"The {cadence} {category.lower()} task.",
                "cadence": cadence,
                "category": category,
                "owner": "ops",
                "references": ["observability.md"],
            },
            params=f'NAME: str = "{name}"  # what the checks are called',
            why=f"# {name}\n\nWhy {name} exists.",
        )
        target.write_text(json.dumps(nb, indent=1))


def real_runs(project: Path) -> dict[str, dict[str, Any]]:
    """Run every runbook once for real; return, per runbook, its run.json and artifact bytes."""
    names = [name for name, _, _ in RUNBOOKS]
    proc = run_command(
        [sys.executable, "-m", "upkeep.cli", "--config", "upkeep.yml", "run", *names],
        "upkeep run",
        cwd=project,
        env=ENV,
        ok_codes=(0, 1),  # a check that failed is a run like any other here
    )
    found = {}
    for folder in sorted((project / "evidence" / "runs").glob("*/*/*")):
        record = json.loads((folder / "run.json").read_text())
        found[record["runbook"]["name"]] = {
            "record": record,
            "files": {name: (folder / name).read_bytes() for name in record["artifacts"]},
        }
    missing = set(names) - set(found)
    if missing:
        raise BenchError(f"no real run for {sorted(missing)}:\n{proc.stderr}")
    return found


# --- synthetic history ----------------------------------------------------------------------


def scheduled_times(cadence: str, start: datetime, end: datetime) -> list[datetime]:
    times, at = [], start
    while True:
        at = schedule.next_time(cadence, at)
        if at >= end:
            return times
        times.append(at + timedelta(hours=SCHEDULED_HOUR))


def write_history(
    evidence: Path, reals: dict[str, dict[str, Any]], years: int, skip_years: int = 0
) -> int:
    """A run at every scheduled time of `years` years, ending `skip_years` years before
    2026-11-01 (older history appended to the same ledger); returns the number of runs."""
    store = EvidenceStore(evidence)
    end = datetime(2026 - skip_years, 11, 1, tzinfo=UTC)
    start = end.replace(year=end.year - years)
    plan = sorted(
        (at, name, cadence)
        for name, cadence, _ in RUNBOOKS
        for at in scheduled_times(cadence, start, end)
    )
    chooser = random.Random(years * 100 + skip_years)
    statuses = [s for s, _ in STATUS_WEIGHTS]
    weights = [w for _, w in STATUS_WEIGHTS]
    real_fsync = os.fsync
    os.fsync = lambda fd: None  # generation only: the bytes are the same, the disk waits less
    try:
        for index, (at, name, _) in enumerate(plan):
            status = chooser.choices(statuses, weights)[0]
            _publish(store, reals[name], at, status, index + skip_years * 100_000)
    finally:
        os.fsync = real_fsync
    return len(plan)


def _publish(
    store: EvidenceStore, real: dict[str, Any], at: datetime, status: Status, n: int
) -> None:
    name = real["record"]["runbook"]["name"]
    run_id = f"{at:%Y%m%dT%H%M%SZ}-{name}-{n:06x}"
    staging = store.new_staging(run_id)
    for filename, data in real["files"].items():
        (staging / filename).parent.mkdir(parents=True, exist_ok=True)
        (staging / filename).write_bytes(data)
    record = json.loads(json.dumps(real["record"]))
    iso = at.isoformat().replace("+00:00", "Z")
    record.update(
        run_id=run_id,
        started_at=iso,
        as_of=iso,
        status=status,
        trigger="schedule",
        ended_at=(at + timedelta(seconds=3)).isoformat().replace("+00:00", "Z"),
        duration_s=round(2 + (n % 17) / 10, 3),
    )
    if status in (Status.WARN, Status.FAIL) and record["checks"]:
        record["checks"][0] = {**record["checks"][0], "status": status, "message": "synthetic"}
    record["error"] = (
        {"cell": 2, "ename": "RuntimeError", "evalue": "synthetic failure"}
        if status is Status.ERROR
        else None
    )
    store.publish(staging, RunRecord.from_json(record))


# --- the builds -----------------------------------------------------------------------------


def bare_project(root: Path, pages: int) -> None:
    """Material with one one-paragraph page per run, none of them in the nav."""
    docs = root / "docs"
    (docs / "p").mkdir(parents=True)
    (docs / "index.md").write_text("# Home\n\nThe baseline.\n")
    for i in range(pages):
        (docs / "p" / f"{i:05d}.md").write_text(
            f"# Page {i}\n\nOne paragraph of text for page {i}, as long as a run summary is.\n"
        )
    (root / "mkdocs.yml").write_text(
        "site_name: baseline\ntheme:\n  name: material\n  font: false\n"
        "plugins: [search]\nnav:\n  - Home: index.md\n"
    )


def site_bytes(site: Path) -> tuple[int, int]:
    """(bytes under the run folders, bytes of the whole site)."""
    total = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
    runs = sum(p.stat().st_size for p in site.glob("runs/*/*/*/*") if p.is_file())
    return runs, total


def build_site(project: Path) -> Timing:
    shutil.rmtree(project / "site", ignore_errors=True)
    return _upkeep(project, "site", "build", "--site-dir", "site")


def main(argv: list[str] | None = None) -> int:
    parser = option_parser(__doc__)
    parser.add_argument("--years", type=int, default=5, help="years of history [5]")
    parser.add_argument(
        "--repeat", type=int, default=1, help="builds per measurement; the fastest counts [1]"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary projects")
    args = parser.parse_args(argv)
    return run_benchmark(lambda: bench(args))


def bench(args: argparse.Namespace) -> None:
    start = BenchmarkStart.now()
    with scratch_directory("upkeep-site-bench-", keep=args.keep) as work:
        _bench(work, args.years, max(1, args.repeat))
    print(f"\n{start.closing_lines()}")


def _best(measure: Callable[[], Timing], repeat: int) -> Timing:
    """The fastest wall time and the lowest CPU time of `repeat` measurements."""
    return Rounds(tuple(measure() for _ in range(repeat))).fastest


def _bench(work: Path, years: int, repeat: int) -> None:
    project = work / "project"
    project.mkdir()
    make_project(project)
    print("running the 12 runbooks once for real ...", flush=True)
    reals = real_runs(project)
    for name, real in sorted(reals.items()):
        size = len(real["files"].get("report.html", b""))
        print(f"  {name:<18} report.html {size / 1024:6.1f} KB  ({real['record']['status']})")
    results = {}
    for factor in (1, 2):
        # The doubled history adds YEARS older years to the same ledger: 2 x YEARS in all.
        start = time.perf_counter()
        added = write_history(project / "evidence", reals, years, skip_years=years * (factor - 1))
        generated = time.perf_counter() - start
        report = verify(project / "evidence")
        if not report.ok:
            raise BenchError(f"synthetic evidence does not verify: {report.problems[0]}")
        total_runs = report.runs_checked  # the 12 real runs included
        print(
            f"{years * factor} years: {total_runs} runs ({added} generated in {generated:.1f} s), "
            "verify ok",
            flush=True,
        )
        build = _best(lambda: build_site(project), repeat)
        run_bytes, total = site_bytes(project / "site")
        results[factor] = (total_runs, build, total)
        print(
            f"  upkeep site build: {build.wall_s:.2f} s wall, {build.cpu_s:.2f} s CPU; "
            f"site {total / 2**20:.1f} "
            f"MiB, {total / total_runs / 1024:.1f} KB per run "
            f"({run_bytes / total_runs / 1024:.1f} KB in run folders)",
            flush=True,
        )
    runs, build, total = results[1]
    baseline = work / "baseline"
    bare_project(baseline, runs)
    bare = _best(lambda: _run([sys.executable, "-m", "mkdocs", "build", "-q"], baseline), repeat)
    print(
        f"bare mkdocs-material build, {runs} one-paragraph pages out of the nav: "
        f"{bare.wall_s:.2f} s wall, {bare.cpu_s:.2f} s CPU"
    )
    ratio, cpu_ratio = build.wall_s / bare.wall_s, build.cpu_s / bare.cpu_s
    per_run = total / runs
    doubled = results[2][1]
    doubling, cpu_doubling = doubled.wall_s / build.wall_s, doubled.cpu_s / build.cpu_s
    print()
    print(
        f"site build / bare build:    {ratio:.2f}x wall, {cpu_ratio:.2f}x CPU "
        f"(target {TIME_TARGET.comparison} {TIME_TARGET.limit}x) {TIME_TARGET.verdict(ratio)}"
    )
    print(
        f"site bytes per run:         {per_run / 1024:.1f} KB "
        f"(target {BYTES_TARGET.comparison} {BYTES_TARGET.limit / 1024:g} KB) "
        f"{BYTES_TARGET.verdict(per_run)}"
    )
    print(
        f"doubled history / history:  {doubling:.2f}x wall, {cpu_doubling:.2f}x CPU "
        f"(target {DOUBLING_TARGET}x) {DOUBLING_TARGET.verdict(doubling)}"
    )


if __name__ == "__main__":
    sys.exit(main())
