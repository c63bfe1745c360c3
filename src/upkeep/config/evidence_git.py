"""Responsible for the `evidence_git:` section of `upkeep.yml`: where `upkeep evidence commit`
anchors the evidence (an evidence branch of the repository holding the evidence folder, or of a
separate evidence repository), and the ssh key that signs each anchor's tag when one is set."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from upkeep.config.reader import Section
from upkeep.errors import ConfigError

__all__ = ["EvidenceGit", "plain_branch", "read_evidence_git"]

# A plain branch name: git accepts more, but a name with spaces or `..` is a mistake here.
_BRANCH = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,99}")


@dataclass(frozen=True)
class EvidenceGit:
    """Where the evidence is anchored (see docs/reference/evidence.md, "Anchored in git").

    `repository`: a separate evidence repository (bare or not); None anchors to a branch of the
    repository holding the evidence folder. `branch`: the branch each anchor commit goes on.
    `signing_key`: an ssh key (private, or public with its private half in ssh-agent) that signs
    a tag on every anchor commit; None makes unsigned anchors. `allowed_signers`: an ssh
    allowed-signers file with which `upkeep verify --anchor` checks those signatures.
    """

    repository: Path | None = None
    branch: str = "evidence"
    signing_key: Path | None = None
    allowed_signers: Path | None = None


def plain_branch(name: str) -> bool:
    """Whether `name` is a plain git branch name (no spaces, no `..`, no `.lock` ending)."""
    return (
        bool(_BRANCH.fullmatch(name))
        and ".." not in name
        and not name.endswith((".lock", "/", "."))
    )


def read_evidence_git(section: Section | None, base: Path) -> EvidenceGit:
    if section is None:
        return EvidenceGit()
    settings = EvidenceGit(
        repository=section.path("repository", base, None),
        branch=section.str("branch", EvidenceGit.branch),
        signing_key=section.path("signing_key", base, None),
        allowed_signers=section.path("allowed_signers", base, None),
    )
    if not plain_branch(settings.branch):
        section.fail("branch", "a plain git branch name such as evidence", settings.branch)
    for key in ("repository", "signing_key", "allowed_signers"):
        path = getattr(settings, key)
        wanted = path is not None and (path.is_dir() if key == "repository" else path.is_file())
        if path is not None and not wanted:
            kind = "a git repository folder" if key == "repository" else "a file"
            raise ConfigError(
                f"{section.file}: {section.where}.{key}: {path} does not exist or is not {kind}"
                + ("; create it with `git init --bare PATH`" if key == "repository" else "")
            )
    section.done()
    return settings
