"""Responsible for `upkeep restore`: a backup of a database restored into a new target, checked
piece by piece and table by table, and the verdict printed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from upkeep.cli.console import print_err, print_out
from upkeep.cli.options import GlobalOptions

if TYPE_CHECKING:
    from upkeep.config import Config


@click.command("restore")
@click.argument("database")
@click.argument("target")
@click.option("--backup", "backup_id", metavar="ID", help="Restore this backup [default: newest].")
@click.pass_obj
def restore_command(
    options: GlobalOptions, database: str, target: str, backup_id: str | None
) -> int:
    """Restore a backup of DATABASE into TARGET and check it.

    \b
    TARGET is a new file for SQLite, the name of a new database for PostgreSQL; an existing
    one is never overwritten. Every stored piece's sha256 is checked on the way; then SQLite's
    integrity_check and foreign_key_check, or pg_restore's exit status, and the row counts of
    every table against the backup's manifest. Exit 0 when all checks pass, 1 when one fails.
    """
    return restore_database(options.load_config(), database, target, backup_id)


def restore_database(config: Config, database: str, target: str, backup_id: str | None) -> int:
    """Restore the newest backup of `database`, or `backup_id`, into `target`; exit code 0 when
    every check passes, 1 when one fails."""
    from upkeep.procedures.backup import restore

    outcome = restore(config, database, target, backup_id)
    print_out(f"restored backup {outcome.backup_id} of {database} into {outcome.report.target}")
    for note in outcome.report.notes:
        print_out(f"  note: {note}")
    for problem in outcome.problems:
        print_err(f"  problem: {problem}")
    print_out("all checks passed" if outcome.ok else "FAILED: the restored copy is not sound")
    return 0 if outcome.ok else 1
