"""What running runbooks costs: `upkeep run` side by side with the fair baselines a user writes.

In temporary projects (12 trivial daily runbooks by default; the shipped health check on its demo
system) it takes `--repeat` rounds, every arm once per round and the order reversed every other
round (A B C, C B A, ...), each arm a fresh process tree:

throughput, a batch of N runbooks at J jobs (J = --jobs, default the CPU count):
  1. `upkeep run bench-01 ... --jobs J`;
  2. the parallel CLI loop: `xargs -P J` running `papermill IN OUT -p n 2 && jupyter nbconvert
     --to html OUT` per runbook (imports and a kernel paid per notebook, J at a time);
  3. the in-process pool: one Python process, papermill + HTMLExporter on J threads
     (`inprocess_pool.py`: imports paid once, like upkeep);
  4. `upkeep run ... --jobs 1` and 5. the same in-process script as a plain serial loop;
  (6. with --serial-loop, the serial shell loop, as context: it is not equal parallelism;)
latency, one run started from a shell:
  7. `upkeep run health-check` and 8. `papermill` CLI alone on the same notebook (the demo's
     health service up for both); 9. `upkeep run bench-01` and 10. `papermill` on it; 11. a bare
     kernel start (`python -c`: import jupyter_client, start python3, execute `1`, shut down).

It prints medians with the spread, wall and CPU (user + sys of the whole reaped process tree),
throughput (runbooks per second) apart from latency (one run's wall time), the ratios the issue
targets with PASS/MISS (in-process pool / upkeep at J >= 2.0x; serial in-process / upkeep
--jobs 1 >= 1.5x; upkeep run health-check / papermill <= 1.0x), and the load average before and
after. It is a measurement, not a test: it exits 0 whatever the figures, and 1 only when something
failed to run or left the wrong outputs (upkeep, a baseline, `upkeep verify`).

    nox -s bench -- run_overhead --repeat 5       # as the README figures were taken
    python benchmarks/run_overhead.py --runbooks 4 --repeat 1 # from a dev install, a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness import (
    Arm,
    BenchError,
    BenchmarkStart,
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
    run_command,
    scratch_directory,
    timed_command,
)

from upkeep.records import Status
from upkeep.scaffold import new_runbook

BIN = Path(sys.executable).parent  # the venv's bin dir: upkeep, papermill, jupyter live there
HERE = Path(__file__).resolve().parent
POOL_TARGET = Target(">=", 2.0)  # in-process pool wall / upkeep wall, both at J
SERIAL_TARGET = Target(">=", 1.5)  # serial in-process loop wall / upkeep --jobs 1 wall
LATENCY_TARGET = Target("<=", 1.0)  # upkeep run health-check wall / papermill CLI wall

# The benchmark's children: no CI marker (trigger stays manual), no colour codes, no stray config.
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
defaults:
  timeout_s: 300
"""

KERNEL_SNIPPET = """\
from jupyter_client.manager import KernelManager
km = KernelManager(kernel_name="python3")
km.start_kernel()
kc = km.client()
kc.start_channels()
kc.wait_for_ready(timeout=60)
reply = kc.execute_interactive("1", timeout=60, output_hook=lambda msg: None)
assert reply["content"]["status"] == "ok", reply
kc.stop_channels()
km.shutdown_kernel(now=True)
"""


def runbook(index: int) -> dict[str, Any]:
    """A trivial runbook: one parameter, two code cells, one check."""
    return new_runbook(
        [
            ("code", "total = n + 1"),
            ("code", 'from upkeep import report\nreport.check("n", "ok", value=n)'),
        ],
        params="n: int = 1  # a number",
        why="A trivial runbook for benchmarks.",
        metadata={
            "title": f"Benchmark runbook {index:02d}",
            "summary": "Records one check; measures what running a runbook costs.",
            "cadence": "daily",
            "category": "Benchmarks",
            "owner": "benchmarks",
            "references": [],
            "timeout_s": 300,
            "destructive": False,
        },
    )


