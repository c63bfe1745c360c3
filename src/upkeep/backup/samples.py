"""Responsible for sample hashes: a seeded sample of rows of every table, hashed at backup time
from the same snapshot as the row counts, and hashed again on a restored copy, so that a copy
that opens and has the right number of rows but holds different data is caught.

A manifest records the seed, the rows asked per table and, per table, how many rows the sample
held and the sha256 of their content (`SampleHashes`). The way rows are chosen depends on the
engine (`method`): SQLite takes, for each of `rows` seeded rowids between the table's lowest and
highest, the first row at or after it (a few index lookups per table, whatever its size);
PostgreSQL does the same by a table's primary key when that is one integer column, and orders
any other table's rows by md5(seed || row) and takes the first `rows`
(`scripts/backup/postgresql-sample-hashes-key-seek.sql`; backups taken before December 2026 used
the md5 order for every table, `postgresql-sample-hashes.sql`, one scan per table, and are
verified with it). Both depend only on the data, so an equal copy gives equal hashes; the
key-seek method fixes the PostgreSQL settings that change how a row prints first, since a
database's own (ALTER DATABASE ... SET TimeZone, say) do not come with its restored copy.
Manifests written before sample hashes existed have none: their verification says "no sample
hashes" and checks the rest.
"""

from __future__ import annotations

import hashlib
import random
import re
import secrets
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from upkeep.backup.errors import BackupDamaged

__all__ = [
    "DEFAULT_SAMPLE_ROWS",
    "NO_SAMPLE_HASHES",
    "SampleHashes",
    "SampleSpec",
    "TableSample",
    "compare_samples",
    "new_sample_spec",
    "rowid_name",
    "sqlite_sample_hashes",
]

DEFAULT_SAMPLE_ROWS = 100
NO_SAMPLE_HASHES = "no sample hashes (the backup was taken before upkeep recorded them)"
SQLITE_METHOD = "sqlite-rowid-seek-v1"
# The md5 order for every table (one scan each): backups taken before December 2026.
POSTGRESQL_MD5_METHOD = "postgresql-md5-order-v1"
POSTGRESQL_METHOD = "postgresql-key-seek-v1"
_SEED = re.compile(r"[0-9a-f]{8,64}")


@dataclass(frozen=True)
class SampleSpec:
    """Which rows to sample: `rows` per table, chosen by `seed` (hex) the way `method` says."""

    seed: str
    rows: int
    method: str

    def __post_init__(self) -> None:
        if not _SEED.fullmatch(self.seed) or self.rows < 1:
            raise ValueError(f"sample spec: expected a hex seed and rows >= 1, got {self!r}")


@dataclass(frozen=True)
class TableSample:
    """The sample of one table: how many rows it held and the sha256 of their content."""

    rows: int
    sha256: str


@dataclass(frozen=True)
class SampleHashes:
    """What a manifest records: the spec and each table's sample."""

    spec: SampleSpec
    tables: dict[str, TableSample]

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.spec.seed,
            "rows_per_table": self.spec.rows,
            "method": self.spec.method,
            "tables": {
                name: {"rows": sample.rows, "sha256": sample.sha256}
                for name, sample in sorted(self.tables.items())
            },
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any], where: str) -> SampleHashes:
        try:
            spec = SampleSpec(str(value["seed"]), int(value["rows_per_table"]), value["method"])
            tables = {
                str(name): TableSample(int(table["rows"]), str(table["sha256"]))
                for name, table in value["tables"].items()
            }
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BackupDamaged(f"{where}: unreadable sample hashes ({exc})") from None
        return cls(spec, tables)


def new_sample_spec(rows: int, method: str) -> SampleSpec:
    """A fresh seed for one backup's sample (recorded in its manifest)."""
    return SampleSpec(secrets.token_hex(8), rows, method)


def compare_samples(
    expected: Mapping[str, TableSample], found: Mapping[str, TableSample], seed: str
) -> tuple[str, ...]:
    """One line per table whose restored sample differs from the recorded one, naming it."""
    problems = []
    for table, recorded in sorted(expected.items()):
        restored = found.get(table)
        if restored is None:
            problems.append(f"table {table}: in the backup's sample hashes, not restored")
        elif restored != recorded:
            problems.append(
                f"table {table}: sample hash differs (seed {seed}): restored "
                f"{restored.rows} sampled rows hashing to {restored.sha256[:16]}, the backup "
                f"recorded {recorded.rows} rows hashing to {recorded.sha256[:16]}"
            )
    problems += [
        f"table {table}: restored but not in the backup's sample hashes"
        for table in sorted(set(found) - set(expected))
    ]
    return tuple(problems)


# ---------------------------------------------------------------- SQLite


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _row_bytes(row: tuple[Any, ...]) -> bytes:
    # repr is exact for every SQLite value type (int, float, str, bytes, None).
    return repr(row).encode("utf-8", "surrogatepass") + b"\n"


