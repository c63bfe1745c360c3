"""What running a batch of runbooks costs: `upkeep run` side by side with the classic shell loop.

In one temporary project (12 trivial daily runbooks by default) this measures, in the same run
and the same process tree:

1. `upkeep --config CFG run bench-01 ... bench-12` (default --jobs: the CPU count), wall time;
2. one `bash -c` loop running `papermill IN OUT -p n 2` then `jupyter nbconvert --to html OUT`
   for each runbook, the classic way that pays the imports and a kernel per notebook;
3. a bare kernel start (start python3, wait for kernel_info, execute `1`, shut down), both
   in-process with jupyter_client and as a `python -c` subprocess; median of several.

It prints wall times, CPU times and the ratios the design targets (loop/upkeep >= 8x; upkeep per
runbook <= 1.5x a bare kernel start), with PASS/MISS. It is a measurement, not a test: it exits
0 whatever the figures, and 1 only when something failed to run (upkeep, the loop, verify).

    nox -s bench                                  # as CI and the README figures run it
    python benchmarks/run_overhead.py --repeat 3  # from a dev install
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from upkeep.scaffold import new_runbook

BIN = Path(sys.executable).parent  # the venv's bin dir: upkeep, papermill, jupyter live there
LOOP_TARGET = 8.0  # loop wall / upkeep wall at least this
KERNEL_TARGET = 1.5  # upkeep wall per runbook / bare kernel start at most this
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


class BenchError(Exception):
    """Something the benchmark runs failed; the message carries its output."""


@dataclass
class Timing:
    wall_s: float
    cpu_s: float  # user + sys of the (reaped) child processes


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


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(func: Callable[[], Any]) -> tuple[Timing, Any]:
    cpu, clock = children_cpu(), time.perf_counter()
    value = func()
    return Timing(time.perf_counter() - clock, children_cpu() - cpu), value


def run(
    cmd: list[str], what: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(
            cmd, cwd=cwd, capture_output=True, text=True, env={**ENV, **(env or {})}
        )
    except OSError as exc:
        raise BenchError(f"{what} could not start: {exc}\n$ {shlex.join(cmd)}") from exc
    if proc.returncode != 0:
        raise BenchError(
            f"{what} exited {proc.returncode}\n$ {shlex.join(cmd)}\n"
            f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
        )
    return proc


def bench_upkeep(
    config: Path, names: list[str], jobs: int | None, env: dict[str, str] | None = None
) -> Timing:
    cmd = [str(BIN / "upkeep"), "--config", str(config), "run", "--json", *names]
    if jobs:
        cmd += ["--jobs", str(jobs)]
    timing, proc = timed(lambda: run(cmd, "upkeep run", config.parent, env))
    outcomes = json.loads(proc.stdout)
    bad = [o for o in outcomes if o["status"] != "ok"]
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
    timing, _ = timed(lambda: run(["bash", "-c", script], "the papermill/nbconvert loop", project))
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
    return timed(lambda: run(cmd, "bare kernel subprocess", cwd))[0]


def median(timings: list[Timing]) -> Timing:
    return Timing(
        statistics.median(t.wall_s for t in timings), statistics.median(t.cpu_s for t in timings)
    )


def verify(config: Path, expected: int) -> str:
    proc = run(
        [str(BIN / "upkeep"), "--config", str(config), "verify", "--json"],
        "upkeep verify",
        config.parent,
    )
    report = json.loads(proc.stdout)
    if not report["ok"] or report["runs_checked"] != expected:
        raise BenchError(f"upkeep verify: expected {expected} verified runs, got {report}")
    return f"ok: {report['runs_checked']} runs verified"


def note(message: str) -> None:
    print(f"-- {message}", flush=True)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="rounds of each phase [1]")
    parser.add_argument("--runbooks", type=int, default=12, help="runbooks per batch [12]")
    parser.add_argument("--jobs", type=int, help="passed to upkeep run --jobs [upkeep's default]")
    parser.add_argument("--keep", action="store_true", help="keep the temporary project")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.runbooks < 1:
        parser.error("--repeat and --runbooks must be at least 1")

    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="upkeep-bench-"))
    config, names = make_project(tmp, args.runbooks)
    count = len(names)
    print(
        f"upkeep run overhead: {count} runbooks, {args.repeat} round(s), {os.cpu_count()} CPUs, "
        f"jobs={args.jobs or 'default'}, python {sys.version.split()[0]} at {BIN}\n"
        f"project: {tmp}",
        flush=True,
    )
    ups: list[Timing] = []
    loops: list[Timing] = []
    launched: list[Timing] = []
    bare_in: list[Timing] = []
    bare_sub: list[Timing] = []
    try:
        note("warming up: one bare kernel start (not counted)")
        kernel_in_process()
        for round_ in range(1, args.repeat + 1):
            tag = f"[round {round_}/{args.repeat}]"
            note(f"{tag} bare kernel start, in-process, x{KERNEL_REPEAT}")
            bare_in += [kernel_in_process() for _ in range(KERNEL_REPEAT)]
            note(f"{tag} bare kernel start, as a python -c subprocess, x{KERNEL_REPEAT}")
            bare_sub += [kernel_subprocess(tmp) for _ in range(KERNEL_REPEAT)]
            note(f"{tag} upkeep run {names[0]} .. {names[-1]}")
            ups.append(bench_upkeep(config, names, args.jobs))
            note(f"{tag} upkeep run, every kernel launched instead of forked (for comparison)")
            launched.append(bench_upkeep(config, names, args.jobs, {"UPKEEP_FORK_KERNELS": "0"}))
            note(f"{tag} shell loop: papermill + jupyter nbconvert per runbook (~5 s each)")
            loops.append(bench_loop(tmp, names))
        note("upkeep verify")
        verified = verify(config, 2 * count * args.repeat)
    except BenchError as exc:
        print(f"\nFAILED: {exc}", file=sys.stderr)
        print(f"project kept for inspection: {tmp}", file=sys.stderr)
        return 1
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)

    up, loop, spawned = median(ups), median(loops), median(launched)
    kin, ksub = median(bare_in), median(bare_sub)
    per_run = up.wall_s / count
    loop_ratio = loop.wall_s / up.wall_s
    kernel_ratio = per_run / kin.wall_s

    def row(label: str, t: Timing, per: int = 1) -> str:
        each = ""
        if per > 1:
            each = f"   {t.wall_s / per:6.2f} s wall, {t.cpu_s / per:6.2f} s CPU each"
        return f"  {label:<34}{t.wall_s:7.2f} s wall {t.cpu_s:7.2f} s CPU{each}"

    median_of = f"median of {args.repeat}" if args.repeat > 1 else "1 round"
    print(f"\n{verified}; all {2 * count * args.repeat} upkeep runs ok\n")
    print(f"results ({median_of}; kernel starts: median of {len(bare_in)})")
    print(row(f"upkeep run ({count} runbooks)", up, count))
    print(row("  kernels launched, not forked", spawned, count))
    print(row(f"papermill+nbconvert loop ({count})", loop, count))
    print(row("bare kernel start, in-process", kin))
    print(row("bare kernel start, python -c", ksub))
    print()
    print(
        f"  loop / upkeep                     {loop_ratio:7.2f}x   target >= {LOOP_TARGET:g}x  "
        f"{verdict(loop_ratio >= LOOP_TARGET)}"
    )
    print(
        f"  upkeep per runbook / bare kernel  {kernel_ratio:7.2f}x   target <= {KERNEL_TARGET:g}x "
        f" {verdict(kernel_ratio <= KERNEL_TARGET)}   ({per_run:.2f} s / {kin.wall_s:.2f} s)"
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
    if args.repeat > 1:
        print(
            "  rounds: upkeep "
            + ", ".join(f"{t.wall_s:.2f}" for t in ups)
            + " s; loop "
            + ", ".join(f"{t.wall_s:.2f}" for t in loops)
            + " s"
        )
    print(f"\nbenchmark took {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