def make_project(root: Path, count: int) -> tuple[Path, list[str]]:
    (root / "upkeep.yml").write_text(CONFIG)
    folder = root / "runbooks" / "daily"
    folder.mkdir(parents=True)
    names = [f"bench-{i:02d}" for i in range(1, count + 1)]
    for index, name in enumerate(names, start=1):
        (folder / f"{name}.ipynb").write_text(json.dumps(runbook(index), indent=1))
    return root / "upkeep.yml", names


def upkeep_arm(config: Path, names: list[str], jobs: int) -> Callable[[], Timing]:
    """`upkeep run NAMES --jobs J --json`, timed; every run must come back ok."""
    cmd = [str(BIN / "upkeep"), "--config", str(config), "run", "--json", *names]
    cmd += ["--jobs", str(jobs)]

    def measure() -> Timing:
        timing, proc = timed_command(cmd, "upkeep run", cwd=config.parent, env=ENV)
        outcomes = json.loads(proc.stdout)
        bad = [o for o in outcomes if o["status"] != Status.OK]
        if len(outcomes) != len(names) or bad:
            raise BenchError(
                f"upkeep run: expected {len(names)} ok runs, got {len(outcomes)} with "
                f"{len(bad)} not ok: {bad}\n--- stderr ---\n{proc.stderr}"
            )
        return timing

    return measure


def _fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def _check_html(out: Path, names: list[str], who: str) -> None:
    missing = [n for n in names if not (out / f"{n}.html").is_file()]
    if missing:
        raise BenchError(f"{who} left no HTML for {missing}")


def cli_loop_arm(project: Path, names: list[str], jobs: int) -> Callable[[], Timing]:
    """The shell loop a person writes: papermill then nbconvert per runbook, `jobs` at a time
    (`xargs -P`; with jobs 1 that is the plain serial loop)."""
    source = project / "runbooks" / "daily"
    out = project / f"loop-{jobs}"
    papermill = shlex.quote(str(BIN / "papermill"))
    jupyter = shlex.quote(str(BIN / "jupyter"))
    one = (
        f'{papermill} --log-level WARNING {shlex.quote(str(source))}/"$1".ipynb '
        f'{shlex.quote(str(out))}/"$1".ipynb -p n 2 && '
        f'{jupyter} nbconvert --log-level WARN --to html {shlex.quote(str(out))}/"$1".ipynb'
    )
    script = (
        f"set -euo pipefail; printf '%s\\n' {' '.join(names)} | "
        f"xargs -P {jobs} -I NAME bash -c {shlex.quote(one)} _ NAME"
    )

    def measure() -> Timing:
        _fresh(out)
        timing, _ = timed_command(["bash", "-c", script], f"the CLI loop (-P {jobs})", env=ENV)
        _check_html(out, names, f"the CLI loop (-P {jobs})")
        return timing

    return measure


def pool_arm(project: Path, names: list[str], threads: int) -> Callable[[], Timing]:
    """One Python process: papermill + HTMLExporter on `threads` threads (1: a serial loop)."""
    source = project / "runbooks" / "daily"
    out = project / f"pool-{threads}"
    cmd = [sys.executable, str(HERE / "inprocess_pool.py"), str(threads), str(source), str(out)]

    def measure() -> Timing:
        _fresh(out)
        timing, _ = timed_command([*cmd, *names], f"the in-process pool ({threads})", env=ENV)
        _check_html(out, names, f"the in-process pool ({threads})")
        return timing

    return measure


def papermill_arm(
    notebook: Path, out: Path, cwd: Path, env: dict[str, str], *params: str
) -> Callable[[], Timing]:
    """`papermill IN OUT [-p ...]` alone, as a person runs one notebook from a shell."""
    cmd = [str(BIN / "papermill"), "--log-level", "WARNING", str(notebook), str(out), *params]
    return lambda: timed_command(cmd, f"papermill {notebook.stem}", cwd=cwd, env=env)[0]


