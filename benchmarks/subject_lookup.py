"""What the data-subject lookup (`upkeep subject find`) costs: side by side with the queries a
person writes by hand for the same request.

One generated SQLite file of `--rows` rows (1,000,000 by default) in 20 tables of 6 text columns
each (e-mail addresses, names, notes), the subject's address planted in a known number of rows
of every table, in different columns and cases. In the same run, alternating the order each
round, it measures:

1. by hand: `sqlite3 FILE` running one query per table, the best a person would write (every
   text column tested in one `WHERE ... OR ...`, `instr(lower(col), lower('address'))`, as upkeep
   does: a `LIKE '%...%'` would read `_` and `%` in an address as wildcards);
2. upkeep: `find_subject_rows` over its read-only connection (the catalog read, then one query
   per table that also says which columns matched).

Both arms must find the same rows, or the figures mean nothing and it fails. It prints wall and
CPU times (this process and its children), the ratio (the issue sets no target for it: a
figure to watch) and the load average before and after. A measurement, not a test: exit 0
whatever the figures, 1 when something failed.

    nox -s bench -- subject_lookup --repeat 3
    python benchmarks/subject_lookup.py --rows 100000      # a quicker look from a dev install
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

from upkeep.compliance.dialects import dialect_for
from upkeep.compliance.subject_lookup import find_subject_rows
from upkeep.dbreview.sqlite import SQLiteReview

TABLES = 20
COLUMNS = ("email", "backup_email", "first_name", "last_name", "note", "referrer")
SUBJECT = "pat.subject_4417@dsr-test.example"
PLANTED_PER_TABLE = 5  # rows of each table holding the subject, in a column chosen by the row
TIMEOUT_S = 600.0


def build(path: Path, rows: int) -> int:
    """The file, and how many rows hold the subject."""
    per_table = rows // TABLES
    planted = 0
    with sqlite3.connect(path) as db:
        for t in range(TABLES):
            columns = ", ".join(f"{c} TEXT" for c in COLUMNS)
            db.execute(f"CREATE TABLE t{t} (id INTEGER PRIMARY KEY, {columns})")
            db.execute(
                f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < "
                f"{per_table}) INSERT INTO t{t} SELECT i, 'user' || i || '@mail.example', "
                "'u' || i || '@backup.example', 'Ada' || (i % 97), 'Lovelace' || (i % 89), "
                "'wrote about order ' || i, 'ref-' || (i * 7) FROM n"
            )
            step = max(per_table // PLANTED_PER_TABLE, 1)
            for i in range(step // 2 + t, per_table + 1, step):
                column = COLUMNS[i % len(COLUMNS)]
                value = SUBJECT.upper() if i % 2 else f"mail from {SUBJECT} today"
                db.execute(f"UPDATE t{t} SET {column} = ? WHERE id = ?", (value, i))
                planted += 1
    return planted


def by_hand_script() -> str:
    lines = []
    for t in range(TABLES):
        condition = " OR ".join(f"instr(lower({c}), lower('{SUBJECT}')) > 0" for c in COLUMNS)
        lines.append(f"SELECT 't{t}', id FROM t{t} WHERE {condition};")
    return "\n".join(lines) + "\n"


def arms(path: Path, script: Path, found: dict[str, set[tuple[str, int]]]) -> list[Arm]:
    def by_hand() -> object:
        out = run_command(["sqlite3", "-readonly", str(path), f".read {script}"], "sqlite3").stdout
        found["by hand"] = {(t, int(i)) for t, i in (line.split("|") for line in out.split())}
        return out

    def upkeep() -> object:
        with SQLiteReview(path, TIMEOUT_S) as connection:
            rows = find_subject_rows(connection, dialect_for("sqlite"), SUBJECT)
        found["upkeep"] = {(row.table, row.key["id"]) for row in rows}

    return [
        Arm("sqlite3, a query per table", lambda: timed(by_hand, CpuOf.BOTH)[0]),
        Arm("upkeep subject lookup", lambda: timed(upkeep, CpuOf.BOTH)[0]),
    ]


def report(
    taken: dict[str, Rounds], found: dict[str, set[tuple[str, int]]], planted: int, repeat: int
) -> None:
    if not planted or found["by hand"] != found["upkeep"] or len(found["upkeep"]) != planted:
        raise BenchError(
            f"the arms disagree: by hand {len(found['by hand'])} rows, upkeep "
            f"{len(found['upkeep'])}, planted {planted}"
        )
    (hand_label, hand), (up_label, up) = taken.items()
    ratio = up.median.wall_s / hand.median.wall_s
    print(f"\n{planted} rows found in {TABLES} tables ({median_of(repeat)})")
    print(f"  {hand_label:<30}{hand.median.text()}")
    print(f"  {up_label:<30}{up.median.text()}")
    print(f"  upkeep / by hand              {ratio:7.2f}x   (no target: a figure to watch)")
    print(rounds_line(taken))


def bench(args: argparse.Namespace) -> None:
    start = BenchmarkStart.now()
    with scratch_directory("upkeep-bench-subject-", keep=args.keep) as work:
        print(
            f"subject lookup: {args.rows} rows in {TABLES} tables of {len(COLUMNS)} text "
            f"columns, {args.repeat} round(s), {os.cpu_count()} CPUs, python "
            f"{sys.version.split()[0]}\nwork: {work}",
            flush=True,
        )
        note("generating the SQLite database (not timed)")
        path = work / "subjects.db"
        planted = build(path, args.rows)
        script = work / "by-hand.sql"
        script.write_text(by_hand_script())
        found: dict[str, set[tuple[str, int]]] = {}
        taken = compare(arms(path, script, found), args.repeat)
    report(taken, found, planted, args.repeat)
    print(f"\n{start.closing_lines()}")


def main(argv: list[str] | None = None) -> int:
    parser = option_parser(__doc__)
    parser.add_argument("--rows", type=at_least(TABLES * 10), default=1_000_000, help="rows [1e6]")
    parser.add_argument("--repeat", type=at_least(1), default=3, help="rounds of each arm [3]")
    parser.add_argument("--keep", action="store_true", help="keep the SQLite file")
    args = parser.parse_args(argv)
    return run_benchmark(lambda: bench(args))


if __name__ == "__main__":
    sys.exit(main())
