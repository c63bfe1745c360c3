"""Freshness of docs pages and runbook pages: owners and intervals read from front matter and
metadata, reviews on record, and the last change read from a real git repository with real
commit dates: a page without an owner, a runbook whose notebook changed after its page's review,
a page past due, and a page outside git (not known, never fresh)."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers.git import GIT_IDENTITY, git
from helpers.project import REPO, notebook

from upkeep.docs_review.freshness import (
    DOCS_REVIEWED,
    DocsPage,
    State,
    assess,
    docs_pages,
    front_matter,
    git_changed,
    last_reviews,
    runbook_pages,
)
from upkeep.docs_review.interval import parse_review_every
from upkeep.errors import RunbookError
from upkeep.records import Decision
from upkeep.registry import discover

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def _commit(root: Path, message: str, at: datetime) -> None:
    git(root, "add", "-A")
    stamp = at.isoformat()
    env = {**os.environ, **GIT_IDENTITY, "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
    subprocess.run(["git", "commit", "-qm", message], cwd=root, env=env, check=True)


def _review(page: str, at: datetime) -> Decision:
    return Decision(DOCS_REVIEWED, page, "alice", at, "read in full")


def test_review_every_is_a_number_of_days() -> None:
    assert parse_review_every("365d") == timedelta(days=365)
    for bad in ("365", "1y", "0d", "-5d", 365, None, "d"):
        with pytest.raises(ValueError, match='such as "365d"'):
            parse_review_every(bad)


def test_a_runbook_with_a_malformed_review_every_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "daily" / "x.ipynb"
    path.parent.mkdir()
    path.write_text(json.dumps(notebook([], meta={"review_every": "a year"})))
    runbooks = discover(tmp_path)
    assert set(runbooks.invalid) == {"x"}
    with pytest.raises(RunbookError, match=r'metadata\.upkeep\.review_every: .*"365d"'):
        runbooks.require("x")
    path.write_text(json.dumps(notebook([], meta={"review_every": "90d"})))
    assert discover(tmp_path)["x"].review_every == timedelta(days=90)


def test_front_matter_is_read_and_a_page_without_an_owner_is_found(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    (docs / "reference").mkdir(parents=True)
    (docs / "index.md").write_text("---\ntitle: Home\nowner: ops\nreview_every: 180d\n---\n# Hi\n")
    (docs / "reference" / "orphaned.md").write_text("# Nobody's page\n")
    (docs / "reference" / "bad.md").write_text("---\nowner: ops\nreview_every: yearly\n---\n")
    pages = {page.page: page for page in docs_pages([docs])}
    assert pages["index.md"].owner == "ops"
    assert pages["index.md"].review_every == timedelta(days=180)
    assert pages["reference/orphaned.md"].owner is None
    assert pages["reference/orphaned.md"].review_every is None
    assert "review_every" in (pages["reference/bad.md"].problem or "")
    assert front_matter("# no front matter\n") == {}
    # as MkDocs reads them: a page saved with a byte-order mark, or with CRLF line ends
    assert front_matter("\ufeff---\nowner: ops\n---\n# x\n") == {"owner": "ops"}
    assert front_matter("---\r\nowner: ops\r\n---\r\n# x\r\n") == {"owner": "ops"}
    with pytest.raises(ValueError, match="never closed"):
        front_matter("---\nowner: x\n")


def test_a_later_folder_replaces_a_page_of_the_same_path(tmp_path: Path) -> None:
    site, own = tmp_path / "site", tmp_path / "own"
    for folder, owner in ((site, "upkeep"), (own, "us")):
        folder.mkdir()
        (folder / "index.md").write_text(f"---\nowner: {owner}\nreview_every: 30d\n---\n")
    assert [page.owner for page in docs_pages([site, own])] == ["us"]


def test_the_latest_review_of_each_page_counts() -> None:
    early, late = _review("index.md", NOW - timedelta(days=9)), _review("index.md", NOW)
    other = Decision("acknowledge", "index.md", "bob", NOW, "not a review")
    assert last_reviews([late, early, other]) == {"index.md": late}


def test_states_from_reviews_and_changes() -> None:
    year = timedelta(days=365)
    pages = {
        name: DocsPage(name, Path(name), "ops", year)
        for name in ("fresh.md", "due.md", "changed.md", "unknown.md", "reviewed.md")
    }
    changes = {
        "fresh.md": NOW - timedelta(days=30),
        "due.md": NOW - timedelta(days=400),
        "changed.md": NOW - timedelta(days=5),
        "unknown.md": None,
        "reviewed.md": NOW - timedelta(days=400),
    }
    reviews = {
        "changed.md": _review("changed.md", NOW - timedelta(days=10)),
        "reviewed.md": _review("reviewed.md", NOW - timedelta(days=20)),
    }
    states = {
        item.page.page: item
        for item in assess(pages.values(), reviews, NOW, lambda page: changes[page.page])
    }
    assert states["fresh.md"].state is State.FRESH
    assert states["due.md"].state is State.PAST_DUE
    assert states["due.md"].due == NOW - timedelta(days=35)
    assert states["changed.md"].state is State.CHANGED
    assert states["unknown.md"].state is State.UNKNOWN and states["unknown.md"].due is None
    # A review resets the clock even when the last change is older.
    assert states["reviewed.md"].state is State.FRESH
    assert states["reviewed.md"].due == NOW - timedelta(days=20) + year


def test_a_runbook_whose_notebook_changed_after_its_review_is_found(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    path = tmp_path / "runbooks" / "daily" / "backup.ipynb"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(notebook([("markdown", "## Step one")], meta={"owner": "dba"})))
    _commit(tmp_path, "the runbook", NOW - timedelta(days=60))
    [page] = runbook_pages(discover(tmp_path / "runbooks"))
    assert page.page == "runbooks/backup.md" and page.owner == "dba"
    assert git_changed(page) == NOW - timedelta(days=60)

    review = {page.page: _review(page.page, NOW - timedelta(days=30))}
    [item] = assess([page], review, NOW)
    assert item.state is State.FRESH

    path.write_text(json.dumps(notebook([("markdown", "## Step one, rewritten")])))
    _commit(tmp_path, "a new step", NOW - timedelta(days=2))
    [item] = assess([page], review, NOW)
    assert item.state is State.CHANGED
    assert item.changed == NOW - timedelta(days=2)


def test_a_page_goes_stale_when_the_code_it_documents_changes(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    docs = tmp_path / "docs" / "reference"
    docs.mkdir(parents=True)
    (docs / "scheduling.md").write_text(
        "---\nowner: ops\nreview_every: 365d\ndocuments: [src/schedule.py]\n---\n# Scheduling\n"
    )
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "schedule.py").write_text("CRON = 1\n")
    _commit(tmp_path, "page and code", NOW - timedelta(days=50))
    [page] = docs_pages([tmp_path / "docs"])
    reviews = {page.page: _review(page.page, NOW - timedelta(days=40))}
    assert [item.state for item in assess([page], reviews, NOW)] == [State.FRESH]

    (tmp_path / "src" / "schedule.py").write_text("CRON = 2\n")
    _commit(tmp_path, "the code changed", NOW - timedelta(days=3))
    [item] = assess([page], reviews, NOW)
    assert item.state is State.CHANGED and item.changed == NOW - timedelta(days=3)


def test_a_page_outside_git_is_not_known_until_reviewed(tmp_path: Path) -> None:
    (tmp_path / "index.md").write_text("---\nowner: ops\nreview_every: 30d\n---\n")
    [page] = docs_pages([tmp_path])
    [item] = assess([page], {}, NOW)
    assert item.state is State.UNKNOWN
    [item] = assess([page], {"index.md": _review("index.md", NOW - timedelta(days=40))}, NOW)
    assert item.state is State.PAST_DUE


def test_every_shipped_page_and_runbook_has_an_owner_and_an_interval() -> None:
    pages = [*docs_pages([REPO / "docs"]), *runbook_pages(discover(REPO / "runbooks"))]
    assert len(pages) >= 25
    assert [p.page for p in pages if p.owner is None or p.review_every is None or p.problem] == []
    for page in pages:
        for path in page.documents:
            assert (REPO / path).exists(), (page.page, path)
