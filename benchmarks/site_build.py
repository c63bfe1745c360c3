"""What years of nightly history cost the site: `upkeep site build` from scratch and after one new
run, side by side with Material building the same run pages, and with twice the history.

In temporary projects it:

1. runs 12 real runbooks once (3 daily, 3 weekly, 3 monthly, 3 yearly; the daily ones include the
   shipped health check against its own demo system) to get real notebooks and real reports;
2. writes YEARS of synthetic history through `upkeep.evidence` (a run at every scheduled time,
   each with its own run.json, statuses and checks varied, reusing the real notebook and report
   bytes of its runbook), so that `upkeep verify` accepts it;
3. times four arms, alternated round by round (A B C D, D C B A, ...), each on a settled disk (the
   files it reads or removes synced before its clock starts):
   - upkeep full build: `upkeep site build` with nothing kept from earlier builds (the previous
     site, the run page store and the verification cache removed, untimed): every run verified
     and every run page rendered, as a first build or a new upkeep version does;
   - upkeep nightly build: the same after one new run was published (untimed), as the nightly
     builds: the new run verified and rendered, the other runs' pages linked from the store;
   - bare Material: `mkdocs build` of Material with one one-paragraph page per run, out of the
     nav (context only: its pages are not upkeep's);
   - Material + run pages, the equal-work arm: the bare project plus upkeep's own run pages (their
     HTML as the page body), each run's report.html and report view as static files, built by
     Material, out of the nav and, by front matter, out of the search index: the same output a
     user would get writing the run pages as Markdown pages;
4. copies the project (its evidence and config) and writes as many years again into the copy
   (older runs, the same ledger), then times the full build of each, alternated round by round,
   so that the doubling is measured under the same load as its base;
5. prints medians with the spread, CPU, peak RSS (the largest process, from wait4) and the ratios
   against the targets: full build <= 1.0x the equal-work arm, nightly build <= 0.3x the full
   build, doubled history <= 2.1x the full build, peak RSS of the full build <= 1.5x the bare
   Material build, <= 40 KB of site per run; then the load average before and after.

It is a measurement, not a test: it exits 0 whatever the figures, and 1 only when something it
runs failed. fsync is skipped while the synthetic history is generated (the files are the same;
only generation gets faster), then everything is synced before any build is timed; the builds
themselves run untouched in child processes.

    nox -s bench -- site_build
    python benchmarks/site_build.py --years 1     # a quicker look
    python benchmarks/site_build.py --rounds 3    # three rounds per arm; medians
    python benchmarks/site_build.py --nightly     # only the full and the nightly build, their ratio
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from harness import (
    BenchError,
    BenchmarkStart,
    Rounds,
    Target,
    Timing,
    at_least,
    median_of,
    note,
    option_parser,
    round_tag,
    rounds_in_turn,
    rounds_line,
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
TIME_TARGET = Target("<=", 1.0)  # full site build wall / Material + the same run pages
NIGHTLY_TARGET = Target("<=", 0.3)  # build after one new run / full build
BYTES_TARGET = Target("<=", 40 * 1024)  # site bytes per run
DOUBLING_TARGET = Target("<=", 2.1)  # full build with twice the history / with the history
MEMORY_TARGET = Target("<=", 1.5)  # peak RSS of the full build / the bare Material build
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


def project_with_history(project: Path, years: int) -> int:
    """Make `project` (`make_project`), run its 12 runbooks once for real and write `years` of
    synthetic history from those runs into its evidence; the number of runs added. What the
    benchmarks that time commands over years of evidence (status, verify, cli_latency) share."""
    project.mkdir()
    make_project(project)
    note("running the 12 runbooks once for real ...")
    reals = real_runs(project)
    note(f"writing {years} years of history ...")
    return write_history(project / "evidence", reals, years)


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
    evidence: Path,
    reals: dict[str, dict[str, Any]],
    years: int,
    skip_years: int = 0,
    host_id: str = "",
) -> int:
    """A run of each runbook of `reals` at every scheduled time of `years` years, ending
    `skip_years` years before 2026-11-01 (older history appended to the same ledger), each
    run.json naming `host_id` as its fleet host when given; returns the number of runs."""
    store = EvidenceStore(evidence)
    end = datetime(2026 - skip_years, 11, 1, tzinfo=UTC)
    start = end.replace(year=end.year - years)
    plan = sorted(
        (at, name, cadence)
        for name, cadence, _ in RUNBOOKS
        if name in reals
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
            _publish(store, reals[name], at, status, index + skip_years * 100_000, host_id)
    finally:
        os.fsync = real_fsync
    return len(plan)


def _publish(
    store: EvidenceStore,
    real: dict[str, Any],
    at: datetime,
    status: Status,
    n: int,
    host_id: str = "",
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
    if host_id:
        record["host"] = {**record.get("host", {}), "id": host_id}
    if status in (Status.WARN, Status.FAIL) and record["checks"]:
        record["checks"][0] = {**record["checks"][0], "status": status, "message": "synthetic"}
    record["error"] = (
        {"cell": 2, "ename": "RuntimeError", "evalue": "synthetic failure"}
        if status is Status.ERROR
        else None
    )
    store.publish(staging, RunRecord.from_json(record))


# --- the builds -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    """One build: its Timing and the peak resident memory of its largest process."""

    timing: Timing
    peak_kib: int


def measure_child(args: list[str], cwd: Path) -> Measured:
    """Run a command on a settled disk (sync first, untimed); wall, CPU and peak RSS of it and
    its children, from wait4. BenchError with its output if it fails."""
    os.sync()
    start = time.perf_counter()
    child = subprocess.Popen(
        args, cwd=cwd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise BenchError(f"{' '.join(args)} failed ({child.returncode}):\n{output.decode()}")
    # ru_maxrss of a reaped child is the largest of it and of every descendant it reaped.
    return Measured(Timing(wall, usage.ru_utime + usage.ru_stime), usage.ru_maxrss)


def upkeep_build(project: Path) -> Measured:
    return measure_child(
        [
            sys.executable,
            "-m",
            "upkeep.cli",
            "--config",
            "upkeep.yml",
            "site",
            "build",
            "--site-dir",
            "site",
        ],
        project,
    )


def full_build(project: Path) -> Measured:
    """A build with nothing kept from earlier ones (a first build, or a new upkeep): the
    previous site and the run page store and verification cache removed, untimed."""
    shutil.rmtree(project / "site", ignore_errors=True)
    shutil.rmtree(project / "var" / "state" / "site", ignore_errors=True)
    return upkeep_build(project)


def nightly_build(project: Path, reals: dict[str, dict[str, Any]], counter: list[int]) -> Measured:
    """The nightly's build: one new run published (untimed) since the last build."""
    counter[0] += 1
    at = datetime(2026, 11, 1, 3, tzinfo=UTC) + timedelta(days=counter[0])
    _publish(
        EvidenceStore(project / "evidence"),
        reals["health-check"],
        at,
        Status.OK,
        900_000 + counter[0],
    )
    return upkeep_build(project)


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


