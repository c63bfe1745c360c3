"""Test helper: a throwaway git repository (no remote) holding a copy of this project's site.

The copy carries the real `mkdocs.yml`, `docs/`, `runbooks/` and changelog, with an
`upkeep.yml` of its own whose demo service listens on a free port, so that publishing and the
browser tests exercise the site exactly as the repository builds it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from conftest import REPO, demo_config

from upkeep import demo

# Everything `mkdocs build` reads from the repository, besides upkeep.yml and the evidence.
SITE_SOURCES = ("mkdocs.yml", "docs", "runbooks", "overrides", "CHANGELOG.md", "changelog")
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "upkeep tests",
    "GIT_AUTHOR_EMAIL": "tests@upkeep.invalid",
    "GIT_COMMITTER_NAME": "upkeep tests",
    "GIT_COMMITTER_EMAIL": "tests@upkeep.invalid",
}


def git(root: Path, *args: str) -> str:
    """Run git in `root` with a fixed identity; return its stdout, fail the test on error."""
    proc = subprocess.run(
        ["git", *args],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_IDENTITY},
        check=False,
    )
    assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr}"
    return proc.stdout


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
