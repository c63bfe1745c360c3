"""Responsible for `upkeep subject find`: the data-subject lookup for an access or erasure
request, every row of every configured database (or the ones named) that holds the subject's
identifier, read-only; a table of database, table, row key and the columns holding it, or JSON
(with `--rows`, the rows' values too, for the answer to an access request)."""

from __future__ import annotations

import math
from typing import Any

import click

from upkeep.cli.console import print_json, print_out, print_table
from upkeep.cli.options import GlobalOptions


@click.group("subject")
def subject_group() -> None:
    """Data-subject requests (GDPR access and erasure)."""


@subject_group.command("find")
@click.argument("identifier")
@click.option(
    "--database", "names", multiple=True, metavar="NAME", help="Only this database (repeatable)."
)
@click.option("--rows", "with_rows", is_flag=True, help="With each row's values (JSON only).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--statement-timeout",
    "timeout_s",
    type=click.FloatRange(min=0, min_open=True),
    callback=lambda ctx, param, value: _finite_seconds(value),
    metavar="SECONDS",
    help="Per query (default: compliance.statement_timeout_s); a large table may need more.",
)
@click.pass_obj
def find_command(
    options: GlobalOptions,
    identifier: str,
    names: tuple[str, ...],
    with_rows: bool,
    as_json: bool,
    timeout_s: float | None,
) -> int:
    """List every row that holds IDENTIFIER (an e-mail address, a phone number, a customer
    number), in any text column of any table, ignoring case. Reads only.

    \b
    Example:
      upkeep subject find jane.doe@example.com
      upkeep subject find jane.doe@example.com --json --rows > access-request-4711.json
    """
    from upkeep.compliance.dialects import dialect_for
    from upkeep.compliance.subject_lookup import find_subject_rows
    from upkeep.dbreview.connect import connect

    if len(identifier.strip()) < 3:
        raise click.BadParameter(
            "expected an identifier of 3 characters or more", param_hint="IDENTIFIER"
        )
    if with_rows and not as_json:
        raise click.UsageError("--rows prints the rows' values as JSON: add --json")
    config = options.load_config()
    databases = [config.database(name) for name in names] or list(config.databases)
    found: list[dict[str, Any]] = []
    for database in databases:
        with connect(database, timeout_s or config.compliance.statement_timeout_s) as connection:
            for row in find_subject_rows(
                connection, dialect_for(database.engine), identifier, with_rows=with_rows
            ):
                entry = {"database": database.name, "table": row.table, "key": row.key}
                entry["columns"] = list(row.columns)
                if with_rows:
                    entry["row"] = {name: _shown(value) for name, value in row.row.items()}
                found.append(entry)
    if as_json:
        print_json(found)
        return 0
    if not found:
        print_out(f"no row of {', '.join(d.name for d in databases)} holds the identifier")
        return 0
    print_table(
        [("DATABASE", "TABLE", "ROW", "COLUMNS")]
        + [
            (
                entry["database"],
                entry["table"],
                ", ".join(f"{k}={v}" for k, v in entry["key"].items()),
                ", ".join(entry["columns"]),
            )
            for entry in found
        ]
    )
    tables = {(entry["database"], entry["table"]) for entry in found}
    print_out(f"{len(found)} rows in {len(tables)} tables")
    return 0


def _shown(value: Any) -> Any:
    """A column's value as JSON holds it: binary as `\\x` and its hex digits, as psql shows it."""
    return "\\x" + value.hex() if isinstance(value, bytes | bytearray | memoryview) else value


def _finite_seconds(value: float | None) -> float | None:
    """--statement-timeout, a finite number: nan passes FloatRange (it compares false with
    anything) and inf has no milliseconds for PostgreSQL."""
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(
            f"expected a finite number of seconds > 0, got {value}",
            param_hint="--statement-timeout",
        )
    return value
