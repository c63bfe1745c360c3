"""Responsible for the git repository that anchors the evidence: finding it (a separate evidence
repository, or the one holding the evidence folder), and running git plumbing in it against the
evidence branch — never its checked-out branch, its index or its working tree.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from upkeep.config.evidence_git import EvidenceGit
from upkeep.errors import EvidenceError

# Used only when neither the environment nor git's config names one: a fresh CI machine has none.
FALLBACK_IDENTITY = {
    "NAME": ("user.name", "upkeep"),
    "EMAIL": ("user.email", "upkeep@localhost"),
}
GIT_OUTPUT_LINES = 20


@dataclass(frozen=True)
class EvidenceRepo:
    """The git directory holding the evidence branch, and the branch's name."""

    git_dir: Path
    branch: str

    @property
    def ref(self) -> str:
        return f"refs/heads/{self.branch}"

    def git(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        stdin: bytes | None = None,
        check: bool = True,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[bytes]:
        """Run `git --git-dir=<this> ARGS`; EvidenceError with git's own words when it fails."""
        command = ["--git-dir", str(self.git_dir), *args]
        return run_git(command, env=env, stdin=stdin, check=check, cwd=cwd)

    def text(
        self, *args: str, env: dict[str, str] | None = None, stdin: bytes | None = None
    ) -> str:
        """git's stdout, decoded and stripped."""
        return self.git(*args, env=env, stdin=stdin).stdout.decode().strip()

    def tip(self) -> str | None:
        """The evidence branch's commit, or None before the first anchor."""
        shown = self.git("rev-parse", "--verify", "--quiet", f"{self.ref}^{{commit}}", check=False)
        return shown.stdout.decode().strip() or None

    def blob(self, commit: str, path: str) -> bytes | None:
        """The content of `path` in `commit`, or None when the commit has no such file."""
        shown = self.git("cat-file", "blob", f"{commit}:{path}", check=False)
        return shown.stdout if shown.returncode == 0 else None

    def identity(self) -> dict[str, str]:
        """The environment for a commit or a tag: the author and committer git would use, or
        upkeep's own when git has none."""
        env = dict(os.environ)
        for suffix, (key, fallback) in FALLBACK_IDENTITY.items():
            configured = self.git("config", key, check=False).stdout.decode().strip()
            for role in ("AUTHOR", "COMMITTER"):
                variable = f"GIT_{role}_{suffix}"
                if not env.get(variable) and not configured:
                    env[variable] = fallback
        return env


def run_git(
    args: list[str],
    *,
    env: dict[str, str] | None = None,
    stdin: bytes | None = None,
    check: bool = True,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[bytes]:
    try:
        result = subprocess.run(
            ["git", *args], input=stdin, capture_output=True, env=env, cwd=cwd, check=False
        )
    except FileNotFoundError:
        raise EvidenceError("git is not installed; anchoring the evidence needs git") from None
    if check and result.returncode != 0:
        said = result.stderr.decode(errors="replace").strip().splitlines()[-GIT_OUTPUT_LINES:]
        shown = " ".join(args[2:] if args[:1] == ["--git-dir"] else args)
        raise EvidenceError(f"git {shown} failed: {' / '.join(said) or 'no message'}")
    return result


def open_repo(evidence_dir: Path, settings: EvidenceGit) -> EvidenceRepo:
    """The repository the evidence is anchored in: `settings.repository`, or the one holding
    `evidence_dir`. EvidenceError when there is none, or when the evidence branch is the
    checked-out one (moving its ref would leave the working tree looking modified)."""
    where = settings.repository or evidence_dir
    if not where.is_dir():
        raise EvidenceError(
            f"{where} does not exist: there is no evidence to anchor yet (run `upkeep run` first)"
        )
    found = run_git(["rev-parse", "--absolute-git-dir"], cwd=where, check=False)
    if found.returncode != 0:
        raise EvidenceError(
            f"{where} is not inside a git repository; anchoring commits the evidence to a branch "
            "of the repository holding it, or of the one evidence_git.repository names in "
            "upkeep.yml (create one with `git init --bare PATH`)"
        )
    repo = EvidenceRepo(Path(found.stdout.decode().strip()), settings.branch)
    head = repo.git("symbolic-ref", "--quiet", "HEAD", check=False).stdout.decode().strip()
    bare = repo.text("rev-parse", "--is-bare-repository") == "true"
    if head == repo.ref and not bare:
        raise EvidenceError(
            f"branch {settings.branch!r} is checked out in {where}; expected a branch used only "
            "for the evidence (evidence_git.branch in upkeep.yml)"
        )
    return repo
