"""Responsible for `upkeep backups`: the backups in the store, oldest first, whether each one is
verified, as a table or as JSON; damaged folders named on stderr.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from upkeep.cli.console import (
    format_time,
    human_size,
    print_err,
    print_json,
    print_out,
    print_table,
)
from upkeep.cli.options import GlobalOptions

if TYPE_CHECKING:
    from upkeep.backup.stores import Verification
    from upkeep.config import Config


@click.command("backups")
@click.argument("database", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the manifests as JSON.")
@click.pass_obj
def backups_command(options: GlobalOptions, database: str | None, as_json: bool) -> int:
    """List the backups in the store (backup.dir), oldest first: of DATABASE, or of all.

    \b
    VERIFIED says whether the backup's latest check restored it and found it sound: `no`
    (its check failed, or its run was stopped before the check) is never built on, nor what
    `upkeep restore` takes by default; the next backup run checks it again. Times are in
    upkeep.yml's time zone. A folder of the store that is not a readable backup is named on
    stderr and skipped.
    """
    return list_backups(options.load_config(), database, as_json=as_json)


def list_backups(config: Config, database: str | None, *, as_json: bool) -> int:
    """Print the store's backups of `database` (ConfigError when it is not configured), or of
    every database; exit code 0."""
    from upkeep.procedures.backup import open_store

    if database is not None:
        config.database(database)
    store = open_store(config)
    manifests = store.manifests(database)
    for entry in store.damaged():
        print_err(f"upkeep: damaged, skipped: {store.location}/{entry}")
    if as_json:
        print_json(
            [
                {**dataclasses.asdict(m), "verified": _verification_json(store.verification(m.id))}
                for m in manifests
            ]
        )
        return 0
    if not manifests:
        print_out(f"no backups in {config.backup.dir}")
        return 0
    rows = [("ID", "DATABASE", "KIND", "CREATED", "SIZE", "STORED", "BASE", "VERIFIED")]
    for m in manifests:
        created = format_time(datetime.fromisoformat(m.created).astimezone(config.tz))
        size, stored = human_size(m.size), human_size(m.stored_bytes)
        verified = _verified_word(store.verification(m.id))
        rows.append((m.id, m.database, m.kind, created, size, stored, m.base or "-", verified))
    print_table(rows)
    return 0


def _verified_word(record: Verification | None) -> str:
    if record is None:
        return "no (not checked yet)"
    return "yes" if record.ok else "no (check failed)"


def _verification_json(record: Verification | None) -> dict[str, Any] | None:
    return None if record is None else dataclasses.asdict(record)