def equal_work_project(root: Path, site: Path) -> int:
    """The bare project plus upkeep's own run pages (their body as the page), reports and report
    views, rendered through Material, out of the nav and the search index: the same pages a
    user would get writing them as Markdown pages. Returns the number of run pages."""
    bare_project(root, 0)
    docs = root / "docs"
    count = 0
    for folder in sorted(site.glob("runs/*/*/*/")):
        if not (folder / "index.html").is_file():
            continue
        relpath = folder.relative_to(site).as_posix()
        page = (folder / "index.html").read_text()
        body = page.split("<body>", 1)[-1].rsplit("</body>", 1)[0]
        (docs / relpath).mkdir(parents=True, exist_ok=True)
        (docs / f"{relpath}.md").write_text(f"---\nsearch:\n  exclude: true\n---\n\n{body}\n")
        for name in ("report.html", "report/index.html"):
            if (folder / name).is_file():
                (docs / relpath / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(folder / name, docs / relpath / name)
        count += 1
    return count


def site_bytes(site: Path) -> tuple[int, int]:
    """(bytes under the run folders, bytes of the whole site)."""
    total = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
    runs = sum(p.stat().st_size for p in site.glob("runs/*/*/*/*") if p.is_file())
    return runs, total


def main(argv: list[str] | None = None) -> int:
    parser = option_parser(__doc__)
    parser.add_argument("--years", type=int, default=5, help="years of history [5]")
    parser.add_argument("--rounds", type=at_least(1), default=2, help="rounds per arm [2]")
    parser.add_argument("--keep", action="store_true", help="keep the temporary projects")
    parser.add_argument(
        "--nightly",
        action="store_true",
        help="time only the full and the nightly build (no Material arms, no doubled history)",
    )
    args = parser.parse_args(argv)
    return run_benchmark(lambda: bench(args))


def bench(args: argparse.Namespace) -> None:
    start = BenchmarkStart.now()
    with scratch_directory("upkeep-site-bench-", keep=args.keep) as work:
        if args.nightly:
            _bench_nightly(work, args.years, args.rounds)
        else:
            _bench(work, args.years, args.rounds)
    print(f"\n{start.closing_lines()}")


def measured_in_turn(
    arms: dict[str, Callable[[], Measured]], rounds: int
) -> dict[str, list[Measured]]:
    """Each arm once per round, in turn (A B, B A, ...)."""
    taken: dict[str, list[Measured]] = {label: [] for label in arms}
    for number, order in rounds_in_turn(list(arms), rounds):
        for label in order:
            note(f"{round_tag(number, rounds)} {label}")
            taken[label].append(arms[label]())
    return taken


def _summary(
    years: int, runs: int, rounds: int, taken: dict[str, list[Measured]]
) -> dict[str, tuple[Rounds, int]]:
    """Print each arm's median, spread, CPU and peak RSS and the rounds; each arm's summary."""
    print(
        f"\n{years} years, {runs} runs, {median_of(rounds)} (wall with the spread; CPU; peak RSS):"
    )
    summary = {label: summary_of(items) for label, items in taken.items()}
    for label, (arm, peak) in summary.items():
        _row(label, arm, peak)
    print(rounds_line({label: arm for label, (arm, _) in summary.items()}))
    return summary


def summary_of(taken: list[Measured]) -> tuple[Rounds, int]:
    """An arm's rounds and the largest peak RSS (KiB) of any of them."""
    return Rounds(tuple(m.timing for m in taken)), max(m.peak_kib for m in taken)


def _history(project: Path, reals: dict[str, dict[str, Any]], years: int, skip: int) -> int:
    start = time.perf_counter()
    added = write_history(project / "evidence", reals, years, skip_years=skip)
    os.sync()  # generation skips fsync: the disk settles before anything is timed
    report = verify(project / "evidence")
    if not report.ok:
        raise BenchError(f"synthetic evidence does not verify: {report.problems[0]}")
    print(
        f"{report.runs_checked} runs ({added} generated in {time.perf_counter() - start:.1f} s), "
        "verify ok",
        flush=True,
    )
    return report.runs_checked


def _doubled(project: Path, copy: Path) -> Path:
    """A copy of the project's config, runbooks and evidence (not its site or state), for the
    doubled history: its ledger is appended to, so nothing is linked."""
    shutil.copytree(project, copy, ignore=shutil.ignore_patterns("site", "var"), symlinks=True)
    return copy


def _project(work: Path, years: int) -> tuple[Path, dict[str, dict[str, Any]], int]:
    """The project with its real runs and `years` of history, built once (untimed)."""
    project = work / "project"
    project.mkdir()
    make_project(project)
    print("running the 12 runbooks once for real ...", flush=True)
    reals = real_runs(project)
    for name, real in sorted(reals.items()):
        size = len(real["files"].get("report.html", b""))
        print(f"  {name:<18} report.html {size / 1024:6.1f} KB  ({real['record']['status']})")
    print(f"{years} years: ", end="")
    runs = _history(project, reals, years, 0)
    full_build(project)  # untimed: the site the equal-work arm is made of
    return project, reals, runs


def _bench_nightly(work: Path, years: int, rounds: int) -> None:
    """The full and the nightly arm only, in turn, and their ratio."""
    project, reals, runs = _project(work, years)
    counter = [0]
    taken = measured_in_turn(
        {
            "upkeep full build": lambda: full_build(project),
            "upkeep nightly build": lambda: nightly_build(project, reals, counter),
        },
        rounds,
    )
    summary = _summary(years, runs, rounds, taken)
    print()
    full, nightly = summary["upkeep full build"][0], summary["upkeep nightly build"][0]
    _ratio("nightly build / full build", nightly.median, full.median, NIGHTLY_TARGET)


def _bench(work: Path, years: int, rounds: int) -> None:
    project, reals, runs = _project(work, years)
    bare, equal = work / "bare", work / "equal"
    bare_project(bare, runs)
    pages = equal_work_project(equal, project / "site")
    mkdocs = [sys.executable, "-m", "mkdocs", "build", "-q"]
    counter = [0]
    taken = measured_in_turn(
        {
            "upkeep full build": lambda: full_build(project),
            "upkeep nightly build": lambda: nightly_build(project, reals, counter),
            "bare Material": lambda: measure_child(mkdocs, bare),
            "Material + run pages": lambda: measure_child(mkdocs, equal),
        },
        rounds,
    )
    run_bytes, total = site_bytes(project / "site")
    summary = _summary(years, runs, rounds, taken)
    print(
        f"  site {total / 2**20:.1f} MiB, {total / runs / 1024:.1f} KB per run "
        f"({run_bytes / runs / 1024:.1f} KB in run folders); Material + run pages: {pages} pages"
    )
    doubled_project = _doubled(project, work / "doubled")
    print(f"{years * 2} years: ", end="")
    _history(doubled_project, reals, years, years)
    base, double = f"full build, {years} years", f"full build, {years * 2} years"
    paired = measured_in_turn(
        {base: lambda: full_build(project), double: lambda: full_build(doubled_project)}, rounds
    )
    doubling = {label: summary_of(items) for label, items in paired.items()}
    for label, (arm, peak) in doubling.items():
        _row(label, arm, peak)
    print(rounds_line({label: arm for label, (arm, _) in doubling.items()}))
    full, full_peak = summary["upkeep full build"]
    nightly = summary["upkeep nightly build"][0]
    bare_arm, bare_peak = summary["bare Material"]
    equal_arm, equal_peak = summary["Material + run pages"]
    print()
    _ratio(
        "full build / Material + run pages (equal work)", full.median, equal_arm.median, TIME_TARGET
    )
    _ratio("nightly build / full build", nightly.median, full.median, NIGHTLY_TARGET)
    _ratio(
        f"{years * 2} years / {years} years, full build (alternated)",
        doubling[double][0].median,
        doubling[base][0].median,
        DOUBLING_TARGET,
    )
    memory = full_peak / bare_peak
    print(
        f"peak RSS full build / bare Material: {memory:.2f}x "
        f"(target {MEMORY_TARGET}x) {MEMORY_TARGET.verdict(memory)}; "
        f"/ Material + run pages {full_peak / equal_peak:.2f}x (context)"
    )
    print(
        f"context: full build / bare Material (not equal work: its pages are one paragraph) "
        f"{full.median.wall_s / bare_arm.median.wall_s:.2f}x wall"
    )
    print(
        f"site bytes per run: {total / runs / 1024:.1f} KB (target {BYTES_TARGET.comparison} "
        f"{BYTES_TARGET.limit / 1024:g} KB) {BYTES_TARGET.verdict(total / runs)}"
    )


def _row(label: str, arm: Rounds, peak_kib: int) -> None:
    cpu = arm.median.cpu_s
    print(f"  {label:<22} {arm.wall_spread():<24} {cpu:6.2f} s CPU  {peak_kib / 1024:6.0f} MiB")


def _ratio(what: str, mine: Timing, theirs: Timing, target: Target) -> None:
    wall, cpu = mine.wall_s / theirs.wall_s, mine.cpu_s / theirs.cpu_s
    print(f"{what}: {wall:.2f}x wall, {cpu:.2f}x CPU (target {target}x) {target.verdict(wall)}")


if __name__ == "__main__":
    sys.exit(main())
