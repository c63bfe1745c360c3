"""What the security review's filesystem walk costs: the SUID/SGID and world-writable parts of
its inventory (`upkeep.security.inventory.special_files`, no symlinks followed, one filesystem)
side by side with what an administrator would run by hand for the same answer, two `find`
commands:

    find ROOTS -xdev -type f \\( -perm -4000 -o -perm -2000 \\) -printf '%m %p\\n'
    find ROOTS -xdev -perm -0002 ! -type l -printf '%m %p\\n'

over the same roots (default /usr and /etc). Both arms must name the same paths (checked once
before timing). Arms alternate A B, B A for ROUNDS rounds; upkeep's arm runs in this process
(its CPU is this process's), find's as child processes. Target: upkeep < 3x find's wall time.
It exits 0 whatever the figures, and 1 only when something it runs failed.

    nox -s bench -- security_inventory
    python benchmarks/security_inventory.py --repeat 3 --root /usr
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

from harness import (
    Arm,
    BenchError,
    BenchmarkStart,
    CpuOf,
    Target,
    at_least,
    compare,
    median_of,
    option_parser,
    rounds_line,
    run_benchmark,
    timed,
)

from upkeep.config.security import SecurityReview
from upkeep.security.inventory import special_files

TARGET = Target("<", 3.0)  # upkeep wall / find wall


def main(argv: list[str] | None = None) -> int:
    parser = option_parser(__doc__)
    parser.add_argument("--repeat", type=at_least(1), default=5, help="rounds [5]")
    parser.add_argument("--root", action="append", help="a root to walk [/usr, /etc]")
    args = parser.parse_args(argv)
    return run_benchmark(lambda: bench(args))


def _upkeep(roots: tuple[Path, ...]) -> set[str]:
    settings = SecurityReview(
        suid_roots=roots, world_writable_roots=roots, temp_paths=(), max_files=10_000_000
    )
    notes: list[str] = []
    found = special_files(settings, Path("/nonexistent"), notes, suid=True)
    found |= special_files(settings, Path("/nonexistent"), notes, suid=False)
    return set(found)


def _find(roots: tuple[Path, ...]) -> set[str]:
    paths = [str(root) for root in roots]
    suid = subprocess.run(
        [
            "find",
            *paths,
            "-xdev",
            "-type",
            "f",
            "(",
            "-perm",
            "-4000",
            "-o",
            "-perm",
            "-2000",
            ")",
            "-printf",
            "%p\\n",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    writable = subprocess.run(
        ["find", *paths, "-xdev", "-perm", "-0002", "!", "-type", "l", "-printf", "%p\\n"],
        capture_output=True,
        text=True,
        check=False,
    )
    return set(suid.stdout.splitlines()) | set(writable.stdout.splitlines())


def bench(args: argparse.Namespace) -> None:
    start = BenchmarkStart.now()
    roots = tuple(Path(r) for r in (args.root or ["/usr", "/etc"]))
    ours, theirs = _upkeep(roots), _find(roots)
    if ours != theirs:
        raise BenchError(
            f"the arms disagree: upkeep only {sorted(ours - theirs)[:5]}, "
            f"find only {sorted(theirs - ours)[:5]}"
        )
    print(f"roots {', '.join(map(str, roots))}: {len(ours)} SUID/SGID or world-writable entries")
    arms = [
        Arm("upkeep", lambda: timed(lambda: _upkeep(roots), CpuOf.THIS_PROCESS)[0]),
        Arm("find", lambda: timed(lambda: _find(roots), CpuOf.CHILDREN)[0]),
    ]
    taken = compare(arms, args.repeat)
    ours_t, find_t = taken["upkeep"], taken["find"]
    print(f"\n{median_of(args.repeat)}:")
    print(f"  upkeep inventory walk: {ours_t.wall_spread()} wall, {ours_t.median.cpu_s:.2f} s CPU")
    print(f"  two find commands:     {find_t.wall_spread()} wall, {find_t.median.cpu_s:.2f} s CPU")
    print(rounds_line(taken))
    ratio = ours_t.median.wall_s / find_t.median.wall_s
    cpu = ours_t.median.cpu_s / max(find_t.median.cpu_s, 1e-9)
    print(
        f"upkeep / find: {ratio:.2f}x wall, {cpu:.2f}x CPU "
        f"(target {TARGET}x) {TARGET.verdict(ratio)}"
    )
    print(f"\n{start.closing_lines()}")


if __name__ == "__main__":
    raise SystemExit(main())
