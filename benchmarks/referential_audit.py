"""What upkeep's referential audit costs: side by side with the orphan checks a person runs by hand.

One generated schema of `--rows` rows (1,000,000 by default: 10 parent tables of 1 % of the rows
each, 10 child tables of 9 % each with 5 key columns, so 50 relations, every one with a known
number of orphans), built twice: as a SQLite file and as a PostgreSQL database in a throwaway
cluster (started like the tests' fixture, see tests/helpers/pg_cluster.py). In the same run,
alternating the order each round, it measures:

1. SQLite: `sqlite3 FILE "PRAGMA foreign_key_check"` (SQLite's own check of every declared key)
   against upkeep's audit of the same file (`SQLiteReview` + `audit_relations`: the catalog read,
   then per relation the orphans counted with their sample keys, read-only, under the progress
   handler);
2. PostgreSQL: the same 50 orphan queries (`SELECT count(*) ... WHERE NOT EXISTS (parent)`) in
   one `psql -f` run, against upkeep's audit through its one read-only `psql` session (the catalog
   read from pg_constraint, then per relation the count and the sample keys, each under
   statement_timeout).

Both arms must find the same number of orphans, or the figures mean nothing and it fails. It
prints wall and CPU times (this process and its children; the PostgreSQL server's own work is
not counted, it is the same for both), the ratios the issue targets (upkeep / by hand <= 1.5x)
with PASS/MISS, and the load average before and after. A measurement, not a test: exit 0 whatever
the figures, 1 when something failed.

    nox -s bench -- referential_audit --repeat 3
    python benchmarks/referential_audit.py --rows 100000      # a quicker look from a dev install
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from pathlib import Path

from harness import (
    Arm,
    BenchError,
    BenchmarkStart,
    CpuOf,
    Rounds,
    Target,
    at_least,
    compare,
    median_of,
    note,
    option_parser,
    rounds_line,
    run_benchmark,
    run_command,
    scratch_directory,
    timed,
)

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # the throwaway cluster shared with the tests

from helpers.pg_cluster import ClusterUnavailable, PostgresServer, throwaway_cluster  # noqa: E402

from upkeep.dbreview.audit import AuditReport, audit_relations  # noqa: E402
from upkeep.dbreview.postgresql import PostgreSQLReview  # noqa: E402
from upkeep.dbreview.sqlite import SQLiteReview  # noqa: E402

TARGET = Target("<=", 1.5)  # upkeep's audit wall / the by-hand check's wall
PARENTS = CHILDREN = 10
KEYS = 5  # key columns per child table: CHILDREN * KEYS relations
ORPHAN_EVERY = 500  # one row in this many of each key column names no parent
DBNAME = "audit_bench"
TIMEOUT_S = 600.0


def schema(rows: int) -> tuple[str, int, int]:
    """The schema and data as SQL both engines run, and the rows per parent and child table."""
    parent_rows, child_rows = rows // 100, rows * 9 // 100
    columns = ", ".join(f"k{k} integer" for k in range(KEYS))
    parts = []
    for p in range(PARENTS):
        parts.append(f"CREATE TABLE p{p} (id integer PRIMARY KEY, name text NOT NULL);")
    for c in range(CHILDREN):
        keys = ", ".join(
            f"FOREIGN KEY (k{k}) REFERENCES p{(c * KEYS + k) % PARENTS} (id)" for k in range(KEYS)
        )
        parts.append(f"CREATE TABLE c{c} (id integer PRIMARY KEY, {columns}, {keys});")
    return "\n".join(parts), parent_rows, child_rows


def key_value(k: int, parent_rows: int) -> str:
    """Column k's value for row i: a parent's id, or (every ORPHAN_EVERY rows) none's."""
    return (
        f"CASE WHEN (i + {k}) % {ORPHAN_EVERY} = 0 THEN {parent_rows} + i "
        f"ELSE (i * {k + 3}) % {parent_rows} + 1 END"
    )


def build_sqlite(path: Path, rows: int) -> None:
    ddl, parent_rows, child_rows = schema(rows)
    with sqlite3.connect(path) as db:
        db.executescript(ddl)
        for p in range(PARENTS):
            db.execute(
                f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < "
                f"{parent_rows}) INSERT INTO p{p} SELECT i, 'parent ' || i FROM n"
            )
        values = ", ".join(key_value(k, parent_rows) for k in range(KEYS))
        for c in range(CHILDREN):
            db.execute(
                f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < "
                f"{child_rows}) INSERT INTO c{c} SELECT i, {values} FROM n"
            )
    sqlite3.connect(path).close()


def build_postgresql(server: PostgresServer, rows: int) -> None:
    ddl, parent_rows, child_rows = schema(rows)
    # Keys added NOT VALID after the data (the only way a validated key holds orphans is a
    # restore or a replica without triggers): the orphan queries are the same either way.
    tables = "\n".join(line for line in ddl.splitlines() if line.startswith("CREATE TABLE p"))
    values = ", ".join(key_value(k, parent_rows) for k in range(KEYS))
    columns = ", ".join(f"k{k} integer" for k in range(KEYS))
    sql = [tables]
    for p in range(PARENTS):
        sql.append(
            f"INSERT INTO p{p} SELECT i, 'parent ' || i FROM generate_series(1, {parent_rows}) i;"
        )
    for c in range(CHILDREN):
        sql.append(f"CREATE TABLE c{c} (id integer PRIMARY KEY, {columns});")
        sql.append(f"INSERT INTO c{c} SELECT i, {values} FROM generate_series(1, {child_rows}) i;")
        for k in range(KEYS):
            parent = (c * KEYS + k) % PARENTS
            sql.append(
                f"ALTER TABLE c{c} ADD FOREIGN KEY (k{k}) REFERENCES p{parent} (id) NOT VALID;"
            )
    sql.append("VACUUM ANALYZE;")
    server.create_database(DBNAME)
    server.psql(f"SET ROLE {server.role};\n" + "\n".join(sql[:-1]), dbname=DBNAME)
    server.psql(sql[-1], dbname=DBNAME)


