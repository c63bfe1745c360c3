"""What running a batch of runbooks costs: `upkeep run` side by side with the classic shell loop.

In one temporary project (12 trivial daily runbooks by default) this measures, in the same run
and the same process tree:

1. `upkeep --config CFG run bench-01 ... bench-12` (default --jobs: the CPU count), wall time;
2. one `bash -c` loop running `papermill IN OUT -p n 2` then `jupyter nbconvert --to html OUT`
   for each runbook, the classic way that pays the imports and a kernel per notebook;
3. a bare kernel start (start python3, wait for kernel_info, execute `1`, shut down), both
   in-process with jupyter_client and as a `python -c` subprocess; median of several.

It prints wall times, CPU times and the ratios the design targets (loop/upkeep >= 8x; upkeep per
runbook <= 1.5x a bare kernel start), with PASS/MISS, and the load average before and after.
It is a measurement, not a test: it exits
0 whatever the figures, and 1 only when something failed to run (upkeep, the loop, verify).

    nox -s bench                                  # as CI and the README figures run it
    python benchmarks/run_overhead.py --repeat 3  # from a dev install
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
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
    rounds_line,
    run_benchmark,
    run_command,
    scratch_directory,
    timed,
    timed_command,
)

from upkeep.records import Status
from upkeep.scaffold import new_runbook

BIN = Path(sys.executable).parent  # the venv's bin dir: upkeep, papermill, jupyter live there
LOOP_TARGET = Target(">=", 8.0)  # loop wall / upkeep wall
KERNEL_TARGET = Target("<=", 1.5)  # upkeep wall per runbook / bare kernel start
KERNEL_REPEAT = 5

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


def bench_upkeep(
    config: Path, names: list[str], jobs: int | None, env: dict[str, str] | None = None
) -> Timing:
    cmd = [str(BIN / "upkeep"), "--config", str(config), "run", "--json", *names]
    if jobs:
        cmd += ["--jobs", str(jobs)]
    timing, proc = timed_command(cmd, "upkeep run", cwd=config.parent, env={**ENV, **(env or {})})
    outcomes = json.loads(proc.stdout)
    bad = [o for o in outcomes if o["status"] != Status.OK]
    if len(outcomes) != len(names) or bad:
        raise BenchError(
            f"upkeep run: expected {len(names)} ok runs, got {len(outcomes)} with "
            f"{len(bad)} not ok: {bad}\n--- stderr ---\n{proc.stderr}"
        )
    return timing


def bench_loop(project: Path, names: list[str]) -> Timing:
    out = project / "loop"
    out.mkdir(exist_ok=True)
    lines = ["set -euo pipefail"]
    for name in names:
        source = project / "runbooks" / "daily" / f"{name}.ipynb"
        target = out / f"{name}.ipynb"
        lines.append(
            f"{shlex.quote(str(BIN / 'papermill'))} --log-level WARNING "
            f"{shlex.quote(str(source))} {shlex.quote(str(target))} -p n 2"
        )
        lines.append(
            f"{shlex.quote(str(BIN / 'jupyter'))} nbconvert --log-level WARN --to html "
            f"{shlex.quote(str(target))}"
        )
    script = "\n".join(lines)
    timing, _ = timed_command(
        ["bash", "-c", script], "the papermill/nbconvert loop", cwd=project, env=ENV
    )
    missing = [n for n in names if not (out / f"{n}.html").is_file()]
    if missing:
        raise BenchError(f"the loop left no HTML for {missing}")
    return timing


def kernel_in_process() -> Timing:
    from jupyter_client.manager import KernelManager

    def once() -> None:
        km = KernelManager(kernel_name="python3")
        km.start_kernel(env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        kc = km.client()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=60)
            reply = kc.execute_interactive("1", timeout=60, output_hook=lambda msg: None)
            if reply["content"]["status"] != "ok":
                raise BenchError(f"bare kernel: executing 1 replied {reply['content']}")
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)

    return timed(once)[0]


def kernel_subprocess(cwd: Path) -> Timing:
    cmd = [sys.executable, "-c", KERNEL_SNIPPET]
    return timed_command(cmd, "bare kernel subprocess", cwd=cwd, env=ENV)[0]


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
    return f"ok: {report['runs_checked']} runs verified"


@dataclass(frozen=True)
class Measured:
    """Every phase's rounds, and what `upkeep verify` said of the evidence they left."""

    upkeep: Rounds
    launched: Rounds
    loop: Rounds
    bare_in_process: Rounds
    bare_python_c: Rounds
    verified: str


