"""Responsible for `upkeep list`: every runbook with its cadence, last status, last run and
when it is next due, as a table or as JSON.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from upkeep.cli.console import format_time, print_json, print_out, print_table
from upkeep.cli.options import GlobalOptions, parse_at

if TYPE_CHECKING:
    from upkeep.config import Config
    from upkeep.plan import RunbookState


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.option("--at", metavar="ISO-TIME", help="Evaluate schedules at this time instead of now.")
@click.pass_obj
def list_command(options: GlobalOptions, as_json: bool, at: str | None) -> int:
    """List runbooks with cadence, last status, last run and next due."""
    config = options.load_config()
    return list_runbooks(config, parse_at(at, config), as_json=as_json)


def list_runbooks(config: Config, moment: datetime, *, as_json: bool) -> int:
    """Print the state of every runbook at `moment`; exit code 0."""
    from upkeep import plan, registry
    from upkeep.evidence import EvidenceStore

    states = plan.states(
        registry.discover(config.runbooks_dir, config.root),
        EvidenceStore(config.evidence_dir).entries(),
        config,
        moment,
    )
    if as_json:
        print_json([_state_json(state) for state in states])
        return 0
    if not states:
        print_out(f"no runbooks under {config.runbooks_dir}")
        return 0
    rows = [("NAME", "CADENCE", "LAST", "LAST RUN", "NEXT DUE")]
    for state in states:
        rows.append(
            (
                state.runbook.name,
                state.runbook.cadence,
                state.last_status.value if state.last_status else "never",
                format_time(state.last_run_at),
                ("DUE since " if state.due else "") + format_time(state.next_due),
            )
        )
    print_table(rows)
    return 0


def _state_json(state: RunbookState) -> dict[str, Any]:
    return {
        "name": state.runbook.name,
        "title": state.runbook.title,
        "cadence": state.runbook.cadence,
        "last_status": state.last_status.value if state.last_status else None,
        "last_run_id": state.last_run_id,
        "last_run_at": state.last_run_at.isoformat() if state.last_run_at else None,
        "due": state.due,
        "next_due": state.next_due.isoformat(),
    }
