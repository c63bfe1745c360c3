"""Test helper: a throwaway git repository (no remote) holding a copy of this project's site.

The copy carries the real `mkdocs.yml`, `docs/`, `runbooks/` and changelog, with an
`upkeep.yml` of its own whose demo service listens on a free port, so that publishing and the
browser tests exercise the site exactly as the repository builds it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from helpers.demo import demo_config
from helpers.git import git
from helpers.project import REPO
from upkeep import demo

# Everything `mkdocs build` reads from the repository, besides upkeep.yml and the evidence.
SITE_SOURCES = ("mkdocs.yml", "docs", "runbooks", "overrides", "CHANGELOG.md", "changelog")


def make_site_repository(root: Path) -> Path:
    """Copy the site sources into `root`, write its upkeep.yml, `git init` and commit; return it."""
    root.mkdir(parents=True, exist_ok=True)
    for name in SITE_SOURCES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.is_file():
            shutil.copy2(source, root / name)
    shutil.copy2(REPO / ".gitignore", root / ".gitignore")
    (root / "upkeep.yml").write_text(demo_config(demo.free_port()))
    git(root, "init", "--quiet", "--initial-branch", "main")
    git(root, "add", "--all")
    git(root, "commit", "--quiet", "--message", "The project")
    return root


def export_branch(repo: Path, branch: str, dest: Path) -> Path:
    """Write the tree of `branch` into `dest` (symlinks kept, as a web server would see it)."""
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "archive", "--format=tar", f"refs/heads/{branch}"],
        cwd=repo,
        capture_output=True,
        check=True,
    )
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest
