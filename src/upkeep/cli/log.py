"""Responsible for `upkeep log add|list`: the maintenance log, an entry per review and an entry
per thing a person did by hand (`log-entry` decisions in the evidence ledger, tied to a run)."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from upkeep.cli.console import print_json, print_out
from upkeep.cli.options import GlobalOptions, person_name, reason_text
from upkeep.errors import UpkeepError
from upkeep.plain_text import one_line


@click.group("log")
def log_group() -> None:
    """The maintenance log: what was done, by whom, about which run."""


@log_group.command("add")
@click.argument("text")
@click.option("--run", "run_id", required=True, metavar="RUN_ID", help="The run it concerns.")
@click.option("--by", "author", required=True, metavar="NAME", help="Who did it.")
@click.pass_obj
def log_add_command(options: GlobalOptions, text: str, run_id: str, author: str) -> int:
    """Add TEXT to the maintenance log, about the run RUN_ID, as NAME.

    \b
    Example:
      upkeep log add "rotated the app logs by hand" --run 20261204T031500Z-cleaning-7f3a --by alice
    """
    from upkeep.evidence import EvidenceStore
    from upkeep.records import Decision
    from upkeep.review.maintenance_log import LOG_ENTRY

    config = options.load_config()
    text = reason_text(text, "TEXT")
    if not text:
        raise UpkeepError("TEXT: expected what was done, got nothing")
    author = person_name(author, "--by")
    store = EvidenceStore(config.evidence_dir)
    if not any(entry.run_id == run_id for entry in store.entries()):
        raise UpkeepError(f"--run: no run {run_id!r} in the evidence; `upkeep list` names runs")
    decision = Decision(LOG_ENTRY, run_id, author, datetime.now(UTC), text.strip())
    entry = store.record_decision(decision)
    print_out(f"logged for {run_id} by {author}; ledger line {entry.seq}")
    return 0


@log_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON for scripts.")
@click.pass_obj
def log_list_command(options: GlobalOptions, as_json: bool) -> int:
    """Every maintenance-log entry, oldest first."""
    from upkeep.evidence import EvidenceStore
    from upkeep.review.evidence_pass import read_evidence
    from upkeep.review.maintenance_log import log_entries

    config = options.load_config()
    entries = log_entries(read_evidence(EvidenceStore(config.evidence_dir)).events)
    if as_json:
        print_json(
            [
                {
                    "at": e.at.astimezone(config.tz).isoformat(),
                    "by": e.by,
                    "text": e.text,
                    "run": e.run_id,
                }
                for e in entries
            ]
        )
        return 0
    for e in entries:
        when = f"{e.at.astimezone(config.tz):%Y-%m-%d %H:%M}"
        print_out(f"{when} {one_line(e.by)} ({e.run_id}): {one_line(e.text)}")
    if not entries:
        print_out("the maintenance log is empty")
    return 0
