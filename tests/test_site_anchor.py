"""The dashboard beside the evidence's anchor in git: a ledger rewritten (or cut) after it was
anchored, whose chain verifies on its own, is not shown as verifying. Real git repositories under
tmp_path and runs published through the real evidence store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from helpers.anchoring import project_repository, publish_run, rewrite_status, truncate
from helpers.git import git
from helpers.project import Project

from upkeep.evidence import verify


@pytest.fixture
def project(tmp_path: Path) -> Project:
    project = Project(project_repository(tmp_path / "project"))
    (project.root / "runbooks").mkdir()
    for day in (1, 2, 3):
        publish_run(project.evidence, day)
    return project


def _banner(project: Project) -> str:
    from upkeep.config import load_config
    from upkeep.registry import discover
    from upkeep.site.dashboard import dashboard
    from upkeep.site.model import load_model

    config = load_config(project.config)
    return dashboard(load_model(config, discover(config.runbooks_dir, config.root))).split("\n\n")[
        0
    ]


@pytest.mark.parametrize(
    ("tamper", "said"),
    [
        (
            lambda evidence: rewrite_status(evidence, 1, "fail"),
            "ledger line 3 is not the line git commit {commit} anchored: the ledger was "
            "rewritten after it was anchored",
        ),
        (
            lambda evidence: truncate(evidence, keep=2),
            "the ledger no longer holds line 3, which git commit {commit} anchored",
        ),
    ],
    ids=["rewritten", "cut"],
)
def test_a_ledger_changed_after_its_anchor_does_not_show_as_verifying(
    project: Project, tamper: Callable[[Path], object], said: str
) -> None:
    assert project.upkeep_in_process("evidence", "commit").code == 0
    assert "Evidence verifies: all 3 runs" in _banner(project)
    anchored = git(project.root, "rev-parse", "refs/heads/evidence").strip()[:12]
    tamper(project.evidence)
    assert verify(project.evidence).ok  # the chain alone cannot tell: that is the attack
    shown = _banner(project)
    assert "Evidence does NOT verify" in shown and "Evidence verifies" not in shown
    assert said.format(commit=anchored) in shown
