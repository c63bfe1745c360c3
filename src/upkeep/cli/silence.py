"""Responsible for `upkeep silence add|list|expire`: a person silences a runbook's or a check's
alerts until an expiry, with a reason, kept in the evidence ledger (who, when, why, until when);
`upkeep verify` covers it and alerting reads it (upkeep.alerts.suppression)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import click

from upkeep.cli.console import print_err, print_json, print_out, print_table
from upkeep.cli.options import AUTHOR_ENV, GlobalOptions, author_or_login, reason_text
from upkeep.errors import UpkeepError
from upkeep.plain_text import one_line

if TYPE_CHECKING:
    from upkeep.config import Config

AUTHOR_HELP = f"Who decides [default: ${AUTHOR_ENV}, else the login name]."


@click.group("silence")
def silence_group() -> None:
    """Silences: alerts about a runbook, a check or an alert fingerprint held back until an
    expiry, with a reason."""


@silence_group.command("add")
@click.argument("scope", type=click.Choice(["runbook", "check", "fingerprint"]))
@click.argument("name")
@click.option("--until", "until", required=True, help="4h, 2d, 1w, or a date-time.")
@click.option("--reason", required=True, help="Why the alerts may wait (kept on record).")
@click.option("--author", metavar="NAME", help=AUTHOR_HELP)
@click.pass_obj
def silence_add_command(
    options: GlobalOptions, scope: str, name: str, until: str, reason: str, author: str | None
) -> int:
    """Silence the alerts about runbook NAME, check NAME, or the alert fingerprint NAME (as
    alert messages and `upkeep ack` name it: alert:RUNBOOK), until --until.

    \b
    Examples:
      upkeep silence add runbook backup-verify --until 2d --reason "storage migration, INC-42"
      upkeep silence add check disk:/var --until 2026-12-24T08:00 --reason "new disk on order"
      upkeep silence add fingerprint alert:backup --until 4h --reason "restore test running"
    """
    from upkeep import registry
    from upkeep.alerts.escalate import FINGERPRINT_PREFIX
    from upkeep.alerts.suppression import parse_until, silence
    from upkeep.evidence import EvidenceStore

    config = options.load_config()
    now = datetime.now(config.tz)
    who = author_or_login(author)
    reason = reason_text(reason)
    if scope == "fingerprint" and not name.startswith(FINGERPRINT_PREFIX):
        raise UpkeepError(
            f"silence: expected an alert fingerprint such as {FINGERPRINT_PREFIX}backup (as alert "
            f"messages and `upkeep ack` name it), got {name!r}"
        )
    if scope in ("runbook", "fingerprint"):
        runbook = name.removeprefix(FINGERPRINT_PREFIX) if scope == "fingerprint" else name
        runbooks = registry.discover(config.runbooks_dir, config.root)
        if runbook not in runbooks and runbook not in runbooks.invalid:
            known = ", ".join(sorted(runbooks)) or "none"
            raise UpkeepError(f"silence: no runbook {runbook!r}; expected one of: {known}")
    try:
        when = parse_until(until, now)
        made = silence(
            EvidenceStore(config.evidence_dir),
            scope,
            name,
            until=when,
            author=who,
            reason=reason,
            now=now,
        )
    except ValueError as exc:
        raise UpkeepError(str(exc)) from None
    reported = _reported_checks(config) if scope == "check" else None
    if reported and name not in reported:
        print_err(
            f"upkeep: note: no runbook's last run reported a check named {name!r} (a typo?); "
            "the silence holds such a check back once a run reports it"
        )
    print_out(
        f"silenced {scope} {name} until {made.until.astimezone(config.tz):%Y-%m-%d %H:%M %Z} "
        f"as {made.author}; id {made.record_id}"
    )
    return 0


def _reported_checks(config: Config) -> set[str] | None:
    """The checks the last run of each runbook reported; None when no run can be read. A
    silence of another name is likely mistyped, yet kept: a check reported only when it fails
    has no name on record before it does."""
    from upkeep.evidence import EvidenceStore

    store = EvidenceStore(config.evidence_dir)
    try:
        last = {entry.runbook: entry for entry in store.entries(strict=False)}
        return {check.name for entry in last.values() for check in store.load(entry).checks}
    except (UpkeepError, OSError, ValueError):  # reading evidence is for a hint here, not a gate
        return None


@silence_group.command("list")
@click.option("--all", "show_all", is_flag=True, help="Also the expired ones.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_obj
def silence_list_command(options: GlobalOptions, show_all: bool, as_json: bool) -> int:
    """List the active silences (with --all, every silence ever made)."""
    from upkeep.alerts.suppression import silences
    from upkeep.evidence import EvidenceStore

    config = options.load_config()
    now = datetime.now(config.tz)
    shown = [s for s in silences(EvidenceStore(config.evidence_dir)) if show_all or s.active(now)]
    if as_json:
        print_json(
            [
                {
                    "id": s.record_id,
                    "scope": s.scope,
                    "name": s.name,
                    "author": s.author,
                    "reason": s.reason,
                    "since": s.at.isoformat(),
                    "until": s.ends.isoformat(),
                    "active": s.active(now),
                }
                for s in shown
            ]
        )
        return 0
    if not shown:
        print_out("no active silences" if not show_all else "no silences")
        return 0
    rows = [
        (
            s.record_id,
            f"{s.scope} {s.name}",
            f"{s.ends.astimezone(config.tz):%Y-%m-%d %H:%M %Z}",
            "active" if s.active(now) else "expired",
            one_line(s.author),
            one_line(s.reason),
        )
        for s in shown
    ]
    print_table([("ID", "SILENCES", "UNTIL", "STATE", "BY", "REASON"), *rows])
    return 0


@silence_group.command("expire")
@click.argument("record_id", metavar="ID")
@click.option("--reason", default="", help="Why it ends early (kept on record).")
@click.option("--author", metavar="NAME", help=AUTHOR_HELP)
@click.pass_obj
def silence_expire_command(
    options: GlobalOptions, record_id: str, reason: str, author: str | None
) -> int:
    """End the silence ID (see `upkeep silence list`) now: its alerts are sent again."""
    from upkeep.alerts.suppression import expire_silence
    from upkeep.evidence import EvidenceStore

    config = options.load_config()
    who = author_or_login(author)
    reason = reason_text(reason)
    try:
        ended = expire_silence(
            EvidenceStore(config.evidence_dir),
            record_id,
            author=who,
            reason=reason,
            now=datetime.now(config.tz),
        )
    except ValueError as exc:
        raise UpkeepError(str(exc)) from None
    print_out(f"expired the silence of {ended.scope} {ended.name} ({record_id})")
    return 0