def health_check_arm(config: Path) -> Callable[[], Timing]:
    """`upkeep run health-check`, as a person runs it; it must end ok or warn (exit 0)."""
    cmd = [str(BIN / "upkeep"), "--config", str(config), "run", "--json", "health-check"]

    def measure() -> Timing:
        timing, proc = timed_command(cmd, "upkeep run health-check", cwd=config.parent, env=ENV)
        status = json.loads(proc.stdout)[0]["status"]
        if status not in (Status.OK, Status.WARN):
            raise BenchError(f"upkeep run health-check ended {status}:\n{proc.stderr}")
        return timing

    return measure


def kernel_arm(cwd: Path) -> Callable[[], Timing]:
    cmd = [sys.executable, "-c", KERNEL_SNIPPET]
    return lambda: timed_command(cmd, "bare kernel start", cwd=cwd, env=ENV)[0]


def verify(config: Path, expected: int) -> str:
    proc = run_command(
        [str(BIN / "upkeep"), "--config", str(config), "verify", "--json"],
        "upkeep verify",
        cwd=config.parent,
        env=ENV,
    )
    report = json.loads(proc.stdout)
    if not report["ok"] or report["runs_checked"] != expected:
        raise BenchError(f"upkeep verify: expected {expected} verified runs, got {report}")
    return f"upkeep verify: ok, {report['runs_checked']} runs"


def arms(project: Path, health: Path, names: list[str], jobs: int, args: Any) -> list[Arm]:
    config = project / "upkeep.yml"
    health_config = health / "upkeep.yml"
    health_env = {**ENV, "UPKEEP_CONFIG": str(health_config)}
    daily = project / "runbooks" / "daily"
    listed = [
        Arm(f"upkeep run --jobs {jobs}", upkeep_arm(config, names, jobs)),
        Arm(f"CLI loop, xargs -P {jobs}", cli_loop_arm(project, names, jobs)),
        Arm(f"in-process pool, {jobs} threads", pool_arm(project, names, jobs)),
        Arm("upkeep run --jobs 1", upkeep_arm(config, names, 1)),
        Arm("in-process serial loop", pool_arm(project, names, 1)),
        Arm("upkeep run health-check", health_check_arm(health_config)),
        Arm(
            "papermill health-check",
            papermill_arm(
                health / "runbooks" / "daily" / "health-check.ipynb",
                health / "papermill-health-check.ipynb",
                health,
                health_env,
            ),
        ),
        Arm(f"upkeep run {names[0]}", upkeep_arm(config, names[:1], 1)),
        Arm(
            f"papermill {names[0]}",
            papermill_arm(
                daily / f"{names[0]}.ipynb",
                project / "papermill-one.ipynb",
                project,
                ENV,
                "-p",
                "n",
                "2",
            ),
        ),
        Arm("bare kernel start (python -c)", kernel_arm(project)),
    ]
    if args.serial_loop:
        listed.append(Arm("CLI loop, serial", cli_loop_arm(project, names, 1)))
    return listed


def _row(label: str, rounds: Rounds, count: int = 0) -> str:
    median = rounds.median
    line = f"  {label:<32}{rounds.wall_spread():>24} wall {median.cpu_s:7.2f} s CPU"
    if count:
        line += f"   {count / median.wall_s:5.2f} runbooks/s"
    return line


def _ratio(label: str, slower: Rounds, faster: Rounds, target: Target | None = None) -> str:
    wall = slower.median.wall_s / faster.median.wall_s
    cpu = slower.median.cpu_s / faster.median.cpu_s
    verdict = f"target {target}x {target.verdict(wall)}" if target else "(context)"
    return f"  {label:<44}{wall:6.2f}x wall {cpu:6.2f}x CPU   {verdict}"


