"""`upkeep docs reviewed|list`: a review is a decision on record in the evidence ledger (who, when,
which page), `upkeep verify` covers it, and `docs list` dates the page from it; a page that does
not exist, or no name, is bad input (exit 2, nothing recorded)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from helpers.project import Project

from upkeep.docs_review.freshness import DOCS_REVIEWED
from upkeep.evidence import EvidenceStore


@pytest.fixture
def project(tmp_path: Path) -> Project:
    (tmp_path / "upkeep.yml").write_text(
        textwrap.dedent("""\
        version: 1
        timezone: UTC
        evidence_dir: evidence
        state_dir: var/state
        site: {docs_dir: pages}
        """)
    )
    pages = tmp_path / "pages" / "reference"
    pages.mkdir(parents=True)
    (pages / "runbook-notes.md").write_text("---\nowner: alice\nreview_every: 90d\n---\n# Notes\n")
    (pages / "unowned.md").write_text("# Nobody's\n")
    project = Project(tmp_path)
    project.add_runbook("tidy", [("markdown", "## Step")], meta={"review_every": "30d"})
    return project


def test_a_review_is_recorded_in_the_ledger_and_dates_the_page(project: Project) -> None:
    done = project.upkeep_in_process(
        "docs", "reviewed", "reference/runbook-notes", "--by", "bob", "--reason", "fixed a step"
    )
    assert done.code == 0, done.text
    assert "recorded the review of reference/runbook-notes.md by bob" in done.out
    assert project.upkeep_in_process("docs", "reviewed", "tidy", "--by", "carol").code == 0

    decisions = [e.decision for e in EvidenceStore(project.evidence).decisions()]
    assert [(d.type, d.subject, d.author) for d in decisions] == [
        (DOCS_REVIEWED, "reference/runbook-notes.md", "bob"),
        (DOCS_REVIEWED, "runbooks/tidy.md", "carol"),
    ]
    assert decisions[0].reason == "fixed a step"
    assert project.upkeep_in_process("verify").code == 0

    listed = json.loads(project.upkeep_in_process("docs", "list", "--json").out)
    pages = {item["page"]: item for item in listed}
    notes = pages["reference/runbook-notes.md"]
    assert notes["owner"] == "alice" and notes["reviewed_by"] == "bob"
    assert pages["runbooks/tidy.md"]["reviewed_by"] == "carol"
    assert pages["reference/unowned.md"]["owner"] is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("no/such/page.md", "--by", "bob"), "PAGE: no docs page or runbook 'no/such/page.md'"),
        (("tidy", "--by", " "), "--by: expected a name"),
        (("tidy", "--by", "bob", "--reason", ""), "--reason: expected what the review found"),
    ],
)
def test_bad_input_records_nothing(project: Project, args: tuple[str, ...], message: str) -> None:
    result = project.upkeep_in_process("docs", "reviewed", *args)
    assert result.code == 2
    assert message in result.err
    assert EvidenceStore(project.evidence).decisions(strict=False) == []
