"""Health-check log scan (`upkeep.logs.scan.scan_log`) vs `grep -c -E`, side by side.

Generates a realistic application log (default 1 GiB) in a temporary directory, then per round:
`grep -c -E PATTERN` over it (PATTERN: the default error and warning patterns of `LogSource`, in
POSIX ERE) and a first `scan_log` over the whole file, in turn (grep first in odd rounds, the
scan first in even ones), then 1 MiB more lines appended and a second `scan_log`, which must
read only those. Both counts are checked against each other. Prints
throughputs, the ratio (target >= 0.5x grep's throughput), the second scan's time (target
< 0.2 s) and the load average. The file is deleted at the end, even when something failed, unless
`--keep`. A measurement, not a test: it exits 0 whatever the figures, and 1 only when something
failed to run or the counts disagree.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from harness import (
    BenchError,
    BenchmarkStart,
    CpuOf,
    LoadAverage,
    Rounds,
    Target,
    Timing,
    at_least,
    median_of,
    option_parser,
    rounds_in_turn,
    rounds_line,
    run_benchmark,
    run_command,
    scratch_directory,
    timed,
)

from upkeep.config import LogSource
from upkeep.logs.scan import scan_log

MIB = 1 << 20
BLOCK_BYTES = 16 * MIB  # lines generated, then repeated up to --size with fresh ids
HEX_ID = re.compile(rb"\b[0-9a-f]{16}\b")  # the request and session ids
APPEND_BYTES = MIB
THROUGHPUT_TARGET = Target(">=", 0.5)  # scan throughput / grep throughput
INCREMENTAL_TARGET_S = Target("<", 0.2)  # the second scan, after 1 MiB more
# LogSource's default patterns in POSIX ERE (which has no (?:...)), as `grep -E` reads them.
GREP_PATTERN = r"\bERROR\b|\bCRITICAL\b|\bFATAL\b|\bWARN(ING)?\b"
# grep's fastest mode: bytes, no multibyte decoding.
GREP_ENV = {**os.environ, "LC_ALL": "C"}


# ---------------------------------------------------------------- a realistic log

PATHS = ["/api/orders", "/api/users", "/api/cart", "/health", "/static/app.js", "/login"]
COMPONENTS = ["web.request", "web.auth", "db.pool", "worker.jobs", "cache", "mailer"]
INFO = [
    "GET {path}/{id} 200 {ms}ms user={user} ip=10.0.{a}.{b}",
    "POST {path} 201 {ms}ms user={user} request_id={hex}",
    "job {id} finished in {ms}ms (queue=default, retries=0)",
    "cache hit ratio {pct}% over {id} lookups",
    "session {hex} refreshed for user {user}",
    "connection pool size={a} busy={b} idle={pct}",
]
DEBUG = ["query took {ms}ms: SELECT * FROM orders WHERE id = {id}", "headers parsed in {ms}us"]
WARNING = [
    "slow query took {ms}ms: SELECT count(*) FROM audit_log WHERE user_id = {user}",
    "retrying job {id} after timeout (attempt {a} of 5)",
    "disk usage at {pct}% on /var/lib/app",
]
ERROR = [
    "timeout after {ms}ms talking to payments at 10.0.{a}.{b}:443 for order {id}",
    "database is locked (request_id={hex})",
    "failed login for user '{user}' from 10.0.{a}.{b}",
]
TRACEBACK = [
    "Traceback (most recent call last):",
    '  File "/srv/app/orders.py", line {a}, in checkout',
    "    total = price * quantity",
    "TypeError: unsupported operand type(s) for *: 'NoneType' and 'int'",
]


def _line(rng: random.Random, second: int) -> list[str]:
    stamp = f"2026-11-{16 + second // 86400:02d} {second // 3600 % 24:02d}:{second // 60 % 60:02d}"
    stamp += f":{second % 60:02d},{rng.randrange(1000):03d}"
    roll = rng.random()
    level, templates = (
        ("INFO ", INFO)
        if roll < 0.90
        else ("DEBUG", DEBUG)
        if roll < 0.975
        else ("WARNING", WARNING)
        if roll < 0.993
        else ("ERROR", ERROR)
    )
    values = {
        "path": rng.choice(PATHS),
        "id": rng.randrange(1, 10**7),
        "ms": rng.randrange(1, 5000),
        "user": rng.randrange(1, 10**5),
        "a": rng.randrange(256),
        "b": rng.randrange(256),
        "pct": rng.randrange(100),
        "hex": f"{rng.getrandbits(64):016x}",
    }
    message = rng.choice(templates).format(**values)
    lines = [f"{stamp} {level} [{rng.choice(COMPONENTS)}] {message}"]
    if level == "ERROR" and rng.random() < 0.3:
        lines += [t.format(**values) for t in TRACEBACK]  # no timestamp, as Python logging
    return lines


def log_block(seed: int, size: int, start_second: int = 0) -> bytes:
    rng = random.Random(seed)
    lines: list[str] = []
    total, second = 0, start_second
    while total < size:
        for line in _line(rng, second):
            lines.append(line)
            total += len(line) + 1
        second += rng.random() < 0.05
    return ("\n".join(lines) + "\n").encode("utf-8")


def make_log(path: Path, size: int) -> int:
    """Write about `size` bytes of log lines; return the size.

    Generating every line in Python would take minutes: one block of lines is generated and
    repeated, each time with fresh random request and session ids, so that the scanner's
    template cache sees new lines as often as in a real log.
    """
    block = log_block(1, min(size, BLOCK_BYTES))
    slots = [m.start() for m in HEX_ID.finditer(block)]
    with path.open("wb") as handle:
        written = 0
        while written < size:
            fresh = os.urandom(8 * len(slots)).hex().encode("ascii")
            copy = bytearray(block)
            for i, start in enumerate(slots):
                copy[start : start + 16] = fresh[16 * i : 16 * i + 16]
            handle.write(copy)
            written += len(copy)
    return written


# ---------------------------------------------------------------- the contenders


def grep_count(path: Path) -> int:
    cmd = ["grep", "-c", "-E", GREP_PATTERN, str(path)]
    return int(run_command(cmd, "grep", env=GREP_ENV, ok_codes=(0, 1)).stdout)


def read_through(path: Path) -> None:
    """Read the file once so that every contender finds it in the page cache."""
    with path.open("rb", buffering=0) as handle:
        while handle.read(16 * MIB):
            pass


@dataclass(frozen=True)
class Round:
    grep: Timing
    full: Timing
    incremental: Timing


def one_round(
    log: LogSource, state_dir: Path, size: int, appended: bytes, order: tuple[str, ...]
) -> Round:
    """grep and a first scan in `order`, then the second scan after `appended`."""
    shutil.rmtree(state_dir, ignore_errors=True)
    os.truncate(log.path, size)  # the same file every round
    for arm in order:
        if arm == "grep":
            grep_time, grep_lines = timed(lambda: grep_count(log.path), CpuOf.BOTH)
        else:
            full_time, full = timed(lambda: scan_log(log, state_dir), CpuOf.BOTH)
    if full.errors + full.warnings != grep_lines:
        raise BenchError(
            f"scan_log counted {full.errors} errors + {full.warnings} warnings, "
            f"grep counted {grep_lines} lines"
        )
    with log.path.open("ab") as handle:
        handle.write(appended)
    incremental_time, incremental = timed(lambda: scan_log(log, state_dir), CpuOf.BOTH)
    if incremental.bytes_scanned != len(appended) or incremental.first_scan:
        raise BenchError(
            f"the second scan read {incremental.bytes_scanned} bytes, expected {len(appended)}"
        )
    return Round(grep_time, full_time, incremental_time)


def parse_size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def bench(args: argparse.Namespace) -> None:
    start = BenchmarkStart.now()
    if shutil.which("grep") is None:
        raise BenchError("grep is not installed")
    # A gigabyte of log: never left behind by accident, not even when something failed.
    with scratch_directory("upkeep-bench-logscan-", keep=args.keep) as tmp:
        # The first scan reads the whole file (`first_scan: whole`), as a scan of a log's
        # unread gigabyte after a long pause does.
        log = LogSource("bench", tmp / "app.log", first_scan_window=None)
        print(f"log scan: generating {args.size / MIB:.0f} MiB of log lines in {tmp}", flush=True)
        size = make_log(log.path, args.size)
        appended = log_block(2, APPEND_BYTES, start_second=10**6)
        read_through(log.path)
        rounds = [
            one_round(log, tmp / "state", size, appended, order)
            for _, order in rounds_in_turn(("grep", "scan_log"), args.repeat)
        ]
    report(rounds, size, len(appended), args.repeat)
    print(f"\n{start.closing_lines()}")


def report(rounds: list[Round], size: int, appended: int, repeat: int) -> None:
    greps, fulls = Rounds(tuple(r.grep for r in rounds)), Rounds(tuple(r.full for r in rounds))
    grep, full = greps.median, fulls.median
    incremental = Rounds(tuple(r.incremental for r in rounds)).median
    mib = size / MIB
    ratio = (size / full.wall_s) / (size / grep.wall_s)

    def row(label: str, t: Timing, nbytes: int) -> str:
        rate = nbytes / MIB / t.wall_s
        return f"  {label:<36}{t.text('8.3f')} {rate:9.0f} MiB/s"

    print(
        f"\nresults ({median_of(repeat)}; {mib:.0f} MiB log, {os.cpu_count()} CPUs, LC_ALL=C grep;"
        f" load average {LoadAverage.now()})"
    )
    print(row("grep -c -E (default patterns)", grep, size))
    print(row("scan_log, first scan (whole file)", full, size))
    print(row("scan_log after 1 MiB appended", incremental, appended))
    print()
    print(
        f"  scan_log / grep throughput          {ratio:7.2f}x   target {THROUGHPUT_TARGET}x"
        f"  {THROUGHPUT_TARGET.verdict(ratio)}"
    )
    print(
        f"  second scan (1 MiB appended)        {incremental.wall_s:7.3f} s  target "
        f"{INCREMENTAL_TARGET_S} s  {INCREMENTAL_TARGET_S.verdict(incremental.wall_s)}"
    )
    print(
        f"  scan_log / grep by CPU time         {grep.cpu_s / full.cpu_s:7.2f}x   (informational: "
        "less sensitive to other work on a shared machine)"
    )
    if repeat > 1:
        print(rounds_line({"grep": greps, "scan_log": fulls}))


def main(argv: list[str] | None = None) -> int:
    parser = option_parser(__doc__)
    parser.add_argument("--repeat", type=at_least(1), default=1, help="rounds of each phase [1]")
    parser.add_argument("--size", type=parse_size, default=1 << 30, help="log size, e.g. 64M [1G]")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    if args.size < MIB:
        parser.error("--size must be at least 1M")
    return run_benchmark(lambda: bench(args))


if __name__ == "__main__":
    sys.exit(main())
