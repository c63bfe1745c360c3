"""Responsible for `upkeep approve`: a person approves the change plan a system-updates run
wrote; the approval (who, when, why, the plan's sha256) is kept in the evidence ledger, where
`upkeep verify` covers it, and the next system-updates run applies exactly that plan.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from upkeep.cli.console import print_out
from upkeep.cli.options import GlobalOptions, person_name, reason_text

if TYPE_CHECKING:
    from upkeep.config import Config

DEFAULT_REASON = "approved as planned"


@click.command("approve")
@click.argument("run_id", metavar="RUN_ID")
@click.option("--by", "author", required=True, metavar="NAME", help="Who approves (on record).")
@click.option("--reason", default=DEFAULT_REASON, show_default=True, help="Why (on record).")
@click.pass_obj
def approve_command(options: GlobalOptions, run_id: str, author: str, reason: str) -> int:
    """Approve the change plan of the system-updates run RUN_ID.

    \b
    Example:
      upkeep approve 20261201T030000Z-system-updates-7f3a --by alice --reason "CHG-1234"
    """
    reason = reason_text(reason)
    return approve_plan(options.load_config(), run_id, author=author, reason=reason)


def approve_plan(config: Config, run_id: str, *, author: str, reason: str) -> int:
    """Record the approval; PlanError (exit 2, nothing recorded) when it cannot be approved."""
    from upkeep.evidence import EvidenceStore
    from upkeep.updates.approval import PlanError, approve

    author = person_name(author, "--by")
    if not reason.strip():
        raise PlanError("--reason: expected why, got nothing")
    store = EvidenceStore(config.evidence_dir)
    entry = approve(store, run_id, author=author, reason=reason.strip(), at=datetime.now(UTC))
    sha = entry.decision.details["plan_sha256"]
    print_out(
        f"approved the change plan of {run_id} (sha256 {sha}) as {author}; ledger line "
        f"{entry.seq}. The next `upkeep run system-updates` applies it."
    )
    return 0