def measure(project: Path, config: Path, names: list[str], args: argparse.Namespace) -> Measured:
    ups: list[Timing] = []
    loops: list[Timing] = []
    launched: list[Timing] = []
    bare_in: list[Timing] = []
    bare_sub: list[Timing] = []
    note("warming up: one bare kernel start (not counted)")
    kernel_in_process()
    for round_ in range(1, args.repeat + 1):
        tag = round_tag(round_, args.repeat)
        note(f"{tag} bare kernel start, in-process, x{KERNEL_REPEAT}")
        bare_in += [kernel_in_process() for _ in range(KERNEL_REPEAT)]
        note(f"{tag} bare kernel start, as a python -c subprocess, x{KERNEL_REPEAT}")
        bare_sub += [kernel_subprocess(project) for _ in range(KERNEL_REPEAT)]
        note(f"{tag} upkeep run {names[0]} .. {names[-1]}")
        ups.append(bench_upkeep(config, names, args.jobs))
        note(f"{tag} upkeep run, every kernel launched instead of forked (for comparison)")
        launched.append(bench_upkeep(config, names, args.jobs, {"UPKEEP_FORK_KERNELS": "0"}))
        note(f"{tag} shell loop: papermill + jupyter nbconvert per runbook (~5 s each)")
        loops.append(bench_loop(project, names))
    note("upkeep verify")
    verified = verify(config, 2 * len(names) * args.repeat)
    return Measured(
        Rounds(tuple(ups)),
        Rounds(tuple(launched)),
        Rounds(tuple(loops)),
        Rounds(tuple(bare_in)),
        Rounds(tuple(bare_sub)),
        verified,
    )


def report(measured: Measured, count: int, repeat: int) -> None:
    up, loop, spawned = measured.upkeep.median, measured.loop.median, measured.launched.median
    kin, ksub = measured.bare_in_process.median, measured.bare_python_c.median
    per_run = up.wall_s / count
    loop_ratio = loop.wall_s / up.wall_s
    kernel_ratio = per_run / kin.wall_s

    def row(label: str, t: Timing, per: int = 1) -> str:
        each = ""
        if per > 1:
            each = f"   {t.wall_s / per:6.2f} s wall, {t.cpu_s / per:6.2f} s CPU each"
        return f"  {label:<34}{t.text()}{each}"

    print(f"\n{measured.verified}; all {2 * count * repeat} upkeep runs ok\n")
    kernel_starts = len(measured.bare_in_process.timings)
    print(f"results ({median_of(repeat)}; kernel starts: median of {kernel_starts})")
    print(row(f"upkeep run ({count} runbooks)", up, count))
    print(row("  kernels launched, not forked", spawned, count))
    print(row(f"papermill+nbconvert loop ({count})", loop, count))
    print(row("bare kernel start, in-process", kin))
    print(row("bare kernel start, python -c", ksub))
    print()
    print(
        f"  loop / upkeep                     {loop_ratio:7.2f}x   target {LOOP_TARGET}x  "
        f"{LOOP_TARGET.verdict(loop_ratio)}"
    )
    print(
        f"  upkeep per runbook / bare kernel  {kernel_ratio:7.2f}x   target {KERNEL_TARGET}x "
        f" {KERNEL_TARGET.verdict(kernel_ratio)}   ({per_run:.2f} s / {kin.wall_s:.2f} s)"
    )
    print(
        f"  upkeep per runbook / python -c    {per_run / ksub.wall_s:7.2f}x   (informational: "
        f"{per_run:.2f} s / {ksub.wall_s:.2f} s)"
    )
    print(
        f"  upkeep per runbook above a bare kernel start: {per_run - kin.wall_s:+.2f} s "
        f"(in-process), {per_run - ksub.wall_s:+.2f} s (python -c); negative: upkeep overlaps "
        "kernel starts"
    )
    if repeat > 1:
        print(rounds_line({"upkeep": measured.upkeep, "loop": measured.loop}))


def bench(args: argparse.Namespace) -> None:
    start = BenchmarkStart.now()
    with scratch_directory("upkeep-bench-", keep=args.keep, keep_on_failure=True) as project:
        config, names = make_project(project, args.runbooks)
        print(
            f"upkeep run overhead: {len(names)} runbooks, {args.repeat} round(s), "
            f"{os.cpu_count()} CPUs, jobs={args.jobs or 'default'}, "
            f"python {sys.version.split()[0]} at {BIN}\nproject: {project}",
            flush=True,
        )
        measured = measure(project, config, names, args)
    report(measured, len(names), args.repeat)
    print(f"\n{start.closing_lines()}")


def main(argv: list[str] | None = None) -> int:
    parser = option_parser(__doc__)
    parser.add_argument("--repeat", type=at_least(1), default=1, help="rounds of each phase [1]")
    parser.add_argument("--runbooks", type=at_least(1), default=12, help="runbooks per batch [12]")
    parser.add_argument("--jobs", type=int, help="passed to upkeep run --jobs [upkeep's default]")
    parser.add_argument("--keep", action="store_true", help="keep the temporary project")
    args = parser.parse_args(argv)
    return run_benchmark(lambda: bench(args))


if __name__ == "__main__":
    sys.exit(main())
