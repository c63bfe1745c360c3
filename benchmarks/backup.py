"""What a SQLite backup costs: upkeep's backup side by side with `sqlite3 DB ".backup OUT"`.

In one temporary directory this generates a SQLite database of about `--size` MB once (an
`orders` table of realistic rows, an index on `customer_id`), then measures in the same run:

1. `sqlite3 DB ".backup OUT"` (/usr/bin/sqlite3): the online backup API, uncompressed;
2. upkeep's full backup (`take_backup` in a fresh `python -c`, so imports are paid): snapshot
   with the same API into the staging directory, row counts of every table, then the snapshot
   read once in 8 MiB pieces, each piece's pages sha256'd and the piece zstd-compressed, written
   and fsynced by a worker thread; the block list (index piece), the snapshot's digest (the
   sha256 of the page sha256s: no second pass over the file) and the manifest;
3. the same at zstd level `--also-level` (3 when `--level` is 1, else 1), and at `--level` with
   one worker thread (`incremental.WORKERS = 1`): what the level and the threads cost or buy;
4. an incremental after updating 1% of the rows chosen at random (`abs(random()) % 100 = 0`):
   every row of the table has the same chance, so the changed rows spread over most pages;
5. an incremental after updating the most recent 1% of the rows (the highest ids): the
   clustered update a real orders table sees.

It prints wall and CPU times, stored bytes and the targets: upkeep full / sqlite3 .backup wall
time <= 1.5x; an incremental after 1% of the rows changed <= 5% of the full backup's stored bytes
(both choices of the 1% are reported). A measurement, not a test: it exits 0 whatever the
figures and 1 only when something failed to run. The database is deleted afterwards. The load
average is printed before and after: on a shared machine the wall-time ratio depends on it.

    python benchmarks/backup.py --size 1024   # the README figures
    python benchmarks/backup.py --size 64     # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

from harness import (
    BenchError,
    LoadAverage,
    Target,
    Timing,
    option_parser,
    run_benchmark,
    scratch_directory,
    timed_command,
)

from upkeep.config import BackupPolicy

SQLITE3 = "/usr/bin/sqlite3"
TIME_TARGET = Target("<=", 1.5)  # upkeep full backup wall / sqlite3 .backup wall
BYTES_TARGET = Target("<=", 0.05)  # incremental stored bytes / full stored bytes, 1% changed
ROW_BYTES = 134  # about what one generated row and its index entry take on disk (measured)

BACKUP_SNIPPET = """\
import json, sys, time
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
m = take_backup(engine, store, base=base, compression_level=int(level)).manifest
print(json.dumps({"id": m.id, "kind": m.kind, "size": m.size, "stored": m.stored_bytes,
                  "blocks": m.block_count, "new_blocks": m.extra["new_blocks"]}))
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
        "--also-level", type=int, help="a second level to time [3 when --level is 1, else 1]"
    )
    parser.add_argument("--dir", type=Path, help="where to make the temporary directory")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    # `nox -s bench -- ARGS` hands the same ARGS to every benchmark: ignore the others' options.
    args, ignored = parser.parse_known_args(argv)
    if args.also_level is None:
        args.also_level = 3 if args.level == 1 else 1
    if ignored:
        print(f"(ignoring options meant for other benchmarks: {' '.join(ignored)})")
    return run_benchmark(lambda: bench(args))


def bench(args: argparse.Namespace) -> None:
    if not Path(SQLITE3).exists():
        raise BenchError(f"{SQLITE3} is missing: apt-get install sqlite3")
    with scratch_directory("upkeep-bench-backup-", keep=args.keep, parent=args.dir) as work:
        _bench(work, args)


def _bench(work: Path, args: argparse.Namespace) -> None:
    db = work / "bench.db"
    started = time.perf_counter()
    rows = generate(db, args.size)
    size = db.stat().st_size
    print(
        f"database: {size / 1e6:.0f} MB, {rows} rows, generated in "
        f"{time.perf_counter() - started:.1f} s"
    )
    print("  (the database is in the page cache for every phase: all read it warm)")
    print(f"load average before: {LoadAverage.now()}")

    cli, _ = timed_command([SQLITE3, str(db), f".backup {work / 'cli.db'}"], "sqlite3 .backup")
    (work / "cli.db").unlink()
    variants = [
        (f"zstd {args.level}, threads", args.level, "default"),
        (f"zstd {args.also_level}, threads", args.also_level, "default"),
        (f"zstd {args.level}, one thread", args.level, "1"),
    ]
    fulls = []
    for index, (label, level, workers) in enumerate(variants):
        timing, full = upkeep_backup(db, work / f"store-{index}", "-", level, workers)
        fulls.append((label, timing, full))
    full = fulls[0][2]
    for index in range(1, len(variants)):
        shutil.rmtree(work / f"store-{index}")

    random_rows = update(db, "abs(random()) % 100 = 0")
    rnd_t, rnd = upkeep_backup(db, work / "store-0", full["id"], args.level)
    recent_rows = update(db, f"id > (SELECT max(id) FROM orders) - {rows // 100}")
    rec_t, rec = upkeep_backup(db, work / "store-0", rnd["id"], args.level)

    def row(label: str, t: Timing, stored: int, extra: str = "") -> None:
        print(f"{label:<46} {t.wall_s:8.2f} {t.cpu_s:8.2f} {stored / 1e6:10.1f}  {extra}")

    print(f"\n{'phase':<46} {'wall s':>8} {'CPU s':>8} {'stored MB':>10}")
    row('sqlite3 DB ".backup OUT"', cli, size, "uncompressed copy")
    for label, timing, result in fulls:
        smaller = f"{result['size'] / result['stored']:.2f}x smaller"
        row(f"upkeep full backup ({label})", timing, result["stored"], smaller)
    for label, timing, result, changed in (
        (f"random {random_rows} rows (1%)", rnd_t, rnd, "on the full"),
        (f"newest {recent_rows} rows (1%)", rec_t, rec, "on the previous"),
    ):
        pages = f"{result['new_blocks']} of {result['blocks']} pages new, {changed}"
        row(f"upkeep incremental, {label}", timing, result["stored"], pages)

    print(f"\nload average after: {LoadAverage.now()} ({os.cpu_count()} CPUs)")
    for label, timing, _ in fulls:
        ratio = timing.wall_s / cli.wall_s
        print(
            f"full backup / sqlite3 .backup, {label:<18} {ratio:6.2f}x wall "
            f"(target {TIME_TARGET}x) {TIME_TARGET.verdict(ratio)}"
        )
    for label, result in (("random 1% of rows", rnd), ("newest 1% of rows", rec)):
        ratio = result["stored"] / full["stored"]
        print(
            f"incremental after {label}: {ratio * 100:5.2f}% of the full backup's stored bytes "
            f"(target {BYTES_TARGET.comparison} {BYTES_TARGET.limit * 100:.0f}%) "
            f"{BYTES_TARGET.verdict(ratio)}"
        )


if __name__ == "__main__":
    sys.exit(main())
