"""Responsible for reading a host's evidence branch (`evidence: {git: REPO, branch: NAME}` in the
fleet file, the branch `upkeep evidence commit` writes) into a folder, where it is verified like
any evidence folder: the branch tip's ledger and run folders are written, byte for byte as
committed, into a fresh folder that then replaces the last copy, only when the tip moved.
`site build --fleet` keeps the copy under the controller's state_dir; `verify --fleet` unpacks
into a temporary folder each time.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from upkeep import atomic
from upkeep.config.fleet import EvidenceSource
from upkeep.errors import EvidenceError
from upkeep.evidence.anchor import Anchor, anchor_of
from upkeep.evidence.git_repo import REGULAR_MODES, EvidenceRepo, run_git
from upkeep.evidence.layout import LEDGER, RUNS

COPY = "evidence"  # the unpacked tree, beside the commit it holds
COPY_COMMIT = "evidence.commit"


def read_branch(source: EvidenceSource, state: Path) -> tuple[Path, Anchor]:
    """The folder under `state` holding the branch tip's ledger and run folders, and the anchor
    that tip is; EvidenceError naming the repository and branch when they cannot be read."""
    assert source.git is not None
    repo = _repo(source)
    tip = repo.tip()
    if tip is None:
        raise EvidenceError(
            f"{source.git} has no branch {source.branch!r}: nothing anchored there yet "
            "(`upkeep evidence commit` on that host writes it)"
        )
    anchor = anchor_of(repo, tip)
    copy, marker = state / COPY, state / COPY_COMMIT
    if copy.is_dir() and _read(marker) == tip:
        return copy, anchor
    fresh = state / f"{COPY}.new"
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir(parents=True)
    _unpack(repo, tip, fresh)
    shutil.rmtree(copy, ignore_errors=True)
    fresh.rename(copy)
    atomic.write_bytes(marker, tip.encode())
    return copy, anchor


def _repo(source: EvidenceSource) -> EvidenceRepo:
    assert source.git is not None
    if not source.git.is_dir():
        raise EvidenceError(f"{source.git} does not exist or is not a folder (a git repository)")
    found = run_git(["rev-parse", "--absolute-git-dir"], cwd=source.git, check=False)
    if found.returncode != 0:
        raise EvidenceError(f"{source.git} is not a git repository")
    return EvidenceRepo(Path(found.stdout.decode().strip()), source.branch)


def _unpack(repo: EvidenceRepo, commit: str, into: Path) -> None:
    """The commit's ledger and run folders into `into`, byte for byte as committed (a branch
    may hold years of runs: the files are streamed, one at a time)."""
    files = repo.files(commit, LEDGER, RUNS)
    for file in files:
        if file.mode not in REGULAR_MODES:
            # Followed by a site build, a symlink would publish a file from outside the evidence.
            raise EvidenceError(
                f"{file.path} in commit {commit[:12]} of branch {repo.branch!r} is not a regular "
                f"file (git mode {file.mode}); evidence is regular files only"
            )
    repo.write_files(files, into)


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None
