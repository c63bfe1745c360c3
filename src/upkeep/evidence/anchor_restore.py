"""Responsible for `upkeep evidence restore`: the newest anchor's ledger and run folders written
into an evidence folder that lacks them (a fresh CI checkout), byte for byte as anchored, never
overwriting a file that is there.
"""

from __future__ import annotations

import os
from pathlib import Path

from upkeep.config.evidence_git import EvidenceGit
from upkeep.errors import EvidenceError
from upkeep.evidence.anchor import Anchor, anchor_of
from upkeep.evidence.git_repo import REGULAR_MODES, open_repo
from upkeep.evidence.layout import LEDGER, RUNS


def restore_evidence(evidence_dir: Path, settings: EvidenceGit) -> Anchor:
    """Write the newest anchor's ledger and run folders into `evidence_dir` (a fresh checkout
    has none). Only missing files are written: EvidenceError, and nothing written, when the
    folder holds a ledger that does not extend the anchored one; a file that is there already
    stays as it is (`upkeep verify --anchor` says whether it matches)."""
    evidence_dir = evidence_dir.absolute()
    evidence_dir.mkdir(parents=True, exist_ok=True)
    repo = open_repo(evidence_dir, settings)
    tip = repo.tip()
    if tip is None:
        raise EvidenceError(
            f"branch {settings.branch!r} of {repo.git_dir} has no anchor yet; "
            "`upkeep evidence commit` makes the first"
        )
    anchored = repo.blob(tip, LEDGER) or b""
    ledger = evidence_dir / LEDGER
    if ledger.exists() and not ledger.read_bytes().startswith(anchored):
        raise EvidenceError(
            f"{ledger} already exists and does not extend the anchored ledger (commit "
            f"{tip[:12]}); nothing was restored (see `upkeep verify --anchor`)"
        )
    anchor = anchor_of(repo, tip)  # a commit that is no anchor restores nothing
    listed = repo.files(tip, LEDGER, RUNS)
    for file in listed:
        if file.mode not in REGULAR_MODES:
            # A symlink (120000) would be written as one, and a site build or a reader of the
            # run folder would follow it out of the evidence: evidence is regular files only.
            raise EvidenceError(
                f"{file.path} in commit {tip[:12]} of branch {settings.branch!r} is not a "
                f"regular file (git mode {file.mode}); evidence is regular files only, so "
                "nothing was restored"
            )
    repo.write_files(
        [file for file in listed if not os.path.lexists(evidence_dir / file.path)], evidence_dir
    )
    return anchor
