"""What a SQLite backup costs: upkeep's backup side by side with `sqlite3 DB ".backup OUT"`.

In one temporary directory this generates a SQLite database of about `--size` MB once (an
`orders` table of realistic rows, an index on `customer_id`), then measures in `--repeat` rounds
taken in turn (A B C D, D C B A, ...), so that no arm always goes first:

1. `sqlite3 DB ".backup OUT"` (/usr/bin/sqlite3): the online backup API, uncompressed;
2. upkeep's full backup (`take_backup` in a fresh `python -c`, so imports are paid): the
   database (rollback journal, SQLite's default) read in place inside one read transaction, in
   8 MiB pieces, each piece's pages sha256'd and the piece zstd-compressed, written and fsynced
   by a worker thread, while a second thread counts every table's rows and hashes the samples in
   the same transaction; the block list (index piece), the snapshot's digest (the sha256 of the
   page sha256s: no second pass over the file) and the manifest;
3. the same with one worker thread (`incremental.WORKERS = 1`: what a spare core buys) and at
   each zstd level `--also-level` (when `--level` is 1: 3, and -3, one of zstd's fast levels,
   which `backup.compression_level` accepts from -1 to -7; else 1);
4. the database switched to WAL mode, against `sqlite3 .backup` of the same WAL database:
   upkeep runs a passive checkpoint, then reads the file in place as in 2 (a reader that began
   on a fully checkpointed WAL keeps any checkpoint from writing into the file), or copies it
   with the backup API first when a checkpoint could not finish (nothing writes here, so it
   finishes); switched back to rollback journal afterwards.

The ratio is given two ways: median upkeep / median sqlite3, and the median of each round's own
upkeep / sqlite3 (paired: both ran under about the same load). Then, twice, 1% of the rows are
updated and an incremental on the previous backup is timed against a full backup of the same
changed database, again in rounds taken in turn (each incremental on a fresh copy of the store;
every arm starts on a settled disk: what the previous arm wrote or removed, and the store copied
for it, synced before its clock starts):

5. 1% of the rows chosen at random (`abs(random()) % 100 = 0`): every row has the same chance,
   so the changed rows spread over most pages (the worst case for an incremental);
6. the most recent 1% of the rows (the highest ids): the clustered update a real orders table
   sees.

It prints wall and CPU times, peak memory (the child's max RSS), stored bytes and the targets:
upkeep full / sqlite3 .backup wall time <= 1.5x; an incremental never slower than a full of the
same database (<= 1.0x wall) and <= 1.5x its memory; an incremental after 1% of the rows
changed <= 5% of the full backup's stored bytes. An incremental that would store mostly new
blocks is taken as a full (`incremental.FULL_WHEN_NEW`): the table says when that happened. A
measurement, not a test: it exits 0 whatever the figures and 1 only when something failed to
run. The database is deleted afterwards. The load average is printed before and after: on a
shared machine every wall-time ratio depends on it.

    python benchmarks/backup.py --size 1024   # the README figures
    python benchmarks/backup.py --size 64     # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import sys
import time
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
    scratch_directory,
    timed_command,
)

from upkeep.config import BackupPolicy

SQLITE3 = "/usr/bin/sqlite3"
TIME_TARGET = Target("<=", 1.5)  # upkeep full backup wall / sqlite3 .backup wall
# Levels timed beside --level 1: 3 (more CPU for about the same size) and one of zstd's fast
# levels (`backup.compression_level` -1 to -7: less CPU for larger pieces).
ALSO_LEVELS = (3, -3)
INCREMENTAL_TIME_TARGET = Target("<=", 1.0)  # incremental wall / full wall, same database
INCREMENTAL_MEMORY_TARGET = Target("<=", 1.5)  # incremental max RSS / full max RSS
BYTES_TARGET = Target("<=", 0.05)  # incremental stored bytes / full stored bytes, 1% changed
ROW_BYTES = 134  # about what one generated row and its index entry take on disk (measured)

BACKUP_SNIPPET = """\
import contextlib, json, resource, sys
from pathlib import Path
from upkeep.backup import incremental
from upkeep.backup.engines.sqlite import SQLiteEngine
from upkeep.backup.incremental import take_backup
from upkeep.backup.stores.directory import DirectoryStore
from upkeep.config import Database
db, store_root, base_id, level, workers = sys.argv[1:6]
if workers != "default":
    incremental.WORKERS = int(workers)
