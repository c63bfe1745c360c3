"""Responsible for `upkeep evidence commit|restore`: the evidence anchored in git (one commit of
the new run folders and the ledger on the evidence branch), and the anchored evidence written
back into an empty evidence folder (a fresh CI checkout).
"""

from __future__ import annotations

import click

from upkeep.cli.console import print_out
from upkeep.cli.options import GlobalOptions


@click.group("evidence")
def evidence_group() -> None:
    """Anchor the evidence in git, or restore it from its anchor."""


@evidence_group.command("commit")
@click.pass_obj
def evidence_commit_command(options: GlobalOptions) -> int:
    """Commit the new run folders and the ledger to the evidence branch (evidence_git: in
    upkeep.yml), the ledger's head in the commit message; a signed tag when a key is set.
    Refused when an anchored run folder was changed or deleted."""
    from upkeep.evidence.anchor import commit_evidence

    config = options.load_config()
    result = commit_evidence(config.evidence_dir, config.evidence_git)
    where = f"branch {result.repo.branch} of {result.repo.git_dir}"
    if result.anchor is None:
        held = f" (seq {result.previous.seq})" if result.previous else ""
        print_out(f"nothing new to anchor: {where} already holds this ledger{held}")
        return 0
    anchor = result.anchor
    signed = f", signed tag {anchor.tag}" if anchor.signed else ", unsigned"
    print_out(
        f"anchored ledger seq {anchor.seq} ({anchor.head[:12]}) and {len(result.runs_added)} "
        f"new run(s) as commit {anchor.commit[:12]} on {where}{signed}"
    )
    return 0


@evidence_group.command("restore")
@click.pass_obj
def evidence_restore_command(options: GlobalOptions) -> int:
    """Write the anchored ledger and run folders into the evidence folder where they are
    missing (a fresh checkout); nothing there is overwritten."""
    from upkeep.evidence.anchor import restore_evidence

    config = options.load_config()
    anchor = restore_evidence(config.evidence_dir, config.evidence_git)
    print_out(
        f"restored the evidence of anchor {anchor.commit[:12]} (ledger seq {anchor.seq}) "
        f"into {config.evidence_dir}"
    )
    return 0
