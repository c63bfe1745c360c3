"""Responsible for the text upkeep's psql sessions send a PostgreSQL server and the text they
read back: the session's setup (no timeouts, read-write, UTF-8, only pg_catalog searched), the
row counts and sample hashes scripts with the settings that fix how a row prints, and a
`pg_restore --list` table of contents without the entries of extensions a restore must leave
out.
"""

from __future__ import annotations

import json
import re

from upkeep.backup.engines.interface import EngineError
from upkeep.backup.samples import (
    POSTGRESQL_MD5_METHOD,
    POSTGRESQL_METHOD,
    SampleSpec,
    TableSample,
)
from upkeep.sql import load_sql

__all__ = [
    "PRINTING_SETTINGS",
    "ROW_COUNTS_SCRIPT",
    "SAMPLE_HASHES_SCRIPTS",
    "SESSION_SETUP",
    "count_rows_sql",
    "parse_samples",
    "sample_hashes_sql",
    "without_extensions",
]

# Exact rows of every table, as one JSON object on one line (see the script's header).
ROW_COUNTS_SCRIPT = "db-health/postgresql/row-counts.sql"
# Sample hashes of every table, one JSON object on one line; psql variables upkeep_seed, _rows.
# One script per sample method: a backup is verified with the method it was taken with.
SAMPLE_HASHES_SCRIPTS = {
    POSTGRESQL_METHOD: "backup/postgresql-sample-hashes-key-seek.sql",
    POSTGRESQL_MD5_METHOD: "backup/postgresql-sample-hashes.sql",
}
# A sample hashes its rows as text, and these settings change how a row prints (a timestamptz
# in the session's time zone, an interval, a float, a bytea, money, a regclass by search_path).
# A database can carry its own (ALTER DATABASE ... SET), which pg_dump does not copy into the
# restored copy: the key-seek method fixes them in the sampling session first, so a sound backup
# hashes the same as its restore. The md5-order method sampled in the session's own settings
# and stays as it was, so that its backups still verify.
PRINTING_SETTINGS = {
    POSTGRESQL_METHOD: {
        "TimeZone": "UTC",
        "DateStyle": "ISO, MDY",
        "IntervalStyle": "postgres",
        "extra_float_digits": "1",
        "bytea_output": "hex",
        "lc_monetary": "C",
        "search_path": "pg_catalog",
        "standard_conforming_strings": "on",
    },
}


# pg_dump lifts these limits for its own session; upkeep's sessions beside it must too. A
# database or role may set them for its applications (ALTER DATABASE ... SET statement_timeout):
# counting every row and sampling take what the tables need, and the snapshot's session waits
# idle in its transaction while pg_dump runs. A role hardened with default_transaction_read_only
# could not create or drop the restore's database (the snapshot's transaction says READ ONLY
# itself).
# As pg_dump does, the sessions also search no schema a database owner can write to: the backup
# role is often a superuser, and a function the owner put in `public` that fits the arguments
# better than the built-in one (a `format(text, name, name)`) would otherwise run as that role,
# in the live database and in the restored copy. Row security off: a policy's condition would
# run as the backup role too; a table it would hide stops the count instead (pg_dump fails on
# it as well). The md5-order sample prints a reg* column as this search_path names it: a table
# with such a column, in a backup sampled before this setting, may no longer verify.
SESSION_SETUP = (
    # Names and JSON come back as UTF-8 whatever the database's encoding (LATIN1, say).
    "SET client_encoding = 'UTF8';\n"
    "SET search_path = pg_catalog;\n"
    "SET row_security = off;\n"
    "SET statement_timeout = 0;\n"
    "SET lock_timeout = 0;\n"
    "SET idle_in_transaction_session_timeout = 0;\n"
    "SET default_transaction_read_only = off;\n"
)


def count_rows_sql() -> str:
    # The query alone, ended by a newline: psql runs a statement once its line is complete.
    return load_sql(ROW_COUNTS_SCRIPT).query + "\n"


def sample_hashes_sql(spec: SampleSpec) -> str:
    script = SAMPLE_HASHES_SCRIPTS.get(spec.method)
    if script is None:
        raise EngineError(
            f"sample method {spec.method!r} is not one this upkeep knows; expected one of "
            f"{', '.join(sorted(SAMPLE_HASHES_SCRIPTS))} (a backup taken by a newer upkeep?)"
        )
    settings = PRINTING_SETTINGS.get(spec.method, {})
    # The seed is hex and the row count an int (SampleSpec checks): safe as psql variables.
    return (
        f"\\set upkeep_seed {spec.seed}\n\\set upkeep_rows {spec.rows}\n"
        + "".join(f"SET {name} = '{value}';\n" for name, value in settings.items())
        + load_sql(script).query
        + "\n"
    )


def parse_samples(line: str | bytes) -> dict[str, TableSample]:
    return {
        name: TableSample(int(value["rows"]), str(value["sha256"]))
        for name, value in json.loads(line).items()
    }


def without_extensions(listing: bytes, names: list[str]) -> bytes:
    """`pg_restore --list` output without the entries that create the extensions `names` or
    comment on them; a name is listed as it is, or quoted as an identifier where it needs to be
    (`COMMENT - EXTENSION "uuid-ossp"`)."""
    forms = [
        form
        for name in names
        for form in (name.encode(), b'"' + name.encode().replace(b'"', b'""') + b'"')
    ]
    left_out = re.compile(
        rb"^\d+; \d+ \d+ (?:EXTENSION - |COMMENT - EXTENSION )(?:"
        + b"|".join(re.escape(form) for form in forms)
        + rb")(?: |$)"
    )
    return b"\n".join(line for line in listing.splitlines() if not left_out.match(line)) + b"\n"
