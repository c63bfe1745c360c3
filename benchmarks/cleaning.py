"""What cleaning a large temp tree costs: upkeep's safe cleaning side by side with `find -delete`.

Each round builds a tree of 100,000 files (by default) in 1,000 directories, half of them last
modified 30 days ago and half 1 day ago, copies it with `cp -a` to an identical second tree, and
then, in the same run and in alternating order, times:

1. `find ROOT -type f -mtime +7 -delete` on one copy (a subprocess, wall and CPU);
2. upkeep's temp cleaning on the other: `cleaning.plan_temp` + `cleaning.execute` with every
   safety rule on (descriptor walk with O_NOFOLLOW, one lstat per entry at scan, a re-check of
   device, inode, type and change time before each `unlinkat`, the filesystem boundary, a
   protect glob, the empty-directory pass), in this process (wall and CPU).

Every directory keeps fresh files, so neither side removes a directory and both do the same
work. After each round the two trees must hold exactly the same names, or it exits 1.
It prints the times, the ratio (target: upkeep <= 2x find's wall time) and PASS/MISS, the
CPU ratio, and the load average before and after: on a shared machine a busy neighbour stretches
the wall time of a two-second run more than a code change does. On a disk, `unlink` waits on the
journal (and, mounted with `discard`, on the device), so each side is timed after a `sync` that
leaves nothing of the build or of the other side to write back; wall times still swing by several
times from one round to the next on a disk shared with other work: use `--repeat` (rounds
alternate which side goes first), or `--dir /dev/shm` to time the work without the disk.
It is a measurement, not a test: it exits 0 whatever the figures.

    nox -s bench -- cleaning                       # as the README figures run it
    python benchmarks/cleaning.py --repeat 3       # from a dev install
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from upkeep import cleaning
from upkeep.config import CleanupRoot

TARGET = 2.0  # upkeep wall / find wall at most this
MAX_AGE_DAYS = 7
OLD_DAYS = 30
FRESH_DAYS = 1
PROTECT = ("*.keep",)


class BenchError(Exception):
    """Something the benchmark ran failed, or the two sides disagree."""


@dataclass
class Timing:
    wall_s: float
    cpu_s: float


def build_tree(root: Path, files: int, per_dir: int) -> None:
    """`files` files of 64 bytes in directories of `per_dir`, half old, half fresh."""
    now = time.time()
    old, fresh = now - OLD_DAYS * 86400, now - FRESH_DAYS * 86400
    payload = b"x" * 64
    for index in range(files):
        directory = root / f"d{index // (per_dir * 100):03d}" / f"s{index // per_dir:05d}"
        if index % per_dir == 0:
            directory.mkdir(parents=True)
        path = directory / f"f{index:06d}.tmp"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, payload)
        os.close(fd)
        stamp = old if index % 2 else fresh
        os.utime(path, (stamp, stamp))


def names(root: Path) -> set[str]:
    return {
        os.path.relpath(os.path.join(d, n), root)
        for d, dirs, files in os.walk(root)
        for n in dirs + files
    }


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(func: Callable[[], Any], cpu: Callable[[], float]) -> tuple[Timing, Any]:
    before, clock = cpu(), time.perf_counter()
    value = func()
    return Timing(time.perf_counter() - clock, cpu() - before), value


def run_find(root: Path) -> Timing:
    cmd = ["find", str(root), "-type", "f", "-mtime", f"+{MAX_AGE_DAYS}", "-delete"]
    timing, proc = timed(lambda: subprocess.run(cmd, capture_output=True, text=True), children_cpu)
    if proc.returncode != 0:
        raise BenchError(f"find exited {proc.returncode}: {proc.stderr}")
    return timing


def run_upkeep(root: Path) -> tuple[Timing, int]:
    def clean() -> cleaning.RootCleaning:
        now = datetime.now(UTC)
        plan = cleaning.plan_temp(CleanupRoot(root, max_age_days=MAX_AGE_DAYS), PROTECT, now=now)
        return cleaning.execute(plan, dry_run=False)

    timing, result = timed(clean, self_cpu)
    skipped = result.all_skipped
    if result.error or skipped:
        raise BenchError(f"upkeep cleaning: error {result.error}, {len(skipped)} skipped")
    return timing, result.removed_count


def one_round(tmp: Path, files: int, per_dir: int, find_first: bool) -> tuple[Timing, Timing, int]:
    ours, theirs = tmp / "upkeep", tmp / "find"
    for path in (ours, theirs):
        shutil.rmtree(path, ignore_errors=True)
    ours.mkdir()
    build_tree(ours, files, per_dir)
    subprocess.run(["cp", "-a", str(ours), str(theirs)], check=True)
    expected = names(ours)
    if names(theirs) != expected:
        raise BenchError("cp -a did not make an identical copy")
    # Each side starts with nothing of the other's (or of the build's) left to write back: on a
    # disk, the second side otherwise pays for the first side's journal commits and discards.
    if find_first:
        os.sync()
        find_t = run_find(theirs)
        os.sync()
        upkeep_t, removed = run_upkeep(ours)
    else:
        os.sync()
        upkeep_t, removed = run_upkeep(ours)
        os.sync()
        find_t = run_find(theirs)
    left = names(ours)
    if left != names(theirs):
        raise BenchError("upkeep and find left different trees")
    if removed != files // 2 or len(expected) - len(left) != removed:
        raise BenchError(f"expected {files // 2} removals, upkeep reported {removed}")
    return upkeep_t, find_t, removed


def median(timings: list[Timing]) -> Timing:
    return Timing(
        statistics.median(t.wall_s for t in timings), statistics.median(t.cpu_s for t in timings)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="rounds [1]")
    parser.add_argument("--files", type=int, default=100_000, help="files per tree [100000]")
    parser.add_argument("--per-dir", type=int, default=100, help="files per directory [100]")
    parser.add_argument("--dir", type=Path, help="where to build the trees [a temp dir]")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.files < 2 or args.per_dir < 2:
        parser.error("--repeat must be at least 1, --files and --per-dir at least 2")

    started = time.perf_counter()
    load_before = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="upkeep-bench-cleaning-", dir=args.dir))
    print(
        f"cleaning: {args.files:,} files ({args.per_dir} per directory, half {OLD_DAYS} days old), "
        f"{args.repeat} round(s), python {sys.version.split()[0]}\ntrees under: {tmp}",
        flush=True,
    )
    ours: list[Timing] = []
    theirs: list[Timing] = []
    try:
        for round_ in range(1, args.repeat + 1):
            find_first = round_ % 2 == 1
            print(
                f"-- [round {round_}/{args.repeat}] building, then "
                f"{'find, upkeep' if find_first else 'upkeep, find'}",
                flush=True,
            )
            upkeep_t, find_t, removed = one_round(tmp, args.files, args.per_dir, find_first)
            ours.append(upkeep_t)
            theirs.append(find_t)
    except BenchError as exc:
        print(f"\nFAILED: {exc}\ntrees kept for inspection: {tmp}", file=sys.stderr)
        return 1
    shutil.rmtree(tmp, ignore_errors=True)

    up, fd = median(ours), median(theirs)
    ratio = up.wall_s / fd.wall_s
    median_of = f"median of {args.repeat}" if args.repeat > 1 else "1 round"
    print(f"\nresults ({median_of}; {removed:,} files removed by each side, trees identical)")
    print(f"  upkeep temp cleaning (all safety on) {up.wall_s:7.2f} s wall {up.cpu_s:7.2f} s CPU")
    print(
        f"  find -type f -mtime +{MAX_AGE_DAYS} -delete      "
        f"{fd.wall_s:7.2f} s wall {fd.cpu_s:7.2f} s CPU"
    )
    print(
        f"\n  upkeep / find  {ratio:5.2f}x   target <= {TARGET:g}x  "
        f"{'PASS' if ratio <= TARGET else 'MISS'}"
    )
    print(f"  CPU, upkeep / find  {up.cpu_s / fd.cpu_s:5.2f}x   (informational; user + sys)")
    if args.repeat > 1:
        print(
            "  rounds: upkeep "
            + ", ".join(f"{t.wall_s:.2f}" for t in ours)
            + " s; find "
            + ", ".join(f"{t.wall_s:.2f}" for t in theirs)
            + " s"
        )
    loads = ", ".join(f"{a:.2f}/{b:.2f}" for a, b in zip(load_before, os.getloadavg(), strict=True))
    print(f"\nload average (1, 5, 15 min) before/after: {loads}")
    print(f"benchmark took {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
