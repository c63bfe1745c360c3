"""Tests for upkeep.run.provenance: the runbook version a run records, against a real git
repository whose index flags may hide an edit."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest
from helpers.project import CHECK_OK, Project

from upkeep import registry
from upkeep.records import RunbookRef
from upkeep.run.provenance import Provenance, git_blob_id


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *args], check=True, capture_output=True, text=True
    ).stdout


def _committed(project: Project) -> Path:
    path = project.add_runbook("gitted", [("markdown", "## Step"), CHECK_OK])
    _git(project.root, "init", "-q")
    _git(project.root, "add", "runbooks")
    _git(project.root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "v1")
    return path


def _ref(project: Project, path: Path) -> RunbookRef:
    runbook = registry.load_runbook(path, project.root)
    return Provenance.gather(project.root).runbook_ref(runbook, path.read_bytes())


def test_blob_id_is_gits(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"some bytes\n\0more")
    out = subprocess.run(
        ["git", "hash-object", "--no-filters", str(tmp_path / "f")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert git_blob_id(b"some bytes\n\0more") == out


def test_an_unchanged_runbook_is_clean_at_head(project: Project) -> None:
    path = _committed(project)
    ref = _ref(project, path)
    assert ref.git_commit == _git(project.root, "rev-parse", "HEAD").strip()
    assert ref.git_dirty is False


@pytest.mark.slow
@pytest.mark.parametrize("flag", ["--skip-worktree", "--assume-unchanged"])
def test_an_edit_hidden_from_git_status_is_recorded_dirty(project: Project, flag: str) -> None:
    """`git diff` reports nothing for a file flagged skip-worktree or assume-unchanged: the
    bytes that ran are compared with the blob at HEAD instead."""
    path = _committed(project)
    _git(project.root, "update-index", flag, "runbooks/daily/gitted.ipynb")
    project.add_runbook("gitted", [("markdown", "## Edited step"), CHECK_OK])
    assert _git(project.root, "diff", "--name-only", "HEAD") == ""
    result = project.upkeep("run", "gitted")
    assert result.code == 0, result.text
    [record] = project.records()
    assert record["runbook"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert record["runbook"]["git_dirty"] is True


def test_a_runbook_added_but_not_committed_is_dirty(project: Project) -> None:
    _committed(project)
    path = project.add_runbook("added", [CHECK_OK])
    _git(project.root, "add", "runbooks")
    ref = _ref(project, path)
    assert ref.git_commit is not None and ref.git_dirty is True


def test_an_untracked_runbook_names_no_commit(project: Project) -> None:
    _committed(project)
    path = project.add_runbook("loose", [CHECK_OK])
    ref = _ref(project, path)
    assert ref.git_commit is None and ref.git_dirty is None


def test_the_sha256_is_of_the_bytes_given_not_the_registrys(project: Project) -> None:
    path = _committed(project)
    runbook = registry.load_runbook(path, project.root)
    ran = b'{"edited": true}'
    ref = Provenance.gather(project.root).runbook_ref(runbook, ran)
    assert ref.sha256 == hashlib.sha256(ran).hexdigest() != runbook.sha256
    assert ref.git_dirty is True


def test_a_runbook_kept_through_a_clean_filter_is_clean_as_committed(project: Project) -> None:
    # nbstripout-style: git commits the notebook through a clean filter, so the file on disk
    # (with outputs) is not the blob, yet `git status` calls it unchanged. An edit that the
    # filter keeps is still dirty.
    path = project.add_runbook("gitted", [("markdown", "## Step"), CHECK_OK])
    _git(project.root, "init", "-q")
    _git(project.root, "config", "filter.strip.clean", "sed -e 's/ OUTPUT//'")
    (project.root / ".gitattributes").write_text("*.ipynb filter=strip\n")
    _git(project.root, "add", "runbooks", ".gitattributes")
    _git(project.root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "v1")
    path.write_bytes(path.read_bytes().replace(b"## Step", b"## Step OUTPUT"))
    ref = _ref(project, path)
    assert ref.git_commit is not None and ref.git_dirty is False
    path.write_bytes(path.read_bytes().replace(b"## Step", b"## Another step"))
    assert _ref(project, path).git_dirty is True
