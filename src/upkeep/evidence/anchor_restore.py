"""Responsible for `upkeep evidence restore`: the newest anchor's ledger and run folders written
into an evidence folder that lacks them (a fresh CI checkout), through a temporary index, never
overwriting a file that is there.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from upkeep.config.evidence_git import EvidenceGit
from upkeep.errors import EvidenceError
from upkeep.evidence.anchor import Anchor, anchor_of
from upkeep.evidence.git_repo import open_repo
from upkeep.evidence.layout import LEDGER, RUNS

REGULAR_MODES = ("100644", "100755")  # git's modes of a regular file


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
    listed = []
    for row in repo.text("ls-tree", "-r", "-z", tip, "--", LEDGER, RUNS).split("\0"):
        if not row:
            continue
        mode, path = row.split(" ", 1)[0], row.split("\t", 1)[1]
        if mode not in REGULAR_MODES:
            # A symlink (120000) would be written as one, and a site build or a reader of the
            # run folder would follow it out of the evidence: evidence is regular files only.
            raise EvidenceError(
                f"{path} in commit {tip[:12]} of branch {settings.branch!r} is not a regular file"
                f" (git mode {mode}); evidence is regular files only, so nothing was restored"
            )
        listed.append(path)
    missing = [path for path in listed if not os.path.lexists(evidence_dir / path)]
    if missing:
        with tempfile.TemporaryDirectory(prefix="upkeep-restore-") as scratch:
            env = {**os.environ, "GIT_INDEX_FILE": str(Path(scratch) / "index")}
            repo.git("read-tree", tip, env=env)
            repo.git(
                "--work-tree",
                str(evidence_dir),
                "checkout-index",
                "--stdin",
                env=env,
                stdin="".join(f"{path}\n" for path in missing).encode(),
                cwd=evidence_dir,
            )
    return anchor
