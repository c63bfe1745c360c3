"""What a PostgreSQL backup through upkeep costs: side by side with a plain `pg_dump -Fc`.

In one throwaway PostgreSQL cluster (started like the tests' fixture: initdb + pg_ctl as the
`postgres` user, see tests/pg_cluster.py) holding a generated database of about `--size` MB,
this measures in the same run, alternating the order each round:

1. `pg_dump -Fc -f OUT DB`: the plain custom-format dump, compressed by pg_dump (gzip, default
   level), as an administrator would take it by hand;
2. upkeep's full backup of the same database (`take_backup` with the PostgreSQL engine into a
   directory store): `pg_dump -Fc -Z0` on an exported snapshot while the rows are counted, then
   content-defined chunking, sha256 of every chunk, zstd of new chunks, fsynced pieces, manifest;
3. for information: `pg_dump -Fc -Z0` alone (what upkeep's dump step costs), and incremental
   backups after 1% of the rows changed, clustered on the newest rows and then scattered (time,
   and stored bytes against the full backup's).

It prints wall and CPU times (this process and its children; the server's own work is the same
for both and not counted), sizes, and the ratio the issue targets (upkeep / pg_dump -Fc <= 1.2x)
with PASS/MISS. A measurement, not a test: exit 0 whatever the figures, 1 when something failed.

    nox -s bench -- backup_postgresql --size 300
    python benchmarks/backup_postgresql.py --size 50      # a quicker look from a dev install
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
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # the throwaway cluster shared with the tests

from pg_cluster import ClusterUnavailable, PostgresServer, throwaway_cluster  # noqa: E402

from upkeep.backup.engines.postgresql import PostgreSQLEngine  # noqa: E402
from upkeep.backup.incremental import take_backup  # noqa: E402
from upkeep.backup.stores.directory import DirectoryStore  # noqa: E402

TARGET = 1.2  # upkeep wall / pg_dump -Fc wall at most this
ROW_BYTES = 160  # about one generated row on disk, to turn --size into a row count
DBNAME = "bench"

# Rows that look like an application's: ids, a few repeated categories, amounts, timestamps,
# and text that compresses about as well as real text does (not zeros, not random bytes).
GENERATE = """
CREATE TABLE accounts (id integer PRIMARY KEY, name text NOT NULL, region text NOT NULL);
INSERT INTO accounts
  SELECT g, 'account ' || g, (ARRAY['eu-west','eu-north','us-east','ap-south'])[1 + g % 4]
  FROM generate_series(1, 10000) g;
CREATE TABLE events (
  id bigint PRIMARY KEY, account_id integer NOT NULL REFERENCES accounts(id),
  kind text NOT NULL, amount numeric(12,2) NOT NULL, note text, created timestamptz NOT NULL);
INSERT INTO events
  SELECT g, 1 + (g * 7919) % 10000,
         (ARRAY['login','purchase','refund','logout','update'])[1 + g % 5],
         ((g * 104729) % 1000000) / 100.0,
         'order ' || (g % 100000) || ' ' || md5(g::text) || ' via ' || (g % 13) || ' channel',
         timestamptz '2024-01-01 00:00+00' + g * interval '7 seconds'
  FROM generate_series(1::bigint, {rows}) g;
