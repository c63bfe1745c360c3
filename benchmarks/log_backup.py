"""What archiving rotated logs costs: upkeep's log backup side by side with a shell pipeline.

Each round archives the same folder of rotated copies (by default 6 copies of about 4 MiB of
timestamped lines, every other one gzipped, as logrotate leaves them) into an empty store, in
alternating order:

1. the pipeline a person would write for the same outputs, per copy:
   `zcat -f COPY | tee >(sha256sum > OUT.sha256) >(wc -l > OUT.lines) | gzip -6 > OUT.gz`
   (decompress, hash, count and compress in parallel processes);
2. upkeep's `archive_logs`: each copy read once for its identity (sha256), then compressed
   (gzip level 6) while read and hashed again, its first and last stamps parsed, a manifest
   written, fsynced and published by rename.

Both must agree on every copy's sha256 and line count, or it exits 1. Then, as context (not a
comparison of equal work), upkeep's run the night after, when every copy is archived already: it
knows each copy by its file identity (device, inode, size, modification time) and reads none,
where the pipeline, knowing no identity, would archive everything again. Target: upkeep <= 2x
the pipeline's wall time. It prints CPU too, and the load average before and after. A
measurement, not a test: exit 0 whatever the figures.

    nox -s bench -- log_backup
    python benchmarks/log_backup.py --repeat 3
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from harness import (
    Arm,
    BenchError,
    BenchmarkStart,
    CpuOf,
    Target,
    Timing,
    at_least,
    compare,
    median_of,
    option_parser,
    rounds_line,
    run_benchmark,
    scratch_directory,
    timed,
    timed_command,
)

from upkeep.backup.logs.archive import CopyState, archive_logs
from upkeep.backup.logs.store import LogArchiveStore
from upkeep.config import LogSource
from upkeep.config.log_backup import LogBackup

TARGET = Target("<=", 2.0)  # upkeep wall / pipeline wall
PIPELINE = (
    'for c in "$1"/app.log.*; do o="$2/$(basename "$c")"; '
    'zcat -f "$c" | tee >(sha256sum > "$o.sha256") >(wc -l > "$o.lines") | gzip -6 > "$o.gz"; '
    "done; wait"
)


def build_copies(folder: Path, copies: int, mib: int) -> None:
    """`copies` rotated copies of about `mib` MiB each, `.1` plain, then alternately gzipped."""
    folder.mkdir()
    (folder / "app.log").write_text("")
    start = datetime(2026, 11, 1, tzinfo=UTC)
    for index in range(1, copies + 1):
        lines, size, n = [], 0, 0
        while size < mib << 20:
            stamp = (start + timedelta(days=index, seconds=n)).isoformat(sep=" ")[:19]
            line = f"{stamp} INFO [web] GET /orders/{n % 997} 200 {n % 180}ms copy={index}\n"
            lines.append(line)
            size += len(line)
            n += 1
        data = "".join(lines).encode()
        if index % 2:
            (folder / f"app.log.{index}").write_bytes(data)
        else:
            (folder / f"app.log.{index}.gz").write_bytes(gzip.compress(data, 6))


def run_pipeline(logs: Path, out: Path) -> tuple[Timing, dict[str, int]]:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    timing = timed_command(["bash", "-c", PIPELINE, "pipeline", str(logs), str(out)], "pipeline")[0]
    found = {}
    for sha in out.glob("*.sha256"):
        lines = int(sha.with_suffix(".lines").read_text().split()[0])
        found[sha.read_text().split()[0]] = lines
    return timing, found


def run_upkeep(logs: Path, store: Path) -> tuple[Timing, dict[str, int]]:
    settings = LogBackup(dir=store, settle_s=0)
    log = LogSource("app", logs / "app.log")

    def archive() -> object:
        return archive_logs(settings, [log], datetime.now(UTC), retention=False)

    timing, run = timed(archive, CpuOf.THIS_PROCESS)
    failed = [c for c in run.copies if c.state is CopyState.FAILED]  # type: ignore[attr-defined]
    if failed:
        raise BenchError(f"upkeep failed to archive: {failed}")
    return timing, {a.content_sha256: a.lines for a in LogArchiveStore(store).archives()}


def bench(args: argparse.Namespace) -> None:
    start = BenchmarkStart.now()
    with scratch_directory("upkeep-bench-logbackup-", parent=args.dir) as tmp:
        logs = tmp / "logs"
        build_copies(logs, args.copies, args.mib)
        print(
            f"log backup: {args.copies} rotated copies of ~{args.mib} MiB (half gzipped), "
            f"{args.repeat} round(s), python {sys.version.split()[0]}",
            flush=True,
        )
        results: dict[str, dict[str, int]] = {}

        def pipeline() -> Timing:
            timing, results["pipeline"] = run_pipeline(logs, tmp / "pipeline")
            return timing

        def upkeep() -> Timing:
            shutil.rmtree(tmp / "store", ignore_errors=True)
            timing, results["upkeep"] = run_upkeep(logs, tmp / "store")
            return timing

        rounds = compare([Arm("pipeline", pipeline), Arm("upkeep", upkeep)], args.repeat)
        if results["pipeline"] != results["upkeep"] or len(results["upkeep"]) != args.copies:
            raise BenchError(f"the two disagree: {results}")
        again, _ = run_upkeep(logs, tmp / "store")
    ours, theirs = rounds["upkeep"].median, rounds["pipeline"].median
    ratio = ours.wall_s / theirs.wall_s
    print(f"\nresults ({median_of(args.repeat)}; same sha256 and line count for every copy)")
    print(f"  shell pipeline (zcat | tee sha256sum, wc -l | gzip -6)  {theirs.text()}")
    print(f"  upkeep archive_logs (identity pass + archive)          {ours.text()}")
    print(f"\n  upkeep / pipeline  {ratio:5.2f}x   target {TARGET}x  {TARGET.verdict(ratio)}")
    print(f"  CPU, upkeep / pipeline  {ours.cpu_s / theirs.cpu_s:5.2f}x   (user + sys)")
    print(f"  context: upkeep's next run, all archived already  {again.text()}")
    if args.repeat > 1:
        print(rounds_line(rounds))
    print(f"\n{start.closing_lines()}")


def main(argv: list[str] | None = None) -> int:
    parser = option_parser(__doc__)
    parser.add_argument("--repeat", type=at_least(1), default=1, help="rounds [1]")
    parser.add_argument("--copies", type=at_least(1), default=6, help="rotated copies [6]")
    parser.add_argument("--mib", type=at_least(1), default=4, help="MiB per copy [4]")
    parser.add_argument("--dir", type=Path, help="where to build the copies [a temp dir]")
    args = parser.parse_args(argv)
    return run_benchmark(lambda: bench(args))


if __name__ == "__main__":
    sys.exit(main())
