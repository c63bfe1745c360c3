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


REMOTE_OPTION = click.option(
    "--remote",
    metavar="NAME",
    help="The name of a git remote of the evidence repository to exchange the branch with "
    "(CI: origin).",
)


@evidence_group.command("commit")
@REMOTE_OPTION
@click.pass_obj
def evidence_commit_command(options: GlobalOptions, remote: str | None) -> int:
    """Commit the new run folders and the ledger to the evidence branch (evidence_git: in
    upkeep.yml), the ledger's head in the commit message; a signed tag when a key is set.
    Refused when an anchored run folder was changed or deleted. With --remote, the branch
    and the tag are then pushed there (never forced)."""
    from upkeep.evidence.anchor import commit_evidence
    from upkeep.evidence.anchor_remote import check_remote, push_branch
    from upkeep.evidence.git_repo import open_repo

    config = options.load_config()
    if remote is not None:  # a wrong one is refused before the commit, not after it
        check_remote(open_repo(config.evidence_dir, config.evidence_git), remote)
    result = commit_evidence(config.evidence_dir, config.evidence_git)
    where = f"branch {result.repo.branch} of {result.repo.git_dir}"
    anchor = result.anchor
    if anchor is None:
        held = f" (seq {result.previous.seq})" if result.previous else ""
        print_out(f"nothing new to anchor: {where} already holds this ledger{held}")
    else:
        signed = f", signed tag {anchor.tag}" if anchor.signed else ", unsigned"
        print_out(
            f"anchored ledger seq {anchor.seq} ({anchor.head[:12]}) and "
            f"{len(result.runs_added)} new run(s) as commit {anchor.commit[:12]} on {where}{signed}"
        )
    if remote is not None and (anchor is not None or result.previous is not None):
        push_branch(result.repo, remote, anchor.tag if anchor else None)
        print_out(f"pushed {result.repo.branch} to {remote}")
    return 0


@evidence_group.command("restore")
@REMOTE_OPTION
@click.pass_obj
def evidence_restore_command(options: GlobalOptions, remote: str | None) -> int:
    """Write the anchored ledger and run folders into the evidence folder where they are
    missing (a fresh checkout); nothing there is overwritten. With --remote, the branch is
    fetched from there first (fast-forward only); no anchor anywhere yet is not an error."""
    from upkeep.evidence.anchor_remote import check_remote, fetch_branch
    from upkeep.evidence.anchor_restore import restore_evidence
    from upkeep.evidence.git_repo import open_repo

    config = options.load_config()
    config.evidence_dir.mkdir(parents=True, exist_ok=True)
    repo = open_repo(config.evidence_dir, config.evidence_git)
    if remote is not None:
        check_remote(repo, remote)
    if remote is not None and not fetch_branch(repo, remote) and repo.tip() is None:
        print_out(f"no anchor yet on {remote}: nothing to restore (the first commit makes it)")
        return 0
    if repo.tip() is None:
        print_out(f"no anchor yet on branch {repo.branch} of {repo.git_dir}: nothing to restore")
        return 0
    anchor = restore_evidence(config.evidence_dir, config.evidence_git)
    print_out(
        f"restored the evidence of anchor {anchor.commit[:12]} (ledger seq {anchor.seq}) "
        f"into {config.evidence_dir}"
    )
    return 0
