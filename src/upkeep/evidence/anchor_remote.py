"""Responsible for exchanging the evidence branch with a git remote (a CI checkout's `origin`):
fetched before a restore, pushed after a commit with its tag, both fast-forward only — an
anchored history that was rewritten on either side is refused, never forced over.
"""

from __future__ import annotations

from upkeep.errors import EvidenceError, ParameterError
from upkeep.evidence.git_repo import EvidenceRepo


def check_remote(repo: EvidenceRepo, remote: str) -> None:
    """`remote` must be a remote of the repository, by name: git reads an argument that starts
    with `-` as an option (`--upload-pack=...` runs a command), and a name it does not know as
    a URL or a path. ParameterError (exit 2) before anything is committed or fetched."""
    known = repo.text("remote").split()
    if remote not in known:
        names = ", ".join(known) or "none"
        raise ParameterError(
            f"--remote: no remote named {remote[:80]!r} in {repo.git_dir} (its remotes: "
            f"{names}); expected the name of one, e.g. origin (git remote add NAME URL)"
        )


def fetch_branch(repo: EvidenceRepo, remote: str) -> bool:
    """Fast-forward the local evidence branch (and its tags) to `remote`'s; False when the
    remote has no such branch yet."""
    listed = repo.git("ls-remote", "--exit-code", "--heads", remote, repo.ref, check=False)
    if listed.returncode == 2:
        return False
    if listed.returncode != 0:
        said = listed.stderr.decode(errors="replace").strip()
        raise EvidenceError(f"cannot read remote {remote!r}: {said or 'git ls-remote failed'}")
    fetched = repo.git("fetch", "--quiet", "--tags", remote, f"{repo.ref}:{repo.ref}", check=False)
    if fetched.returncode != 0:
        said = fetched.stderr.decode(errors="replace").strip()
        raise EvidenceError(
            f"the evidence branch {repo.branch!r} of {remote!r} does not extend the local one "
            f"(or cannot be fetched): {said}; one of them was rewritten, nothing was restored"
        )
    return True


def push_branch(repo: EvidenceRepo, remote: str, tag: str | None) -> None:
    """Push the evidence branch (and the anchor's tag) to `remote`, never forced."""
    refs = [f"{repo.ref}:{repo.ref}"] + ([f"refs/tags/{tag}:refs/tags/{tag}"] if tag else [])
    pushed = repo.git("push", "--quiet", remote, *refs, check=False)
    if pushed.returncode != 0:
        said = pushed.stderr.decode(errors="replace").strip()
        raise EvidenceError(
            f"pushing the evidence branch {repo.branch!r} to {remote!r} failed: {said}; the "
            "anchor is committed locally (the remote's branch may have moved: fetch and compare)"
        )
