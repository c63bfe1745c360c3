"""What `upkeep verify` costs over years of evidence, side by side with `sha256sum --check` of
exactly the files it hashes, with a warm and with a cold page cache.

In a temporary project it:

1. runs the 12 real runbooks of `site_build.py` once, then writes YEARS of synthetic history at
   every scheduled time through `upkeep.evidence`, exactly as `site_build.py` does;
2. writes `SHA256SUMS`: every file `upkeep verify` hashes (each run's run.json, with the sha256
   its ledger line holds, and each artifact, with the sha256 its run.json holds), and the same
   list cut in 4 parts;
3. times, as a person runs them, `upkeep verify` (a fresh `python -m upkeep.cli`: the chain, every
   run.json read as JSON, every artifact hashed, in 4 threads), `sha256sum --quiet --check
   SHA256SUMS` (one process, the baseline of the target) and `xargs -P 4 sha256sum --check` over
   the 4 parts (the same parallelism as upkeep's threads: context), alternated A B C, C B A for
   ROUNDS rounds: first warm (every file read once before), then cold (before every single
   measurement, `sync` and `echo 3 > /proc/sys/vm/drop_caches` when this process may write it;
   otherwise every evidence file is dropped from the page cache with `posix_fadvise(DONTNEED)`,
   which leaves directory entries and inodes cached, and the output says so);
4. prints the medians with the spread, wall and CPU, and upkeep / sha256sum against the target
   (<= 1.3x, warm and cold); then the load average before and after.

It is a measurement, not a test: it exits 0 whatever the figures, and 1 only when something it
runs failed (a file that does not match its sum included).

    nox -s bench -- verify
    python benchmarks/verify.py --years 1 --repeat 3    # a quicker look
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from evidence_sums import PARTS, sha256sum_check, sum_lines, write_sums
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
    scratch_directory,
    timed_command,
)
from site_build import ENV, project_with_history

from upkeep.evidence import LEDGER, verify

TARGET = Target("<=", 1.3)  # upkeep verify wall / sha256sum --check wall, warm and cold
DROP_CACHES = Path("/proc/sys/vm/drop_caches")


def main(argv: list[str] | None = None) -> int:
    parser = option_parser(__doc__)
    parser.add_argument("--years", type=at_least(1), default=5, help="years of history [5]")
    parser.add_argument("--repeat", type=at_least(1), default=5, help="rounds [5]")
    parser.add_argument("--keep", action="store_true", help="keep the temporary project")
    args = parser.parse_args(argv)
    return run_benchmark(lambda: bench(args))


def bench(args: argparse.Namespace) -> None:
    start = BenchmarkStart.now()
    with scratch_directory("upkeep-verify-bench-", keep=args.keep) as work:
        _bench(work, args.years, args.repeat)
    print(f"\n{start.closing_lines()}")


def _bench(work: Path, years: int, rounds: int) -> None:
    project = work / "project"
    project_with_history(project, years)
    evidence = project / "evidence"
    report = verify(evidence)
    if not report.ok:
        raise BenchError(f"synthetic evidence does not verify: {report.problems[0]}")
    files, size = _write_sums(evidence, work)
    print(
        f"{years} years: {report.runs_checked} runs, {files:,} files verify hashes, "
        f"{size / 2**20:.0f} MiB"
    )
    arms = [
        Arm("upkeep verify", _command(_upkeep_verify(), project)),
        Arm("sha256sum -c", _command(sha256sum_check(work), evidence)),
        Arm(f"xargs -P {PARTS} sha256sum -c", _command(_parallel_sha256sum(work), evidence)),
    ]
    note("reading every file once (warm cache) ...")
    _command(sha256sum_check(work), evidence)()
    warm = compare(arms, rounds)
    dropping = _drop_caches_works()
    how = (
        "sync; echo 3 > /proc/sys/vm/drop_caches"
        if dropping
        else "posix_fadvise(DONTNEED) on every evidence file (drop_caches not writable here: "
        "directory entries and inodes stay cached)"
    )
    note(f"cold cache before every measurement: {how}")

    def cold(arm: Arm) -> Arm:
        def measure() -> Timing:
            _drop(dropping, evidence)
            return arm.measure()

        return Arm(arm.label, measure)

    cold_rounds = compare([cold(arm) for arm in arms], rounds)
    _print("warm cache (every file read before)", warm, rounds)
    _print(f"cold cache ({how})", cold_rounds, rounds)


def _upkeep_verify() -> list[str]:
    return [sys.executable, "-m", "upkeep.cli", "--config", "upkeep.yml", "verify"]


def _parallel_sha256sum(work: Path) -> list[str]:
    parts = str(work / "SHA256SUMS.parts")
    return ["xargs", "-a", parts, "-P", str(PARTS), "-n", "1", "sha256sum", "--quiet", "--check"]


def _command(cmd: list[str], cwd: Path) -> Callable[[], Timing]:
    return lambda: timed_command(cmd, cwd=cwd, env=ENV)[0]


def _write_sums(evidence: Path, work: Path) -> tuple[int, int]:
    """SHA256SUMS of every file `verify` hashes and its parts (`evidence_sums`); (count, bytes)."""
    lines, size = sum_lines(evidence)
    write_sums(lines, work)
    return len(lines), size


def _drop_caches_works() -> bool:
    try:
        _drop(True, None)
    except OSError:
        return False
    return True


def _drop(with_proc: bool, evidence: Path | None) -> None:
    """Empty the page cache: all of it through /proc, else every file under `evidence`."""
    subprocess.run(["sync"], check=True)
    if with_proc:
        DROP_CACHES.write_text("3\n")
        return
    assert evidence is not None
    for path in [evidence / LEDGER, *(p for p in (evidence / "runs").rglob("*") if p.is_file())]:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def _print(heading: str, taken: dict[str, Rounds], rounds: int) -> None:
    upkeep, serial = taken["upkeep verify"], taken["sha256sum -c"]
    parallel = taken[f"xargs -P {PARTS} sha256sum -c"]
    print(f"\n{heading}, {median_of(rounds)}:")
    width = max(len(label) for label in taken)
    for label, arm in taken.items():
        print(f"  {label:<{width}}  {arm.wall_spread()} wall, {arm.median.cpu_s:.2f} s CPU")
    print(rounds_line(taken))
    ratio = upkeep.median.wall_s / serial.median.wall_s
    cpu = upkeep.median.cpu_s / serial.median.cpu_s
    print(
        f"upkeep verify / sha256sum -c: {ratio:.2f}x wall, {cpu:.2f}x CPU "
        f"(target {TARGET}x) {TARGET.verdict(ratio)}"
    )
    ratio = upkeep.median.wall_s / parallel.median.wall_s
    cpu = upkeep.median.cpu_s / parallel.median.cpu_s
    print(
        f"upkeep verify / xargs -P {PARTS} sha256sum -c: {ratio:.2f}x wall, {cpu:.2f}x CPU "
        "(same parallelism; context)"
    )


if __name__ == "__main__":
    sys.exit(main())
