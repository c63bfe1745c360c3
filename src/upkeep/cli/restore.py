"""Responsible for `upkeep restore`: a backup of a database (the newest verified one unless one
is named) restored into a new target, checked piece by piece and table by table, and the verdict
printed with which backup was taken.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import click

from upkeep.cli.console import format_time, print_err, print_out
from upkeep.cli.options import GlobalOptions

if TYPE_CHECKING:
    from upkeep.config import Config
    from upkeep.procedures.restore import ManualRestore


@click.command("restore")
@click.argument("database")
@click.argument("target")
@click.option(
    "--backup", "backup_id", metavar="ID", help="Restore this backup [default: newest verified]."
)
@click.option(
    "--log",
    "is_log",
    is_flag=True,
    help="DATABASE names a log: restore one of its archives (the newest unless --backup) "
    "into the new file TARGET.",
)
@click.pass_obj
def restore_command(
    options: GlobalOptions, database: str, target: str, backup_id: str | None, is_log: bool
) -> int:
    """Restore a backup of DATABASE into TARGET and check it.

    \b
    TARGET is a new file for SQLite, the name of a new database for PostgreSQL; an existing
    one is never overwritten. Without --backup, the newest verified backup is taken (one whose
    check failed or never ran is passed over, and named). Every stored piece's sha256 is
    checked on the way; then SQLite's integrity_check and foreign_key_check, or pg_restore's
    exit status, and the row counts and sample hashes of every table against the backup's
    manifest.
    Exit 0 when all checks pass; 1 when one fails (a corrupt or missing piece included);
    2 when TARGET exists, the backup is unknown or none is verified (nothing was restored);
    3 when the restore could not be done (the server unreachable, a full disk).
    With --log, DATABASE is a log's name: its archive's content (checked: the stored sha256,
    the content's sha256 and line count) is written to the new file TARGET.
    """
    if not target.strip():  # as a path, the current folder; as a database name, none
        raise click.BadParameter(
            "expected a new file (SQLite, or with --log) or a new database's name (PostgreSQL), "
            f"got {target!r}",
            param_hint="TARGET",
        )
    if is_log:
        return restore_log(options.load_config(), database, target, backup_id)
    return restore_database(options.load_config(), database, target, backup_id)


def restore_log(config: Config, log: str, target: str, archive_id: str | None) -> int:
    """Restore the newest archive of `log`, or `archive_id`, into the new file `target`; exit
    code 0 when it checks out, 1 when the archive is damaged (nothing written), 2 when `target`
    exists or there is no such archive."""
    from pathlib import Path

    from upkeep.backup.engines.interface import RestoreTargetError
    from upkeep.backup.logs.archive import restore_archive
    from upkeep.procedures.log_backup import choose_log_archive, log_archive_store

    path = Path(target).absolute()
    if path.exists() or path.is_symlink():
        raise RestoreTargetError(f"{path} exists already; expected a new file to restore into")
    if not path.parent.is_dir():
        raise RestoreTargetError(f"{path.parent} is not a folder; expected a new file in one")
    store = log_archive_store(config)
    archive = choose_log_archive(store, log, archive_id)
    try:
        problems = restore_archive(store, archive, path)
    except FileExistsError as exc:
        raise RestoreTargetError(str(exc)) from None
    span = f"lines from {archive.first_line_at or '?'} to {archive.last_line_at or '?'}"
    if problems:
        for problem in problems:
            print_err(f"  problem: {problem}")
        print_out(f"FAILED: log archive {archive.id} is damaged; nothing was restored")
        return 1
    print_out(
        f"restored log archive {archive.id} of {log} ({archive.lines} lines, {span}; "
        f"archived from {archive.source}) into {path}"
    )
    print_out("all checks passed")
    return 0


def restore_database(config: Config, database: str, target: str, backup_id: str | None) -> int:
    """Restore the newest verified backup of `database`, or `backup_id`, into `target`; exit
    code 0 when every check passes, 1 when one fails (a damaged backup included)."""
    from upkeep.backup.errors import BackupDamaged
    from upkeep.procedures.restore import restore

    try:
        restored = restore(config, database, target, backup_id)
    except BackupDamaged as exc:
        print_err(f"  problem: {exc}")
        print_out("FAILED: the backup is damaged; nothing was restored")
        return 1
    _print_choice(config, database, restored)
    outcome = restored.outcome
    for note in outcome.report.notes:
        print_out(f"  note: {note}")
    if outcome.samples_note:
        print_out(f"  note: {outcome.samples_note}")
    for problem in outcome.problems:
        print_err(f"  problem: {problem}")
    print_out("all checks passed" if outcome.ok else "FAILED: the restored copy is not sound")
    return 0 if outcome.ok else 1


def _print_choice(config: Config, database: str, restored: ManualRestore) -> None:
    choice = restored.choice
    created = format_time(datetime.fromisoformat(choice.manifest.created).astimezone(config.tz))
    print_out(
        f"restored backup {choice.manifest.id} of {database} (taken {created}; {choice.chosen}) "
        f"into {restored.outcome.report.target}"
    )
    if choice.verification is None:
        print_out("  note: this backup was never checked before this restore")
    elif not choice.verification.ok:
        print_out(f"  note: this backup failed its last check: {choice.verification.detail}")
    if choice.newer_unverified:
        print_out(
            f"  note: passed over {len(choice.newer_unverified)} newer unverified "
            f"backup(s): {', '.join(choice.newer_unverified)}"
        )
    for entry in restored.damaged:
        print_err(f"  damaged, skipped: {entry}")
