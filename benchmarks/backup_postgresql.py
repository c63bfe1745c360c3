"""What a PostgreSQL backup through upkeep costs: side by side with a plain `pg_dump -Fc`.

In one throwaway PostgreSQL cluster (started like the tests' fixture: initdb + pg_ctl as the
`postgres` user, see tests/helpers/pg_cluster.py) holding a generated database of about `--size` MB,
this measures in the same run, alternating the order each round:

1. `pg_dump -Fc -f OUT DB`: the plain custom-format dump, compressed by pg_dump (gzip, default
   level), as an administrator would take it by hand; and `pg_dump -Fc -Z1`, gzip's fastest
   level, the equally fast setting an administrator who cares about time would pick (upkeep
   compresses at zstd level 1 by default): the ratio is given against both;
2. upkeep's full backup of the same database (`take_backup` with the PostgreSQL engine into a
   directory store): `pg_dump -Fc -Z0` on an exported snapshot while the rows are counted, then
   content-defined chunking, sha256 of every chunk, zstd of new chunks, fsynced pieces, manifest;
3. for information: `pg_dump -Fc -Z0` alone (what upkeep's dump step costs), and incremental
   backups after 1% of the rows changed, clustered on the newest rows and then scattered (time,
   and stored bytes against the full backup's).

It prints wall and CPU times (this process and its children; the server's own work is the same
for both and not counted), sizes, the ratios the issue targets (upkeep / pg_dump -Fc <= 1.2x,
and the same against `-Z1`) with PASS/MISS, and the load average before and after. A
measurement, not a test: exit 0 whatever the figures, 1 when something failed.

    nox -s bench -- backup_postgresql --size 300
    python benchmarks/backup_postgresql.py --size 50      # a quicker look from a dev install
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from harness import (
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
    run_command,
    scratch_directory,
    timed,
)

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # the throwaway cluster shared with the tests

from helpers.pg_cluster import ClusterUnavailable, PostgresServer, throwaway_cluster  # noqa: E402

from upkeep.backup.engines.postgresql import PostgreSQLEngine  # noqa: E402
from upkeep.backup.incremental import take_backup  # noqa: E402
from upkeep.backup.stores.directory import DirectoryStore  # noqa: E402
from upkeep.backup.stores.interface import Manifest  # noqa: E402
from upkeep.config import BackupPolicy  # noqa: E402

TARGET = Target("<=", 1.2)  # upkeep wall / pg_dump -Fc wall
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
    run_command(cmd, f"pg_dump -Fc {' '.join(extra)}".strip(), env=env)
    return out.stat().st_size


def upkeep_backup(
    engine: PostgreSQLEngine, store: DirectoryStore, level: int, base: Manifest | None = None
) -> Manifest:
    return take_backup(engine, store, base=base, compression_level=level).manifest


def generate(server: PostgresServer, size_mb: int) -> int:
    server.create_database(DBNAME)
    rows = max(10_000, size_mb * 1_000_000 // ROW_BYTES)
    server.psql(f"SET ROLE {server.role};\n" + GENERATE.format(rows=rows), dbname=DBNAME)
    return int(server.psql(f"SELECT pg_database_size('{DBNAME}')", dbname=DBNAME))


@dataclass(frozen=True)
class Measured:
    """The rounds of each dump, the sizes they left, the full backup and the incrementals."""

    plain: Rounds
    fast: Rounds
    upkeep: Rounds
    raw: Rounds
    plain_size: int
    fast_size: int
    raw_size: int
    full: Manifest
    increments: dict[str, tuple[Timing, Manifest]]


def measure(
    server: PostgresServer, engine: PostgreSQLEngine, work: Path, args: argparse.Namespace
) -> Measured:
    timings: dict[str, list[Timing]] = {"plain": [], "fast": [], "upkeep": [], "raw": []}
    sizes: dict[str, int] = {}
    full: Manifest | None = None
    store: DirectoryStore | None = None
    # Alternate which goes first, so neither always meets a cold or a warm cache.
    for round_, order in rounds_in_turn(("plain", "fast", "upkeep"), args.repeat):
        tag = round_tag(round_, args.repeat)
        store = DirectoryStore(work / f"store-{round_}")
        for phase in order:
            if phase == "plain":
                note(f"{tag} pg_dump -Fc")
                timing, sizes["plain"] = timed(
                    lambda: plain_dump(server, work / "plain.dump"), CpuOf.BOTH
                )
            elif phase == "fast":
                note(f"{tag} pg_dump -Fc -Z1")
                timing, sizes["fast"] = timed(
                    lambda: plain_dump(server, work / "fast.dump", "-Z1"), CpuOf.BOTH
                )
            else:
                note(f"{tag} upkeep full backup")
                timing, full = timed(
                    lambda s=store: upkeep_backup(engine, s, args.level), CpuOf.BOTH
                )
            timings[phase].append(timing)
        note(f"{tag} pg_dump -Fc -Z0 (informational)")
        timing, sizes["raw"] = timed(
            lambda: plain_dump(server, work / "raw.dump", "-Z0"), CpuOf.BOTH
        )
        timings["raw"].append(timing)
    assert full is not None and store is not None  # --repeat is at least 1
    increments = {}
    base = full
    for name, change in CHANGES.items():
        note(f"changing 1% of the rows ({name}), then an upkeep incremental backup")
        server.psql(f"SET ROLE {server.role};\n{change}", dbname=DBNAME)
        timing, base = timed(
            lambda b=base: upkeep_backup(engine, store, args.level, base=b), CpuOf.BOTH
        )
        increments[name] = (timing, base)
    return Measured(
        plain=Rounds(tuple(timings["plain"])),
        fast=Rounds(tuple(timings["fast"])),
        upkeep=Rounds(tuple(timings["upkeep"])),
        raw=Rounds(tuple(timings["raw"])),
        plain_size=sizes["plain"],
        fast_size=sizes["fast"],
        raw_size=sizes["raw"],
        full=full,
        increments=increments,
    )


def report(measured: Measured, db_size: int, args: argparse.Namespace) -> None:
    plain, up, raw = measured.plain.median, measured.upkeep.median, measured.raw.median
    fast = measured.fast.median
    full = measured.full

    def row(label: str, t: Timing, size: int) -> str:
        rate = full.size / t.wall_s / 1e6
        return f"  {label:<42}{t.text()} {mb(size)}  {rate:6.1f} MB/s of dump"

    ratio = up.wall_s / plain.wall_s
    fast_ratio = up.wall_s / fast.wall_s
    print(f"\ndatabase {mb(db_size).strip()} on disk; uncompressed dump {mb(full.size).strip()}")
    print(f"results ({median_of(args.repeat)}; size = what lands on disk)")
    print(row("pg_dump -Fc (gzip)", plain, measured.plain_size))
    print(row("pg_dump -Fc -Z1 (gzip, fastest)", fast, measured.fast_size))
    print(row(f"upkeep full backup (zstd {args.level})", up, full.stored_bytes))
    print(row("pg_dump -Fc -Z0 (informational)", raw, measured.raw_size))
    for name, (timing, increment) in measured.increments.items():
        print(row(f"upkeep incremental, 1% rows ({name})", timing, increment.stored_bytes))
        for key in ("decision", "deltas"):  # what the backup chose to store, and why
            if key in increment.extra:
                print(f"    ({increment.extra[key]})")
    print()
    print(
        f"  upkeep / pg_dump -Fc              {ratio:7.2f}x   target {TARGET}x  "
        f"{TARGET.verdict(ratio)}"
    )
    print(
        f"  upkeep / pg_dump -Fc -Z1          {fast_ratio:7.2f}x   target {TARGET}x  "
        f"{TARGET.verdict(fast_ratio)}   (CPU {up.cpu_s / fast.cpu_s:.2f}x)"
    )
    for name, (_, increment) in measured.increments.items():
        share = increment.stored_bytes / full.stored_bytes
        print(f"  incremental ({name}) / full stored {share:7.1%}   (informational)")
    print(f"  upkeep stored / pg_dump -Fc size  {full.stored_bytes / measured.plain_size:7.2f}x")
    print(f"  upkeep stored / -Fc -Z1 size      {full.stored_bytes / measured.fast_size:7.2f}x")
    if args.repeat > 1:
        arms = {"pg_dump": measured.plain, "pg_dump -Z1": measured.fast, "upkeep": measured.upkeep}
        print(rounds_line(arms))


def bench(args: argparse.Namespace) -> None:
    start = BenchmarkStart.now()
    with scratch_directory("upkeep-bench-pg-", keep=args.keep) as work:
        print(
            f"PostgreSQL backup: ~{args.size} MB generated, {args.repeat} round(s), zstd level "
            f"{args.level}, {os.cpu_count()} CPUs, python {sys.version.split()[0]}\nwork: {work}",
            flush=True,
        )
        with throwaway_cluster() as server:
            note("generating the database (not timed)")
            db_size = generate(server, args.size)
            engine = PostgreSQLEngine(server.database(DBNAME), bin_dir=server.bin_dir)
            measured = measure(server, engine, work, args)
    report(measured, db_size, args)
    print(f"\n{start.closing_lines()}")


def main(argv: list[str] | None = None) -> int:
    parser = option_parser(__doc__)
    parser.add_argument(
        "--size", type=at_least(1), default=300, help="database size to generate, MB"
    )
    parser.add_argument("--repeat", type=at_least(1), default=1, help="rounds of each phase [1]")
    default = BackupPolicy().compression_level
    parser.add_argument(
        "--level", type=int, default=default, help=f"zstd level [{default}, upkeep's default]"
    )
    parser.add_argument("--keep", action="store_true", help="keep the dumps and the store")
    args = parser.parse_args(argv)
    return run_benchmark(lambda: bench(args), ClusterUnavailable)


if __name__ == "__main__":
    sys.exit(main())
