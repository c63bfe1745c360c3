"""Responsible for `upkeep findings`: the findings still open (with `--all`, the closed ones too
and how each was closed), as a table or as JSON, so the engineer on the rota knows what needs a
look and what `upkeep ack` can take.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from upkeep.cli.console import format_time, print_json, print_out, print_table
from upkeep.cli.options import GlobalOptions
from upkeep.plain_text import one_line

if TYPE_CHECKING:
    from datetime import tzinfo

    from upkeep.config import Config
    from upkeep.findings import FindingState

MESSAGE_WIDTH = 80


@click.command("findings")
@click.option("--all", "show_all", is_flag=True, help="Also the closed ones, and how each closed.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_obj
def findings_command(options: GlobalOptions, show_all: bool, as_json: bool) -> int:
    """List the open findings: what runs found that still needs a look.

    \b
    A finding stays open until a later run of its runbook no longer reports it (a sticky one,
    such as a log error, stays until cleared), a run clears it, or someone acknowledges it
    with `upkeep ack KEY --reason ...`.
    """
    return list_findings(options.load_config(), show_all=show_all, as_json=as_json)


def list_findings(config: Config, *, show_all: bool, as_json: bool) -> int:
    """Print the findings of the evidence under `config`; exit code 0."""
    from upkeep.evidence import EvidenceStore
    from upkeep.findings import events_in, follow

    states = [
        s for s in follow(events_in(EvidenceStore(config.evidence_dir))) if show_all or s.open
    ]
    if as_json:
        print_json([_state_json(state, config.tz) for state in states])
        return 0
    if not states:
        print_out("no open findings" if not show_all else "no findings")
        return 0
    rows = [("SEVERITY", "RUNBOOK", "KEY", "SINCE", "LAST SEEN", "SEEN", "FINDING")]
    if show_all:
        rows[0] += ("CLOSED",)
    for state in states:
        row = (
            state.severity.word,
            state.runbook,
            state.key,
            format_time(state.first_seen.astimezone(config.tz)),
            format_time(state.last_seen.astimezone(config.tz)),
            f"{state.times_seen}x",
            _cut(state.message),
        )
        if show_all:
            row += (_closure(state, config),)
        rows.append(row)
    print_table(rows)
    return 0


def _cut(text: str) -> str:
    text = one_line(text)  # an OSC sequence in a finding's text cannot retitle the terminal
    return text if len(text) <= MESSAGE_WIDTH else text[: MESSAGE_WIDTH - 1] + "…"


def _closure(state: FindingState, config: Config) -> str:
    if state.closed is None:
        return "open"
    when = format_time(state.closed.at.astimezone(config.tz))
    return f"{state.closed.how} {when} by {state.closed.by}"


def _state_json(state: FindingState, tz: tzinfo) -> dict[str, Any]:
    """A finding for scripts, its times in the configured zone as `list --json` gives them."""
    closed = state.closed
    return {
        "runbook": state.runbook,
        "key": state.key,
        "severity": state.severity.value,
        "message": state.message,
        "sticky": state.sticky,
        "first_seen": state.first_seen.astimezone(tz).isoformat(),
        "last_seen": state.last_seen.astimezone(tz).isoformat(),
        "last_run_id": state.last_run_id,
        "times_seen": state.times_seen,
        "open": state.open,
        "closed": None
        if closed is None
        else {
            "how": closed.how.value,
            "at": closed.at.astimezone(tz).isoformat(),
            "by": closed.by,
            "reason": closed.reason,
        },
    }
