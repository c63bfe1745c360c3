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
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from harness import (
    BenchError,
    BenchmarkStart,
    CpuOf,
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
    scratch_directory,
    timed,
    timed_command,
)

from upkeep import cleaning
from upkeep.config import CleanupRoot

TARGET = Target("<=", 2.0)  # upkeep wall / find wall
MAX_AGE_DAYS = 7
OLD_DAYS = 30
FRESH_DAYS = 1
PROTECT = ("*.keep",)
SIDES = ("find", "upkeep")  # the order of odd rounds; even rounds run upkeep first


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


def run_find(root: Path) -> Timing:
    cmd = ["find", str(root), "-type", "f", "-mtime", f"+{MAX_AGE_DAYS}", "-delete"]
    return timed_command(cmd, "find")[0]


def run_upkeep(root: Path) -> tuple[Timing, int]:
    def clean() -> cleaning.RootCleaning:
        now = datetime.now(UTC)
        plan = cleaning.plan_temp(CleanupRoot(root, max_age_days=MAX_AGE_DAYS), PROTECT, now=now)
        return cleaning.execute(plan, dry_run=False)

    timing, result = timed(clean, CpuOf.THIS_PROCESS)
    skipped = result.all_skipped
    if result.error or skipped:
        raise BenchError(f"upkeep cleaning: error {result.error}, {len(skipped)} skipped")
    return timing, result.removed_count


def one_round(
    tmp: Path, files: int, per_dir: int, order: tuple[str, ...]
) -> tuple[Timing, Timing, int]:
    ours, theirs = tmp / "upkeep", tmp / "find"
    for path in (ours, theirs):
        shutil.rmtree(path, ignore_errors=True)
    ours.mkdir()
    build_tree(ours, files, per_dir)
    subprocess.run(["cp", "-a", str(ours), str(theirs)], check=True)
    expected = names(ours)
    if names(theirs) != expected:
        raise BenchError("cp -a did not make an identical copy")
    for side in order:
        # Each side starts with nothing of the other's (or of the build's) left to write back:
        # on a disk, the second side otherwise pays for the first side's journal commits and
        # discards.
        os.sync()
        if side == "find":
            find_t = run_find(theirs)
        else:
            upkeep_t, removed = run_upkeep(ours)
    left = names(ours)
    if left != names(theirs):
        raise BenchError("upkeep and find left different trees")
    if removed != files // 2 or len(expected) - len(left) != removed:
        raise BenchError(f"expected {files // 2} removals, upkeep reported {removed}")
    return upkeep_t, find_t, removed


def bench(args: argparse.Namespace) -> None:
    start = BenchmarkStart.now()
    ours: list[Timing] = []
    theirs: list[Timing] = []
    with scratch_directory("upkeep-bench-cleaning-", keep_on_failure=True, parent=args.dir) as tmp:
        print(
            f"cleaning: {args.files:,} files ({args.per_dir} per directory, half {OLD_DAYS} days "
            f"old), {args.repeat} round(s), python {sys.version.split()[0]}\ntrees under: {tmp}",
            flush=True,
        )
        for round_, order in rounds_in_turn(SIDES, args.repeat):
            note(f"{round_tag(round_, args.repeat)} building, then {', '.join(order)}")
            upkeep_t, find_t, removed = one_round(tmp, args.files, args.per_dir, order)
            ours.append(upkeep_t)
            theirs.append(find_t)
    report(Rounds(tuple(ours)), Rounds(tuple(theirs)), removed, args.repeat)
    print(f"\n{start.closing_lines()}")


def report(ours: Rounds, theirs: Rounds, removed: int, repeat: int) -> None:
    up, fd = ours.median, theirs.median
    ratio = up.wall_s / fd.wall_s
    print(
        f"\nresults ({median_of(repeat)}; {removed:,} files removed by each side, trees identical)"
    )
    print(f"  upkeep temp cleaning (all safety on) {up.text()}")
    print(f"  find -type f -mtime +{MAX_AGE_DAYS} -delete      {fd.text()}")
    print(f"\n  upkeep / find  {ratio:5.2f}x   target {TARGET}x  {TARGET.verdict(ratio)}")
    print(f"  CPU, upkeep / find  {up.cpu_s / fd.cpu_s:5.2f}x   (informational; user + sys)")
    if repeat > 1:
        print(rounds_line({"upkeep": ours, "find": theirs}))


def main(argv: list[str] | None = None) -> int:
    parser = option_parser(__doc__)
    parser.add_argument("--repeat", type=at_least(1), default=1, help="rounds [1]")
    parser.add_argument(
        "--files", type=at_least(2), default=100_000, help="files per tree [100000]"
    )
    parser.add_argument(
        "--per-dir", type=at_least(2), default=100, help="files per directory [100]"
    )
    parser.add_argument("--dir", type=Path, help="where to build the trees [a temp dir]")
    args = parser.parse_args(argv)
    return run_benchmark(lambda: bench(args))


if __name__ == "__main__":
    sys.exit(main())
