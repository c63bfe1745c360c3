"""Responsible for reading a host's evidence branch (`evidence: {git: REPO, branch: NAME}` in the
fleet file, the branch `upkeep evidence commit` writes) into a folder, where it is verified like
any evidence folder: the branch tip's tree is unpacked with `git archive` into a fresh folder that
then replaces the last copy, only when the tip moved. `site build --fleet` keeps the copy under
the controller's state_dir; `verify --fleet` unpacks into a temporary folder each time.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from pathlib import Path

from upkeep import atomic
from upkeep.config.fleet import EvidenceSource
from upkeep.errors import EvidenceError
from upkeep.evidence.anchor import Anchor, anchor_of
from upkeep.evidence.git_repo import EvidenceRepo, run_git

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
    """The commit's tree into `into`, streamed (a branch may hold years of runs)."""
    command = ["git", "--git-dir", str(repo.git_dir), "archive", "--format=tar", commit]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as child:
        assert child.stdout is not None
        try:
            with tarfile.open(fileobj=child.stdout, mode="r|") as archive:
                archive.extractall(into, filter="data")
        except tarfile.TarError as exc:
            child.kill()
            raise EvidenceError(
                f"git archive of {repo.branch} gave no readable tree: {exc}"
            ) from None
        said = child.stderr.read() if child.stderr is not None else b""
    if child.returncode != 0:
        raise EvidenceError(
            f"git archive {repo.branch} failed: {said.decode(errors='replace').strip()}"
        )


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None