def report(taken: dict[str, Rounds], names: list[str], jobs: int, repeat: int) -> None:
    count = len(names)
    up, cli, pool = (taken[k] for k in list(taken)[:3])
    up1, serial = taken["upkeep run --jobs 1"], taken["in-process serial loop"]
    hc_up, hc_pm = taken["upkeep run health-check"], taken["papermill health-check"]
    one_up, one_pm = taken[f"upkeep run {names[0]}"], taken[f"papermill {names[0]}"]
    kernel = taken["bare kernel start (python -c)"]
    print(f"\nthroughput: a batch of {count} runbooks ({median_of(repeat)}, spread in brackets)")
    print(_row(f"upkeep run --jobs {jobs}", up, count))
    print(_row(f"CLI loop, xargs -P {jobs}", cli, count))
    print(_row(f"in-process pool, {jobs} threads", pool, count))
    print(_row("upkeep run --jobs 1", up1, count))
    print(_row("in-process serial loop", serial, count))
    if "CLI loop, serial" in taken:
        print(_row("CLI loop, serial (context)", taken["CLI loop, serial"], count))
    print(f"\nlatency: one run, started from a shell ({median_of(repeat)})")
    print(_row("upkeep run health-check", hc_up))
    print(_row("papermill health-check", hc_pm))
    print(_row(f"upkeep run {names[0]}", one_up))
    print(_row(f"papermill {names[0]}", one_pm))
    print(_row("bare kernel start (python -c)", kernel))
    print("\nratios (baseline / upkeep for throughput; upkeep / baseline for latency)")
    print(_ratio(f"in-process pool / upkeep, both at {jobs}", pool, up, POOL_TARGET))
    print(_ratio("serial in-process / upkeep --jobs 1", serial, up1, SERIAL_TARGET))
    print(_ratio(f"CLI loop / upkeep, both at {jobs}", cli, up))
    if "CLI loop, serial" in taken:
        print(
            _ratio(f"serial CLI loop / upkeep at {jobs} (unequal)", taken["CLI loop, serial"], up)
        )
    print(_ratio("upkeep run health-check / papermill", hc_up, hc_pm, LATENCY_TARGET))
    print(_ratio(f"upkeep run {names[0]} / papermill", one_up, one_pm))
    print(_ratio(f"upkeep run {names[0]} / bare kernel start", one_up, kernel))
    if repeat > 1:
        print(rounds_line(taken))


def bench(args: argparse.Namespace) -> None:
    from site_build import make_project as make_health_project

    from upkeep.config import load_config
    from upkeep.demo.service import DemoService

    start = BenchmarkStart.now()
    jobs = args.jobs or os.cpu_count() or 1
    with scratch_directory("upkeep-bench-", keep=args.keep, keep_on_failure=True) as work:
        project, health = work / "batch", work / "health"
        project.mkdir()
        health.mkdir()
        config, names = make_project(project, args.runbooks)
        make_health_project(health)
        print(
            f"upkeep run overhead: {len(names)} runbooks at {jobs} jobs, {args.repeat} round(s), "
            f"{os.cpu_count()} CPUs, python {sys.version.split()[0]} at {BIN}\nproject: {work}",
            flush=True,
        )
        note("building the demo system for the health check (not timed)")
        run_command([str(BIN / "upkeep"), "--config", "upkeep.yml", "demo"], cwd=health, env=ENV)
        with DemoService(load_config(health / "upkeep.yml")):
            note("warming up: one upkeep run in each project (not counted)")
            upkeep_arm(config, names[:1], 1)()
            health_check_arm(health / "upkeep.yml")()
            taken = compare(arms(project, health, names, jobs, args), args.repeat)
        note("upkeep verify")
        verified = verify(config, 1 + args.repeat * (2 * len(names) + 1))
    print(f"\n{verified}; every upkeep run ok")
    report(taken, names, jobs, args.repeat)
    print(f"\n{start.closing_lines()}")


def main(argv: list[str] | None = None) -> int:
    parser = option_parser(__doc__)
    parser.add_argument("--repeat", type=at_least(1), default=5, help="rounds [5]")
    parser.add_argument("--runbooks", type=at_least(1), default=12, help="runbooks per batch [12]")
    parser.add_argument("--jobs", type=at_least(1), help="J: jobs and threads [the CPU count]")
    parser.add_argument(
        "--serial-loop", action="store_true", help="also time the serial shell loop (context)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary project")
    args = parser.parse_args(argv)
    return run_benchmark(lambda: bench(args))


if __name__ == "__main__":
    sys.exit(main())
