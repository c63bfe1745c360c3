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
from upkeep.errors import ConfigError

if TYPE_CHECKING:
    from upkeep.backup.stores import Verification
    from upkeep.config import Config


@click.command("backups")
@click.argument("database", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the manifests as JSON.")
@click.option(
    "--logs",
    "logs",
    is_flag=True,
    help="List the log archives (log_backup.dir) instead: of the log DATABASE names, or of all.",
)
@click.pass_obj
def backups_command(options: GlobalOptions, database: str | None, as_json: bool, logs: bool) -> int:
    """List the backups in the store (backup.dir), oldest first: of DATABASE, or of all.

    \b
    VERIFIED says whether the backup's latest check restored it and found it sound: `no`
    (its check failed, or its run was stopped before the check) is never built on, nor what
    `upkeep restore` takes by default; the next backup run checks it again. An incremental
    whose base is gone from the store (deleted, or damaged) shows `no (base ID missing)`,
    whatever its check said: it cannot be restored. Times are in
    upkeep.yml's time zone. A folder of the store that is not a readable backup is named on
    stderr and skipped. Without DATABASE, the log archives follow when log backups are
    configured; --logs lists only them (with --json, their manifests).
    """
    config = options.load_config()
    only_logs = config.backup.dir is None and config.log_backup.configured and database is None
    if logs or only_logs:
        return list_log_archives(config, database, as_json=as_json)
    code = list_backups(config, database, as_json=as_json)
    if database is None and not as_json and config.log_backup.configured:
        print_out("")
        list_log_archives(config, None, as_json=False)
    return code


def list_log_archives(config: Config, log: str | None, *, as_json: bool) -> int:
    """Print the log archives (of `log`), oldest lines first; exit code 0."""
    from upkeep.procedures.log_backup import log_archive_store

    if log is not None and log not in {source.name for source in config.logs}:
        names = ", ".join(source.name for source in config.logs) or "(none configured)"
        raise ConfigError(f"{config.path}: no log named {log!r}; expected one of {names}")
    store = log_archive_store(config)
    for entry in store.damaged():
        print_err(f"upkeep: damaged, skipped: {store.location}/{entry}")
    archives = [a for a in store.archives() if log is None or a.log.split(":", 1)[0] == log]
    if as_json:
        print_json([archive.to_json() for archive in archives])
        return 0
    if not archives:
        print_out(f"no log archives in {store.location}")
        return 0
    rows = [("LOG ARCHIVE", "LOG", "FIRST LINE", "LAST LINE", "LINES", "SIZE", "STORED")]
    for a in archives:
        first, last = (_log_time(config, when) for when in (a.first_line_at, a.last_line_at))
        size, stored = human_size(a.content_bytes), human_size(a.stored_bytes)
        rows.append((a.id, a.log, first, last, str(a.lines), size, stored))
    print_table(rows)
    return 0


def _log_time(config: Config, when: str | None) -> str:
    return format_time(datetime.fromisoformat(when).astimezone(config.tz)) if when else "-"


def list_backups(config: Config, database: str | None, *, as_json: bool) -> int:
    """Print the store's backups of `database` (ConfigError when it is not configured), or of
    every database; exit code 0."""
    from upkeep.backup.stores import missing_base
    from upkeep.procedures.backup import open_store

    if database is not None:
        config.database(database)
    store = open_store(config)
    manifests = store.manifests(database)
    for entry in store.damaged():
        print_err(f"upkeep: damaged, skipped: {store.location}/{entry}")
    by_id = {m.id: m for m in store.manifests()}
    if as_json:
        print_json(
            [
                {
                    **dataclasses.asdict(m),
                    "verified": _verification_json(store.verification(m.id)),
                    "missing_base": missing_base(m, by_id),
                }
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
        verified = _verified_word(store.verification(m.id), missing_base(m, by_id))
        rows.append((m.id, m.database, m.kind, created, size, stored, m.base or "-", verified))
    print_table(rows)
    return 0


def _verified_word(record: Verification | None, missing: str | None) -> str:
    if missing is not None:  # whatever its check said then, it cannot be restored now
        return f"no (base {missing} missing)"
    if record is None:
        return "no (not checked yet)"
    if not record.readable:
        return "no (check record unreadable)"
    return "yes" if record.ok else "no (check failed)"


def _verification_json(record: Verification | None) -> dict[str, Any] | None:
    return None if record is None else dataclasses.asdict(record)
