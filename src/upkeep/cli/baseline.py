"""Responsible for `upkeep baseline accept`: a person accepts the permission inventory a
security review run took as the new baseline, with a reason, kept in the evidence ledger."""

from __future__ import annotations

import click

from upkeep.cli.console import print_out
from upkeep.cli.options import GlobalOptions, person_name, reason_text


@click.group("baseline")
def baseline_group() -> None:
    """The security review's permission baseline."""


@baseline_group.command("accept")
@click.argument("run_id")
@click.option("--by", "author", required=True, metavar="NAME", help="Who accepts (on record).")
@click.option("--reason", required=True, help="Why the drift is accepted (on record).")
@click.pass_obj
def accept_command(options: GlobalOptions, run_id: str, author: str, reason: str) -> int:
    """Accept the inventory of the security-review run RUN_ID as the new baseline.

    \b
    Example:
      upkeep baseline accept 20261205T021500Z-security-review-7f3a --by alice \\
        --reason "bob joins the deploy rota (change 4711)"
    """
    from upkeep.security.accept import accept_baseline

    config = options.load_config()
    author = person_name(author, "--by")
    reason = reason_text(reason)
    accepted = accept_baseline(config, run_id, author=author, reason=reason)
    print_out(
        f"baseline {config.security.baseline} now holds the inventory of {run_id} "
        f"({accepted.drifts} changes accepted) by {author}; ledger line {accepted.seq}"
    )
    return 0
