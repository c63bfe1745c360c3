"""Responsible for `upkeep backups`: the backups in the store, oldest first, as a table or as
JSON.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import click

from upkeep.cli.console import human_size, print_json, print_out, print_table
from upkeep.cli.options import GlobalOptions

if TYPE_CHECKING:
    from upkeep.config import Config


@click.command("backups")
@click.argument("database", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the manifests as JSON.")
@click.pass_obj
def backups_command(options: GlobalOptions, database: str | None, as_json: bool) -> int:
    """List the backups in the store (backup.dir), oldest first: of DATABASE, or of all."""
    return list_backups(options.load_config(), database, as_json=as_json)


def list_backups(config: Config, database: str | None, *, as_json: bool) -> int:
    """Print the store's backups of `database` (ConfigError when it is not configured), or of
    every database; exit code 0."""
    from upkeep.procedures.backup import open_store

    if database is not None:
        config.database(database)
    manifests = open_store(config).manifests(database)
    if as_json:
        print_json([dataclasses.asdict(manifest) for manifest in manifests])
        return 0
    if not manifests:
        print_out(f"no backups in {config.backup.dir}")
        return 0
    rows = [("ID", "DATABASE", "KIND", "CREATED", "SIZE", "STORED", "BASE")]
    for m in manifests:
        size, stored = human_size(m.size), human_size(m.stored_bytes)
        rows.append((m.id, m.database, m.kind, m.created, size, stored, m.base or "-"))
    print_table(rows)
    return 0