def orphan_queries() -> str:
    """The 50 orphan counts a person would write by hand, one per relation."""
    lines = []
    for c in range(CHILDREN):
        for k in range(KEYS):
            parent = (c * KEYS + k) % PARENTS
            lines.append(
                f"SELECT count(*) FROM c{c} AS c WHERE c.k{k} IS NOT NULL AND NOT EXISTS "
                f"(SELECT 1 FROM p{parent} AS p WHERE p.id = c.k{k});"
            )
    return "\n".join(lines) + "\n"


def checked(report: AuditReport) -> int:
    if report.checked != len(report.relations) or len(report.relations) != CHILDREN * KEYS:
        raise BenchError(f"upkeep's audit checked {report.coverage}")
    return report.orphans


def sqlite_arms(path: Path, found: dict[str, int]) -> list[Arm]:
    def by_hand() -> object:
        out = run_command(["sqlite3", str(path), "PRAGMA foreign_key_check"], "sqlite3").stdout
        found["sqlite by hand"] = len(out.splitlines())
        return out

    def upkeep() -> object:
        with SQLiteReview(path, TIMEOUT_S) as connection:
            found["sqlite upkeep"] = checked(audit_relations(connection, "bench", [], 5))

    return [
        Arm("PRAGMA foreign_key_check", lambda: timed(by_hand, CpuOf.BOTH)[0]),
        Arm("upkeep audit (SQLite)", lambda: timed(upkeep, CpuOf.BOTH)[0]),
    ]


def postgresql_arms(
    server: PostgresServer, script: Path, passfile: Path, found: dict[str, int]
) -> list[Arm]:
    """Both arms connect alike: the test role over TCP, its password in a passfile."""
    database = server.database(DBNAME)
    psql = [
        str(server.bin_dir / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
        "-h", server.host, "-p", str(server.port), "-U", server.role, "-d", DBNAME,
        "-f", str(script),
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PGPASSFILE"] = str(passfile)

    def by_hand() -> object:
        out = run_command(psql, "psql", env=env).stdout
        found["postgresql by hand"] = sum(int(line) for line in out.split())
        return out

    def upkeep() -> object:
        with PostgreSQLReview(database, TIMEOUT_S, bin_dir=server.bin_dir) as connection:
            found["postgresql upkeep"] = checked(audit_relations(connection, "bench", [], 5))

    return [
        Arm("psql -f 50 orphan queries", lambda: timed(by_hand, CpuOf.BOTH)[0]),
        Arm("upkeep audit (PostgreSQL)", lambda: timed(upkeep, CpuOf.BOTH)[0]),
    ]


def report(engine: str, arms: dict[str, Rounds], found: dict[str, int], repeat: int) -> None:
    (hand_label, hand), (up_label, up) = arms.items()
    orphans = {found[f"{engine} by hand"], found[f"{engine} upkeep"]}
    if len(orphans) != 1:
        raise BenchError(f"{engine}: the arms disagree on the orphans: {found}")
    ratio = up.median.wall_s / hand.median.wall_s
    print(
        f"\n{engine}: {orphans.pop()} orphans in {CHILDREN * KEYS} relations ({median_of(repeat)})"
    )
    print(f"  {hand_label:<28}{hand.median.text()}")
    print(f"  {up_label:<28}{up.median.text()}")
    print(
        f"  upkeep / by hand            {ratio:7.2f}x   target {TARGET}x  {TARGET.verdict(ratio)}"
    )
    print(rounds_line({hand_label: hand, up_label: up}))


def bench(args: argparse.Namespace) -> None:
    start = BenchmarkStart.now()
    with scratch_directory("upkeep-bench-audit-", keep=args.keep) as work:
        print(
            f"referential audit: {args.rows} rows, {CHILDREN * KEYS} relations, {args.repeat} "
            f"round(s), {os.cpu_count()} CPUs, python {sys.version.split()[0]}\nwork: {work}",
            flush=True,
        )
        found: dict[str, int] = {}
        note("generating the SQLite database (not timed)")
        path = work / "audit.db"
        build_sqlite(path, args.rows)
        sqlite_rounds = compare(sqlite_arms(path, found), args.repeat)
        with throwaway_cluster() as server:
            note("generating the PostgreSQL database (not timed)")
            build_postgresql(server, args.rows)
            script = work / "orphans.sql"
            script.write_text(orphan_queries())
            passfile = work / "pgpass"
            passfile.write_text(f"*:*:*:*:{server.password}\n")
            passfile.chmod(0o600)
            pg_rounds = compare(postgresql_arms(server, script, passfile, found), args.repeat)
    report("sqlite", sqlite_rounds, found, args.repeat)
    report("postgresql", pg_rounds, found, args.repeat)
    print(f"\n{start.closing_lines()}")


def main(argv: list[str] | None = None) -> int:
    parser = option_parser(__doc__)
    parser.add_argument("--rows", type=at_least(1000), default=1_000_000, help="rows in all [1e6]")
    parser.add_argument("--repeat", type=at_least(1), default=3, help="rounds of each arm [3]")
    parser.add_argument("--keep", action="store_true", help="keep the SQLite file")
    args = parser.parse_args(argv)
    return run_benchmark(lambda: bench(args), ClusterUnavailable)


if __name__ == "__main__":
    sys.exit(main())
