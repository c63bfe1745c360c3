"""What the maintenance review suggests to the documentation review depends on whether a failing
runbook's docs changed since it began failing: the page's history read from a real git
repository (upkeep.review.docs_history) and the suggestion that follows (docs_suggestions)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from helpers.git import git

from upkeep.records import Status
from upkeep.review.docs_history import page_changed
from upkeep.review.docs_suggestions import suggest
from upkeep.review.streaks import CheckStreak

SINCE = datetime(2026, 10, 1, 3, 0, tzinfo=UTC)


def _docs_repo(root: Path) -> Path:
    (root / "docs" / "reference").mkdir(parents=True)
    git(root, "init", "-q")
    return root / "docs"


def test_a_committed_page_changed_when_its_last_commit_was_made(tmp_path: Path) -> None:
    docs = _docs_repo(tmp_path)
    (docs / "reference" / "web.md").write_text("# Web\n")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "web")
    committed = datetime.fromisoformat(git(tmp_path, "log", "-1", "--format=%cI").strip())
    assert page_changed([docs], "web.md") == committed
    # An uncommitted edit counts from the file's modification time.
    (docs / "reference" / "web.md").write_text("# Web\n\nNew step.\n")
    later = committed + timedelta(days=3)
    os.utime(docs / "reference" / "web.md", (later.timestamp(), later.timestamp()))
    assert page_changed([docs], "web.md") == later


def test_a_page_outside_git_or_missing_is_not_known(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    (plain / "reference").mkdir(parents=True)
    (plain / "reference" / "web.md").write_text("# Web\n")
    assert page_changed([plain], "web.md") is None
    assert page_changed([plain], "gone.md") is None


def test_a_users_page_replaces_the_sites_page_of_the_same_name(tmp_path: Path) -> None:
    site = _docs_repo(tmp_path / "site")
    (site / "reference" / "web.md").write_text("# Web\n")
    git(tmp_path / "site", "add", ".")
    git(tmp_path / "site", "commit", "-q", "-m", "web")
    own = tmp_path / "own"
    (own / "reference").mkdir(parents=True)
    (own / "reference" / "web.md").write_text("# Our web\n")  # not in git: not known
    assert page_changed([site], "web.md") is not None
    assert page_changed([site, own], "web.md") is None


def _streak() -> CheckStreak:
    return CheckStreak(
        runbook="web-health",
        check="http:web",
        worst=Status.FAIL,
        since=SINCE,
        last=SINCE + timedelta(days=9),
        runs=10,
        cleared_at=None,
        runbook_versions=frozenset({"a" * 64}),
        message="502",
    )


def _runbook_suggestions(changed: datetime | None) -> list[str]:
    found = suggest([_streak()], {"web-health": ("web.md",)}, 3, lambda page: changed)
    return [s.reason for s in found if s.subject == "web-health"]


def test_a_runbook_whose_docs_changed_since_it_began_failing_is_not_suggested() -> None:
    assert _runbook_suggestions(SINCE + timedelta(days=2)) == []


def test_a_runbook_whose_docs_are_older_than_its_failures_is_suggested_naming_them() -> None:
    [reason] = _runbook_suggestions(SINCE - timedelta(days=30))
    assert "without a change to the runbook (version aaaaaaaaaaaa) or to web.md" in reason


def test_docs_whose_history_is_not_known_are_said_to_be_not_known() -> None:
    [reason] = _runbook_suggestions(None)
    assert "whether web.md changed is not known (no git history)" in reason
