"""What a runbook that prints without end costs: `upkeep run` with its output limit side by side
with the `papermill` CLI, which keeps every output, on the same notebook.

In a temporary project one runbook prints MEGABYTES of 64-byte lines (in chunks of 1,000 lines),
then records one check. Each round (`--repeat`, arms alternated: A B C, C B A, ...) runs, each as a
fresh process tree under a small wrapper that reports the tree's peak resident memory:

1. `upkeep run flood`: the default limit (8 MiB) keeps the start of the output, drops the rest as
   it arrives, and writes the notebook, report.html and run.json;
2. `papermill flood.ipynb out.ipynb`: what a user runs without upkeep; it keeps everything and
   writes the notebook only (no report);
3. as context, `upkeep run flood-kept`: the same runbook with `max_output_bytes` at its maximum
   (1 GiB), so that everything is kept, as before the limit existed.

It prints medians with the spread of wall and CPU time (user + sys of the whole process tree), the
peak memory (the largest process of the tree: the runner, or papermill) and the bytes written,
the ratios against papermill with the targets (upkeep's wall <= 1.0x, its peak memory <= 1.0x:
a runbook's flood costs upkeep less than the tool that keeps it, report included),
and the load average before and after. It is a measurement, not a test: it exits 0 whatever the
figures, and 1 only when something failed to run.

    nox -s bench -- output_flood
    python benchmarks/output_flood.py --megabytes 20 --repeat 1    # a quick look
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
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
    option_parser,
    rounds_line,
    run_benchmark,
    scratch_directory,
    timed_command,
)
from run_overhead import BIN, CONFIG  # the venv's bin dir; a project's upkeep.yml

from upkeep.scaffold import new_runbook
from upkeep.units import human_size

WALL_TARGET = Target("<=", 1.0)  # upkeep run wall / papermill wall
MEMORY_TARGET = Target("<=", 1.0)  # upkeep run peak memory / papermill peak memory
KEPT_ALL = 1 << 30  # max_output_bytes at its maximum: everything of this benchmark is kept
LINE = "x" * 63  # with its line break, 64 bytes

# Runs the command after `--` and prints the peak resident memory (KiB) of its largest process
# (the runner or papermill; the kernel is smaller) on its last line of stderr.
PEAK = (
    "import resource, subprocess, sys\n"
    "code = subprocess.run(sys.argv[1:]).returncode\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def flood(megabytes: int, max_output: int | None) -> dict[str, object]:
    """A runbook printing `megabytes` MB in 64-byte lines, then recording one check."""
    lines = megabytes * 1_000_000 // 64
    source = (
        f"chunk = ({LINE!r} + '\\n') * 1000\n"
        f"for _ in range({lines // 1000}):\n"
        "    print(chunk, end='')"
    )
    meta: dict[str, object] = {
        "title": "Prints without end",
        "summary": "Prints a flood of lines, then records one check.",
        "cadence": "daily",
        "category": "Benchmarks",
        "owner": "benchmarks",
        "references": [],
        "timeout_s": 900,
        "destructive": False,
    }
    if max_output is not None:
        meta["max_output_bytes"] = max_output
    return new_runbook(
        [("code", source), ("code", "from upkeep import report\nreport.check('flood', 'ok')")],
        why="A runbook for benchmarks.",
        metadata=meta,
    )


def main(argv: list[str] | None = None) -> int:
    parser = option_parser(__doc__)
    parser.add_argument("--megabytes", type=at_least(1), default=100, help="MB printed [100]")
    parser.add_argument("--repeat", type=at_least(1), default=3, help="rounds [3]")
    parser.add_argument("--keep", action="store_true", help="keep the temporary project")
    args = parser.parse_args(argv)
    return run_benchmark(lambda: bench(args))


def bench(args: argparse.Namespace) -> None:
    start = BenchmarkStart.now()
    with scratch_directory("upkeep-output-flood-bench-", keep=args.keep) as work:
        _bench(work, args.megabytes, args.repeat)
    print(f"\n{start.closing_lines()}")


def _bench(work: Path, megabytes: int, rounds: int) -> None:
    (work / "upkeep.yml").write_text(CONFIG)
    folder = work / "runbooks" / "daily"
    folder.mkdir(parents=True)
    for name, limit in (("flood", None), ("flood-kept", KEPT_ALL)):
        (folder / f"{name}.ipynb").write_text(json.dumps(flood(megabytes, limit), indent=1))
    peaks: dict[str, list[int]] = {}
    written: dict[str, int] = {}

    def arm(label: str, cmd: list[str], outputs: Path) -> Arm:
        def measure() -> Timing:
            wrapped = [sys.executable, "-c", PEAK, *cmd]
            timing, proc = timed_command(wrapped, label, cwd=work)
            peaks.setdefault(label, []).append(int(proc.stderr.strip().splitlines()[-1]))
            written[label] = _bytes_under(outputs)
            return timing

        return Arm(label, measure)

    upkeep = [str(BIN / "upkeep"), "--config", str(work / "upkeep.yml"), "run"]
    out = work / "papermill-out"
    out.mkdir()
    arms = [
        arm("upkeep run", [*upkeep, "flood"], work / "evidence" / "runs"),
        arm(
            "papermill",
            [str(BIN / "papermill"), str(folder / "flood.ipynb"), str(out / "o.ipynb")],
            out,
        ),
        arm("upkeep run, all kept", [*upkeep, "flood-kept"], work / "evidence" / "runs"),
    ]
    taken = compare(arms, rounds)
    _check_outcomes(work, rounds)
    baseline = taken["papermill"].median
    base_peak = statistics.median(peaks["papermill"])
    print(f"\n{megabytes} MB printed, {median_of(rounds)}:")
    for label, measured in taken.items():
        peak = statistics.median(peaks[label])
        ratio = measured.median.wall_s / baseline.wall_s
        print(
            f"  {label + ':':<22}{measured.wall_spread()} wall, {measured.median.cpu_s:.2f} s "
            f"CPU, peak memory {human_size(peak * 1024)}; {ratio:.2f}x papermill's wall, "
            f"{peak / base_peak:.2f}x its memory"
        )
    print(rounds_line(taken))
    print(
        "  written in the last round: "
        + "; ".join(f"{label} {human_size(size)}" for label, size in written.items())
    )
    wall = taken["upkeep run"].median.wall_s / baseline.wall_s
    memory = statistics.median(peaks["upkeep run"]) / base_peak
    print(
        f"upkeep run / papermill: wall {wall:.2f}x (target {WALL_TARGET}x) "
        f"{WALL_TARGET.verdict(wall)}; peak memory {memory:.2f}x (target {MEMORY_TARGET}x) "
        f"{MEMORY_TARGET.verdict(memory)}"
    )


def _bytes_under(folder: Path) -> int:
    """The bytes of the newest run folder under `folder` (an evidence runs tree), or of every
    file in it (papermill's output folder)."""
    runs = sorted(p for p in folder.glob("*/*/*") if p.is_dir())
    chosen = runs[-1] if runs else folder
    return sum(p.stat().st_size for p in chosen.rglob("*") if p.is_file())


def _check_outcomes(work: Path, rounds: int) -> None:
    """Every upkeep run recorded its check; the limited ones warn about the output they
    dropped, the ones keeping everything do not."""
    records = [json.loads(p.read_text()) for p in (work / "evidence" / "runs").rglob("run.json")]
    names = {
        name: [r for r in records if r["runbook"]["name"] == name]
        for name in ("flood", "flood-kept")
    }
    for name, found in names.items():
        checks = [{c["name"] for c in record["checks"]} for record in found]
        expected = {"flood", "output:limit"} if name == "flood" else {"flood"}
        if len(found) != rounds or any(c != expected for c in checks):
            raise BenchError(f"{name}: expected {rounds} runs with checks {expected}, got {checks}")


if __name__ == "__main__":
    sys.exit(main())
