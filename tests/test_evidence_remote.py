"""`upkeep evidence commit|restore --remote NAME`: the evidence branch exchanged with a git remote
of the repository (a CI checkout's origin), and a --remote that is no remote's name refused before
anything is committed or fetched (git reads `--upload-pack=...` as an option that runs a command).
Real git repositories under tmp_path: a bare one stands for the CI server."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.anchoring import project_repository, publish_run
from helpers.git import git
from helpers.project import Project

BRANCH = "refs/heads/evidence"


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A project repository whose `origin` is a bare repository, with two runs of evidence."""
    project = Project(project_repository(tmp_path / "project"))
    git(tmp_path, "init", "--quiet", "--bare", str(tmp_path / "server.git"))
    git(project.root, "remote", "add", "origin", str(tmp_path / "server.git"))
    for day in (1, 2):
        publish_run(project.evidence, day)
    return project


def test_commit_pushes_and_a_fresh_checkout_restores_from_the_remote(
    project: Project, tmp_path: Path
) -> None:
    pushed = project.upkeep_in_process("evidence", "commit", "--remote", "origin")
    assert pushed.code == 0, pushed.text
    assert "pushed evidence to origin" in pushed.out
    server = tmp_path / "server.git"
    assert git(server, "rev-parse", BRANCH) == git(project.root, "rev-parse", BRANCH)
    checkout = tmp_path / "checkout"
    git(tmp_path, "clone", "--quiet", str(server), str(checkout))
    (checkout / "upkeep.yml").write_text("version: 1\n")
    fresh = Project(checkout)
    restored = fresh.upkeep_in_process("evidence", "restore", "--remote", "origin")
    assert restored.code == 0, restored.text
    assert fresh.upkeep_in_process("verify", "--anchor").code == 0
    assert len(fresh.run_dirs()) == 2


@pytest.mark.parametrize("command", ["commit", "restore"])
@pytest.mark.parametrize("remote", ["--upload-pack=touch {marker}", "nosuch", ""])
def test_a_remote_that_is_no_remote_s_name_is_refused_before_anything(
    project: Project, tmp_path: Path, command: str, remote: str
) -> None:
    marker = tmp_path / "ran"
    result = project.upkeep_in_process(
        "evidence", command, "--remote", remote.format(marker=marker)
    )
    assert result.code == 2, result.text
    assert "--remote: no remote named" in result.err and "(its remotes: origin)" in result.err
    assert not marker.exists()  # git never saw it as an option
    # Nothing was committed locally before the refusal.
    assert git(project.root, "branch", "--list", "evidence").strip() == ""
