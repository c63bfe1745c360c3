"""The changelog: towncrier builds CHANGELOG.md from changelog/ fragments, and the check that
`nox -s fragment` runs fails a branch that adds none (in a real git repository, no remote)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from helpers.git import git
from helpers.project import REPO


def _towncrier(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "towncrier", *args], cwd=root, capture_output=True, text=True
    )


def _repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copy(REPO / "pyproject.toml", root)
    shutil.copy(REPO / "CHANGELOG.md", root)
    (root / "changelog").mkdir()
    (root / "changelog" / ".gitkeep").write_text("")
    (root / "src" / "upkeep").mkdir(parents=True)
    (root / "src" / "upkeep" / "__init__.py").write_text('__version__ = "0.1.0"\n')
    git(root, "init", "-q", "-b", "main")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "start")
    git(root, "checkout", "-q", "-b", "feature")
    (root / "src" / "upkeep" / "thing.py").write_text("X = 1\n")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "a change")
    return root


def test_a_branch_without_a_fragment_fails_the_check(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    result = _towncrier(root, "check", "--compare-with", "main")
    assert result.returncode != 0
    assert "No new newsfragments found" in result.stdout + result.stderr


def test_a_branch_with_a_fragment_passes_and_builds_into_the_changelog(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    (root / "changelog" / "7.feature.md").write_text("Runbooks can be frobnicated.\n")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "fragment")
    assert _towncrier(root, "check", "--compare-with", "main").returncode == 0
    built = _towncrier(root, "build", "--draft", "--version", "9.9")
    assert built.returncode == 0, built.stderr
    assert "## upkeep 9.9" in built.stdout
    assert "Runbooks can be frobnicated. (#7)" in built.stdout


def test_every_fragment_in_the_repository_has_a_known_type() -> None:
    types = {"feature", "bugfix", "doc", "misc"}
    for fragment in (REPO / "changelog").glob("*.md"):
        issue, kind, _ = fragment.name.split(".", 2)
        assert issue.isdigit() and kind in types, fragment.name
