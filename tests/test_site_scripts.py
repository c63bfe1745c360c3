"""upkeep.site.script_pages: a page per shipped SQL script, and the database review's runbook page
linking the scripts it runs (fast), then checked in a real strict site build (slow)."""

from __future__ import annotations

import re
import shutil
import textwrap
from pathlib import Path

import pytest
from helpers.project import REPO, Project

from upkeep.site.script_pages import script_pages, scripts_section, shipped_scripts

REVIEW = REPO / "runbooks" / "weekly" / "database-review.ipynb"


def test_every_shipped_script_has_a_page_holding_the_whole_file() -> None:
    on_disk = {
        path.relative_to(REPO / "scripts").as_posix(): path.read_text()
        for path in (REPO / "scripts").rglob("*.sql")
    }
    assert shipped_scripts() == dict(sorted(on_disk.items()))
    pages = dict(script_pages())
    assert set(pages) == {f"scripts/{name.removesuffix('.sql')}.md" for name in on_disk}
    page = pages["scripts/db-health/postgresql/invalid-indexes.md"]
    assert page.startswith('---\ntitle: "db-health/postgresql/invalid-indexes.sql: Indexes')
    assert on_disk["db-health/postgresql/invalid-indexes.sql"].rstrip() in page
    assert "```sql\n-- Indexes PostgreSQL marks invalid" in page


def test_the_review_runbook_page_links_each_health_script_it_runs() -> None:
    section = scripts_section(REVIEW.read_text(), "../")
    links = re.findall(r"\]\(([^)]+)\)", section)
    health = sorted(n for n in shipped_scripts() if n.startswith("db-health/"))
    assert links == [f"../scripts/{name.removesuffix('.sql')}.md" for name in health]
    assert len(links) >= 4 + 13


def test_a_runbook_naming_no_scripts_folder_gets_no_section() -> None:
    assert scripts_section("Runs `df -h` and reads scripts in general.", "../") == ""


@pytest.mark.slow
def test_the_built_review_page_links_reach_the_script_pages(tmp_path: Path) -> None:
    (tmp_path / "runbooks" / "weekly").mkdir(parents=True)
    shutil.copy(REVIEW, tmp_path / "runbooks" / "weekly")
    shutil.copytree(REPO / "docs", tmp_path / "docs")
    shutil.copy(REPO / "mkdocs.yml", tmp_path)
    shutil.copy(REPO / "CHANGELOG.md", tmp_path)
    (tmp_path / "upkeep.yml").write_text(
        textwrap.dedent("""\
        version: 1
        databases:
          - {name: app, engine: sqlite, path: app.db}
        """)
    )
    project = Project(tmp_path)
    result = project.upkeep("site", "build", "--site-dir", str(tmp_path / "public"), timeout=300)
    assert result.code == 0, result.text
    page = (tmp_path / "public" / "runbooks" / "database-review" / "index.html").read_text()
    targets = re.findall(r'href="\.\./\.\./(scripts/db-health/[^"]+)"', page)
    assert "scripts/db-health/sqlite/integrity-check/" in targets
    assert len(targets) == len([n for n in shipped_scripts() if n.startswith("db-health/")])
    for target in targets:
        built = tmp_path / "public" / target / "index.html"
        assert built.is_file(), target
    sequences = tmp_path / "public" / "scripts/db-health/postgresql/sequences-near-max/index.html"
    assert "pg_sequences" in sequences.read_text()