store = DirectoryStore(Path(store_root))
base = next((m for m in store.manifests() if m.id == base_id), None)
engine = SQLiteEngine(Database(name="bench", engine="sqlite", path=Path(db)))
ways = []  # how the database was read: in place, or copied into the staging directory first
reading = SQLiteEngine.reading
@contextlib.contextmanager
def told(self, dest, **options):
    with reading(self, dest, **options) as read:
        ways.append("read in place" if read.path == self.path else "copied first")
        yield read
SQLiteEngine.reading = told
m = take_backup(engine, store, base=base, compression_level=int(level)).manifest
print(json.dumps({"id": m.id, "kind": m.kind, "size": m.size, "stored": m.stored_bytes,
                  "blocks": m.block_count, "new_blocks": m.extra["new_blocks"],
                  "decision": m.extra.get("decision", ""), "read": ways[0],
                  "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""

GENERATE = """\
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows})
INSERT INTO orders
SELECT i, abs(random()) % 100000, datetime(1700000000 + i * 7, 'unixepoch'),
       CASE abs(random()) % 4 WHEN 0 THEN 'new' WHEN 1 THEN 'paid' WHEN 2 THEN 'sent'
       ELSE 'done' END,
       (abs(random()) % 100000) / 100.0,
       'order ' || i || ' ref ' || hex(randomblob(16)) || ' to street ' || (abs(random()) % 999)
FROM n
"""


def generate(db: Path, megabytes: int) -> int:
    rows = max(1000, megabytes * (1 << 20) // ROW_BYTES)
    with sqlite3.connect(db) as connection:
        connection.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL,"
            " created TEXT NOT NULL, status TEXT NOT NULL, amount REAL NOT NULL,"
            " note TEXT NOT NULL);"
        )
        connection.execute(GENERATE.format(rows=rows))
        connection.execute("CREATE INDEX orders_customer ON orders (customer_id)")
    return rows


def update(db: Path, where: str) -> int:
    with sqlite3.connect(db) as connection:
        cursor = connection.execute(
            "UPDATE orders SET status = CASE status WHEN 'done' THEN 'paid' ELSE 'done' END,"
            f" amount = amount + 1 WHERE {where}"
        )
        return cursor.rowcount


def _set_journal_mode(db: Path, mode: str) -> None:
    with sqlite3.connect(db) as connection:
        got = connection.execute(f"PRAGMA journal_mode={mode}").fetchone()[0]
    if got != mode:
        raise BenchError(f"{db}: journal_mode is {got}, expected {mode}")


def upkeep_backup(
    db: Path, store: Path, base: str, level: int, workers: str = "default"
) -> tuple[Timing, dict[str, Any]]:
    cmd = [sys.executable, "-c", BACKUP_SNIPPET, str(db), str(store), base, str(level), workers]
    timing, proc = timed_command(cmd, "upkeep backup")
    return timing, json.loads(proc.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = option_parser(__doc__)
    parser.add_argument("--size", type=int, default=1024, help="database size in MB [1024]")
    default = BackupPolicy().compression_level
    parser.add_argument(
        "--level", type=int, default=default, help=f"zstd level [{default}, upkeep's default]"
    )
    parser.add_argument(
        "--also-level",
        type=int,
        action="append",
        help=f"another level to time, may be repeated [{' and '.join(map(str, ALSO_LEVELS))} when"
        " --level is 1, else 1]",
    )
    parser.add_argument("--repeat", type=at_least(1), default=3, help="rounds of each arm [3]")
    parser.add_argument("--dir", type=Path, help="where to make the temporary directory")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    # `nox -s bench -- ARGS` hands the same ARGS to every benchmark: ignore the others' options.
    args, ignored = parser.parse_known_args(argv)
    if args.also_level is None:
        args.also_level = list(ALSO_LEVELS) if args.level == 1 else [1]
    if ignored:
        print(f"(ignoring options meant for other benchmarks: {' '.join(ignored)})")
    return run_benchmark(lambda: bench(args))


def bench(args: argparse.Namespace) -> None:
    if not Path(SQLITE3).exists():
        raise BenchError(f"{SQLITE3} is missing: apt-get install sqlite3")
    with scratch_directory("upkeep-bench-backup-", keep=args.keep, parent=args.dir) as work:
        _bench(work, args)


class Runs:
    """What each upkeep run printed, by arm label, in the order run."""

    def __init__(self) -> None:
        self.results: dict[str, list[dict[str, Any]]] = {}

    def arm(self, label: str, run: Callable[[], tuple[Timing, dict[str, Any]]]) -> Arm:
        def measure() -> Timing:
            timing, result = run()
            self.results.setdefault(label, []).append(result)
            return timing

        return Arm(label, measure)

    def median(self, label: str, key: str) -> float:
        return statistics.median(result[key] for result in self.results[label])

    def last(self, label: str) -> dict[str, Any]:
        return self.results[label][-1]


def _fresh(store: Path) -> Path:
    shutil.rmtree(store, ignore_errors=True)
    return store


def _settled(path: Path) -> Path:
    """`path`, once the disk has written back what was removed or copied before (untimed): a
    store copied just before the clock starts would otherwise be written back during the
    timed backup, whose fsyncs wait for it."""
    os.sync()
    return path


def _bench(work: Path, args: argparse.Namespace) -> None:
    db = work / "bench.db"
    started = time.perf_counter()
    rows = generate(db, args.size)
    size = db.stat().st_size
    print(
        f"database: {size / 1e6:.0f} MB, {rows} rows, generated in "
        f"{time.perf_counter() - started:.1f} s; {args.repeat} round(s), {os.cpu_count()} CPUs"
    )
    print("  (the database is in the page cache for every phase: all read it warm)")
    start = BenchmarkStart.now()

    def cli() -> tuple[Timing, dict[str, Any]]:
        out = _settled(work / "cli.db")
        timing, _ = timed_command([SQLITE3, str(db), f".backup {out}"], "sqlite3 .backup")
        out.unlink()
        return timing, {"stored": size}

    def full(level: int, workers: str) -> Callable[[], tuple[Timing, dict[str, Any]]]:
        return lambda: upkeep_backup(db, _settled(_fresh(work / "store-full")), "-", level, workers)

    runs = Runs()
    labels = {
        "sqlite3": 'sqlite3 DB ".backup OUT"',
        "full": f"upkeep full (zstd {args.level}, threads)",
        "one": f"upkeep full (zstd {args.level}, one thread)",
    }
    also = [f"also {level}" for level in args.also_level]
    for key, level in zip(also, args.also_level, strict=True):
        labels[key] = f"upkeep full (zstd {level}, threads)"
    fulls = compare(
        [
            runs.arm(labels["sqlite3"], cli),
            runs.arm(labels["full"], full(args.level, "default")),
            runs.arm(labels["one"], full(args.level, "1")),
            *(
                runs.arm(labels[key], full(level, "default"))
                for key, level in zip(also, args.also_level, strict=True)
            ),
        ],
        args.repeat,
    )
    _set_journal_mode(db, "wal")
    note("the database switched to WAL mode")
    labels["wal-sqlite3"] = 'sqlite3 DB ".backup OUT" (WAL)'
    labels["wal"] = f"upkeep full (zstd {args.level}, WAL)"
    fulls.update(
        compare(
            [
                runs.arm(labels["wal-sqlite3"], cli),
                runs.arm(labels["wal"], full(args.level, "default")),
            ],
            args.repeat,
        )
    )
    _set_journal_mode(db, "delete")
    note("the database switched back to rollback journal")
    # The base of the incrementals (not timed): the last full at --level, kept.
    note("the base of the incrementals: one more full backup (not timed)")
    _, base = upkeep_backup(db, _fresh(work / "store-base"), "-", args.level)
    increments = []
    for name, where in (
        ("random", "abs(random()) % 100 = 0"),
        ("newest", f"id > (SELECT max(id) FROM orders) - {rows // 100}"),
    ):
        changed = update(db, where)
        note(f"{name} 1% of the rows changed ({changed} rows)")
        inc_label = f"upkeep incremental, {name} {changed} rows (1%)"
        full_label = f"upkeep full of the same ({name} 1%)"
        base_id = base["id"]

        def incremental(base_id: str = base_id) -> tuple[Timing, dict[str, Any]]:
            store = _fresh(work / "store-inc")
            shutil.copytree(work / "store-base", store)  # not timed: a fresh chain each round
            return upkeep_backup(db, _settled(store), base_id, args.level)

        measured = compare(
            [runs.arm(inc_label, incremental), runs.arm(full_label, full(args.level, "default"))],
            args.repeat,
        )
        increments.append((name, inc_label, full_label, measured))
        # The next change's incremental is on this one: the chain grows as it would.
        shutil.rmtree(work / "store-base")
        (work / "store-inc").rename(work / "store-base")
        base = runs.last(inc_label)
    _report(runs, labels, fulls, increments, args)
    print(f"\n{start.closing_lines()}")


def _report(
    runs: Runs,
    labels: dict[str, str],
    fulls: dict[str, Rounds],
    increments: list[tuple[str, str, str, dict[str, Rounds]]],
    args: argparse.Namespace,
) -> None:
    def row(label: str, rounds: Rounds, extra: str = "") -> None:
        t = rounds.median
        stored = runs.median(label, "stored") / 1e6
        rss = f"{runs.median(label, 'rss') / 1e6:8.0f}" if "rss" in runs.last(label) else " " * 8
        print(f"{label:<48} {t.wall_s:7.2f} {t.cpu_s:7.2f} {rss} {stored:10.1f}  {extra}")

    print(f"\nresults ({median_of(args.repeat)})")
    print(f"{'phase':<48} {'wall s':>7} {'CPU s':>7} {'RSS MB':>8} {'stored MB':>10}")
    row(labels["sqlite3"], fulls[labels["sqlite3"]], "uncompressed copy")
    also = [key for key in labels if key.startswith("also ")]
    for key in ("full", "one", *also, "wal-sqlite3", "wal"):
        if key == "wal-sqlite3":
            row(labels[key], fulls[labels[key]], "uncompressed copy")
            continue
        result = runs.last(labels[key])
        ways = ", ".join(sorted({r["read"] for r in runs.results[labels[key]]}))
        row(
            labels[key],
            fulls[labels[key]],
            f"{result['size'] / result['stored']:.2f}x smaller, {ways}",
        )
    for _, inc_label, full_label, measured in increments:
        result = runs.last(inc_label)
        kind = result["kind"] if not result["decision"] else result["decision"]
        row(inc_label, measured[inc_label], f"{result['new_blocks']} of {result['blocks']} new")
        print(f"{'':<48} ({kind})")
        row(full_label, measured[full_label])
    print()
    for key in ("full", "one", *also, "wal"):
        cli = fulls[labels["wal-sqlite3" if key == "wal" else "sqlite3"]]
        rounds = fulls[labels[key]]
        ratio = rounds.median.wall_s / cli.median.wall_s
        paired = statistics.median(
            u.wall_s / c.wall_s for u, c in zip(rounds.timings, cli.timings, strict=True)
        )
        cpu = rounds.median.cpu_s / cli.median.cpu_s
        print(
            f"{labels[key]} / sqlite3 .backup: {ratio:5.2f}x wall, paired {paired:5.2f}x, "
            f"{cpu:5.2f}x CPU (target {TIME_TARGET}x wall) {TIME_TARGET.verdict(paired)}"
        )
    for name, inc_label, full_label, measured in increments:
        inc, full = measured[inc_label], measured[full_label]
        paired = statistics.median(
            i.wall_s / f.wall_s for i, f in zip(inc.timings, full.timings, strict=True)
        )
        memory = runs.median(inc_label, "rss") / runs.median(full_label, "rss")
        share = runs.median(inc_label, "stored") / runs.median(full_label, "stored")
        print(
            f"incremental ({name} 1%) / full of the same: {paired:5.2f}x wall (paired, target "
            f"{INCREMENTAL_TIME_TARGET}x) {INCREMENTAL_TIME_TARGET.verdict(paired)}, "
            f"{inc.median.cpu_s / full.median.cpu_s:5.2f}x CPU, {memory:5.2f}x memory (target "
            f"{INCREMENTAL_MEMORY_TARGET}x) {INCREMENTAL_MEMORY_TARGET.verdict(memory)}, "
            f"{share * 100:5.2f}% of its stored bytes (target {BYTES_TARGET.comparison} "
            f"{BYTES_TARGET.limit * 100:.0f}%) {BYTES_TARGET.verdict(share)}"
        )
    print(rounds_line(fulls))
    for _, _, _, measured in increments:
        print(rounds_line(measured))


if __name__ == "__main__":
    sys.exit(main())
