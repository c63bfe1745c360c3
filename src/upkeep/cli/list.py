"""Responsible for `upkeep list`: every runbook with its cadence, last status, last run (a dry
run marked) and when it is next due (a retry, or retries used up, said), as a table or as JSON;
an invalid runbook is listed as such, its reason on stderr, and makes the exit code 2 (what
`run` would refuse).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from upkeep.cli.console import (
    STATE_COLUMNS,
    print_err,
    print_json,
    print_out,
    print_table,
    state_json,
    state_row,
)
from upkeep.cli.options import GlobalOptions, parse_at
from upkeep.errors import RunbookError

if TYPE_CHECKING:
    from upkeep.config import Config
    from upkeep.registry import InvalidRunbook

INVALID = "INVALID"


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.option("--at", metavar="ISO-TIME", help="Evaluate schedules at this time instead of now.")
@click.pass_obj
def list_command(options: GlobalOptions, as_json: bool, at: str | None) -> int:
    """List runbooks with cadence, last status, last run and next due."""
    config = options.load_config()
    return list_runbooks(config, parse_at(at, config), as_json=as_json)


def list_runbooks(config: Config, moment: datetime, *, as_json: bool) -> int:
    """Print the state of every runbook at `moment`; exit code 0, or 2 when some runbook is
    invalid (each named on stderr with its reason)."""
    from upkeep import plan, registry
    from upkeep.evidence import EvidenceStore
    from upkeep.recent_runs import recent_entries

    runbooks = registry.discover(config.runbooks_dir, config.root)
    cadences = {name: runbook.cadence for name, runbook in runbooks.items()}
    ledger = EvidenceStore(config.evidence_dir).ledger_path
    entries = recent_entries(ledger, config.state_dir, cadences, moment)
    states = plan.states(runbooks, entries, config, moment)
    invalid = list(runbooks.invalid.values())
    if as_json:
        listed = [state_json(state) for state in states] + [_invalid_json(i) for i in invalid]
        print_json(sorted(listed, key=lambda item: item["name"]))
    elif not states and not invalid:
        print_out(f"no runbooks under {config.runbooks_dir}")
    else:
        rows = [state_row(state) for state in states] + [_invalid_row(i) for i in invalid]
        print_table([STATE_COLUMNS, *sorted(rows)])
    for item in invalid:
        print_err(f"upkeep: error: {item.message}")
    return RunbookError.exit_code if invalid else 0


def _invalid_row(item: InvalidRunbook) -> tuple[str, ...]:
    return (item.name, "-", INVALID, "-", "-")


def _invalid_json(item: InvalidRunbook) -> dict[str, Any]:
    """An invalid runbook with the keys of a valid one, empty, and the reason in `invalid`."""
    keys = (
        "title",
        "cadence",
        "last_status",
        "last_run_id",
        "last_run_at",
        "last_dry_run",
        "last_waived",
        "due",
        "next_due",
        "period_errors",
        "retries",
        "gave_up",
    )
    return {"name": item.name, **dict.fromkeys(keys), "invalid": item.message}