ANALYZE;
"""

# 1% of the rows changed, two ways: clustered on the newest rows (the common case: recent data
# changes), then scattered evenly (the worst case for any block-level deduplication). PostgreSQL
# writes an updated row's new version wherever there is free space, so once (auto)vacuum has
# freed space all over the table even clustered updates land scattered in the dump.
CHANGES = {
    "newest": "UPDATE events SET note = note || ' (amended)' "
    "WHERE id > (SELECT max(id) - max(id) / 100 FROM events)",
    "scattered": "UPDATE events SET note = note || ' (amended)' WHERE id % 100 = 0",
}


class BenchError(Exception):
    """Something the benchmark runs failed; the message carries its output."""


@dataclass
class Timing:
    wall_s: float
    cpu_s: float  # user + sys of this process and its reaped children


def cpu_now() -> float:
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def timed(func: Callable[[], Any]) -> tuple[Timing, Any]:
    cpu, clock = cpu_now(), time.perf_counter()
    value = func()
    return Timing(time.perf_counter() - clock, cpu_now() - cpu), value


def note(message: str) -> None:
    print(f"-- {message}", flush=True)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def mb(size: float) -> str:
    return f"{size / 1e6:8.1f} MB"


def plain_dump(server: PostgresServer, out: Path, *extra: str) -> int:
    """`pg_dump -Fc` as the test role over TCP, password from the environment; returns size."""
    out.unlink(missing_ok=True)
    env = {**os.environ, "PGPASSWORD": server.password}
    cmd = [
        str(server.bin_dir / "pg_dump"),
        "-h",
        server.host,
        "-p",
        str(server.port),
        "-U",
        server.role,
        "-Fc",
        *extra,
        "-f",
        str(out),
        DBNAME,
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BenchError(f"pg_dump {' '.join(extra)} exited {proc.returncode}: {proc.stderr}")
    return out.stat().st_size


def upkeep_backup(engine: PostgreSQLEngine, store: DirectoryStore, level: int, base: Any = None):
    return take_backup(engine, store, base=base, compression_level=level).manifest


def generate(server: PostgresServer, size_mb: int) -> int:
    server.create_database(DBNAME)
    rows = max(10_000, size_mb * 1_000_000 // ROW_BYTES)
    server.psql(f"SET ROLE {server.role};\n" + GENERATE.format(rows=rows), dbname=DBNAME)
    return int(server.psql(f"SELECT pg_database_size('{DBNAME}')", dbname=DBNAME))


def median(timings: list[Timing]) -> Timing:
    return Timing(
        statistics.median(t.wall_s for t in timings), statistics.median(t.cpu_s for t in timings)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=300, help="database size to generate, MB")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of each phase [1]")
    parser.add_argument("--level", type=int, default=3, help="upkeep's zstd level [3]")
    parser.add_argument("--keep", action="store_true", help="keep the dumps and the store")
    args = parser.parse_args(argv)
    if args.size < 1 or args.repeat < 1:
        parser.error("--size and --repeat must be at least 1")

    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="upkeep-bench-pg-"))
    print(
        f"PostgreSQL backup: ~{args.size} MB generated, {args.repeat} round(s), zstd level "
        f"{args.level}, {os.cpu_count()} CPUs, python {sys.version.split()[0]}\nwork: {work}",
        flush=True,
    )
    try:
        with throwaway_cluster() as server:
            note("generating the database (not timed)")
            db_size = generate(server, args.size)
            engine = PostgreSQLEngine(server.database(DBNAME), bin_dir=server.bin_dir)
            results = measure(server, engine, work, args)
    except (BenchError, ClusterUnavailable) as exc:
        print(f"\nFAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    report(results, db_size, args)
    print(f"\nbenchmark took {time.perf_counter() - started:.0f} s")
    return 0


def measure(
    server: PostgresServer, engine: PostgreSQLEngine, work: Path, args: argparse.Namespace
) -> dict[str, Any]:
    timings: dict[str, list[Timing]] = {"plain": [], "upkeep": [], "raw": []}
    sizes: dict[str, int] = {}
    full = store = None
    for round_ in range(1, args.repeat + 1):
        tag = f"[round {round_}/{args.repeat}]"
        store = DirectoryStore(work / f"store-{round_}")
        # Alternate which goes first, so neither always meets a cold or a warm cache.
        for phase in ("plain", "upkeep") if round_ % 2 else ("upkeep", "plain"):
            if phase == "plain":
                note(f"{tag} pg_dump -Fc")
                timing, sizes["plain"] = timed(lambda: plain_dump(server, work / "plain.dump"))
            else:
                note(f"{tag} upkeep full backup")
                timing, full = timed(lambda s=store: upkeep_backup(engine, s, args.level))
            timings[phase].append(timing)
        note(f"{tag} pg_dump -Fc -Z0 (informational)")
        timing, sizes["raw"] = timed(lambda: plain_dump(server, work / "raw.dump", "-Z0"))
        timings["raw"].append(timing)
    increments = {}
    base = full
    for name, change in CHANGES.items():
        note(f"changing 1% of the rows ({name}), then an upkeep incremental backup")
        server.psql(f"SET ROLE {server.role};\n{change}", dbname=DBNAME)
        timing, base = timed(lambda b=base: upkeep_backup(engine, store, args.level, base=b))
        increments[name] = (timing, base)
    return {
        **{name: median(values) for name, values in timings.items()},
        "rounds": (timings["plain"], timings["upkeep"]),
        "sizes": sizes,
        "full": full,
        "increments": increments,
    }


def report(results: dict[str, Any], db_size: int, args: argparse.Namespace) -> None:
    plain, up, raw = results["plain"], results["upkeep"], results["raw"]
    full = results["full"]
    sizes = results["sizes"]

    def row(label: str, t: Timing, size: int) -> str:
        rate = full.size / t.wall_s / 1e6
        return (
            f"  {label:<42}{t.wall_s:7.2f} s wall {t.cpu_s:7.2f} s CPU {mb(size)}"
            f"  {rate:6.1f} MB/s of dump"
        )

    ratio = up.wall_s / plain.wall_s
    median_of = f"median of {args.repeat}" if args.repeat > 1 else "1 round"
    print(f"\ndatabase {mb(db_size).strip()} on disk; uncompressed dump {mb(full.size).strip()}")
    print(f"results ({median_of}; size = what lands on disk)")
    print(row("pg_dump -Fc (gzip)", plain, sizes["plain"]))
    print(row(f"upkeep full backup (zstd {args.level})", up, full.stored_bytes))
    print(row("pg_dump -Fc -Z0 (informational)", raw, sizes["raw"]))
    for name, (timing, increment) in results["increments"].items():
        print(row(f"upkeep incremental, 1% rows ({name})", timing, increment.stored_bytes))
    print()
    print(
        f"  upkeep / pg_dump -Fc              {ratio:7.2f}x   target <= {TARGET:g}x  "
        f"{verdict(ratio <= TARGET)}"
    )
    for name, (_, increment) in results["increments"].items():
        share = increment.stored_bytes / full.stored_bytes
        print(f"  incremental ({name}) / full stored {share:7.1%}   (informational)")
    print(f"  upkeep stored / pg_dump -Fc size  {full.stored_bytes / sizes['plain']:7.2f}x")
    if args.repeat > 1:
        plains, ups = results["rounds"]
        print(
            "  rounds: pg_dump "
            + ", ".join(f"{t.wall_s:.2f}" for t in plains)
            + " s; upkeep "
            + ", ".join(f"{t.wall_s:.2f}" for t in ups)
            + " s"
        )


if __name__ == "__main__":
    sys.exit(main())