def sqlite_sample_hashes(
    connection: sqlite3.Connection, spec: SampleSpec
) -> dict[str, TableSample]:
    """The sample of every table (internal `sqlite_*` and virtual tables excepted).

    TEXT is read as UTF-8 with undecodable bytes kept as surrogate escapes: SQLite stores
    whatever bytes it was given (a Latin-1 legacy import), and a value Python cannot decode
    would otherwise stop the backup. Valid text reads (and hashes) as it always did.
    """
    tables = connection.execute(
        "SELECT name, wr FROM pragma_table_list WHERE type = 'table' AND schema = 'main' "
        "AND name NOT LIKE 'sqlite!_%' ESCAPE '!' ORDER BY name"
    ).fetchall()
    text_factory, connection.text_factory = connection.text_factory, _any_text
    try:
        return {
            name: (
                _without_rowid_sample(connection, name, spec)
                if without_rowid
                else _rowid_sample(connection, name, spec)
            )
            for name, without_rowid in tables
        }
    finally:
        connection.text_factory = text_factory


def _any_text(value: bytes) -> str:
    return value.decode("utf-8", "surrogateescape")


def _rowid_sample(connection: sqlite3.Connection, table: str, spec: SampleSpec) -> TableSample:
    quoted = _quote(table)
    rowid = rowid_name(connection, table)
    if rowid is None:  # columns named rowid, oid and _rowid_: the rowid cannot be reached
        columns = connection.execute("SELECT count(*) FROM pragma_table_xinfo(?)", (table,))
        return _window_sample(
            connection, table, spec, ", ".join(str(i + 1) for i in range(columns.fetchone()[0]))
        )
    # Two subqueries: SQLite answers a lone min() or max() from the b-tree's ends, but scans
    # the whole table for both in one query (0.7 s for 2 million rows).
    low, high = connection.execute(
        f"SELECT (SELECT min({rowid}) FROM {quoted}), (SELECT max({rowid}) FROM {quoted})"
    ).fetchone()
    digest = hashlib.sha256()
    if low is None:
        return TableSample(0, digest.hexdigest())
    choose = random.Random(f"{spec.seed}:{table}")
    starts = sorted({choose.randint(low, high) for _ in range(spec.rows)})
    seek = f"SELECT {rowid}, * FROM {quoted} WHERE {rowid} >= ? ORDER BY {rowid} LIMIT 1"
    rows: dict[int, tuple[Any, ...]] = {}
    for start in starts:
        row = connection.execute(seek, (start,)).fetchone()
        if row is not None:
            rows[row[0]] = tuple(row)
    for rowid in sorted(rows):
        digest.update(_row_bytes(rows[rowid]))
    return TableSample(len(rows), digest.hexdigest())


def rowid_name(connection: sqlite3.Connection, table: str) -> str | None:
    """The name that reaches the table's rowid: `rowid`, unless a column is called that (then
    `oid` or `_rowid_`, as SQLite allows); None when columns have all three names."""
    columns = {
        str(name).lower()
        for (name,) in connection.execute("SELECT name FROM pragma_table_xinfo(?)", (table,))
    }
    return next((name for name in ("rowid", "oid", "_rowid_") if name not in columns), None)


def _without_rowid_sample(
    connection: sqlite3.Connection, table: str, spec: SampleSpec
) -> TableSample:
    # No rowid to seek by: a seeded window of `rows` rows in primary-key order.
    index = _quote(_primary_key_index(connection, table))
    keys = [name for _, _, name in sorted(connection.execute(f"PRAGMA index_info({index})"))]
    return _window_sample(connection, table, spec, ", ".join(_quote(key) for key in keys))


def _window_sample(
    connection: sqlite3.Connection, table: str, spec: SampleSpec, order: str
) -> TableSample:
    """A seeded window of `rows` rows in `order` (rows equal in it are equal bytes anyway)."""
    quoted = _quote(table)
    (count,) = connection.execute(f"SELECT count(*) FROM {quoted}").fetchone()
    start = random.Random(f"{spec.seed}:{table}").randrange(max(1, count - spec.rows + 1))
    rows = connection.execute(
        f"SELECT * FROM {quoted} ORDER BY {order} LIMIT ? OFFSET ?", (spec.rows, start)
    ).fetchall()
    digest = hashlib.sha256()
    for row in rows:
        digest.update(_row_bytes(tuple(row)))
    return TableSample(len(rows), digest.hexdigest())


def _primary_key_index(connection: sqlite3.Connection, table: str) -> str:
    for _, name, _, origin, _ in connection.execute(f"PRAGMA index_list({_quote(table)})"):
        if origin == "pk":
            return str(name)
    raise sqlite3.DatabaseError(f"table {table}: WITHOUT ROWID but no primary key index")
