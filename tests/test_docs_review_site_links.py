"""The links of a built site, read from its HTML files: a broken anchor, a link to a page that is
not there, an orphan page, external links listed with their pages; and the pages the plan and the
runbooks need. The site here is a few hand-written HTML files laid out as MkDocs writes them (the
end-to-end test builds a real one)."""

from __future__ import annotations

import json
from pathlib import Path

from helpers.project import notebook

from upkeep.docs_review.review import site_coverage
from upkeep.docs_review.site_links import scan_site
from upkeep.registry import discover
from upkeep.site.model import PlanTask


def _page(site: Path, path: str, body: str) -> None:
    target = site / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(f"<!doctype html><html><body>{body}</body></html>")


def _site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    _page(
        site,
        "index.html",
        '<a href="plan/">plan</a> <a href="plan/#on-call-roles">roles</a> '
        '<a href="plan/#no-such-heading">gone</a> <a href="reference/gone/">gone</a> '
        "<a href='https://example.org/a?b=1&amp;c=2'>ext</a> <a href=\"mailto:x@y.z\">mail</a> "
        '<link href="assets/site.css" rel="stylesheet"> <a href="#top">top</a> '
        '<h1 id="top">Hi</h1>',
    )
    _page(
        site,
        "plan/index.html",
        '<h2 id="on-call-roles">Roles</h2><a href="../">home</a>'
        '<a href="//cdn.example.org/x.js">cdn</a><a href="../runbooks/backup/#step-1">step</a>',
    )
    _page(site, "runbooks/backup/index.html", '<h2 id="step-1">Step 1</h2>')
    _page(site, "lonely/index.html", '<a href="../plan/">plan</a>')
    (site / "assets").mkdir()
    (site / "assets" / "site.css").write_text("body {}")
    return site


def test_every_internal_link_and_anchor_is_resolved(tmp_path: Path) -> None:
    links = scan_site(_site(tmp_path))
    broken = {(b.page, b.href): b.reason for b in links.broken}
    assert broken == {
        ("index.html", "plan/#no-such-heading"): "no element with id 'no-such-heading'",
        ("index.html", "reference/gone/"): "reference/gone/index.html is not in the site",
    }
    # plan/, plan/#on-call-roles, the two broken ones, the stylesheet, #top; ../, the runbook;
    # lonely's link to the plan.
    assert links.internal == 9


def test_orphans_are_pages_nothing_else_links_to(tmp_path: Path) -> None:
    assert scan_site(_site(tmp_path)).orphans == ["lonely/index.html"]


def test_external_links_are_listed_with_their_pages(tmp_path: Path) -> None:
    links = scan_site(_site(tmp_path))
    assert links.external == {
        "https://example.org/a?b=1&c=2": ["index.html"],
        "https://cdn.example.org/x.js": ["plan/index.html"],
    }


def test_the_plans_runbooks_and_the_runbooks_references_need_pages(tmp_path: Path) -> None:
    site = _site(tmp_path)
    _page(site, "reference/observability/index.html", "")
    runbooks = tmp_path / "runbooks"
    for name, category, references in (
        ("backup", "Backups", ["observability.md"]),
        ("cleaning", "Cleaning", ["observability.md", "missing.md"]),
    ):
        path = runbooks / "daily" / f"{name}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"category": category, "references": references}
        path.write_text(json.dumps(notebook([], meta=meta, name=name)))
    tasks = (
        PlanTask("daily", "Backups", "backups", ()),
        PlanTask("yearly", "Documentation", "docs", ()),
    )
    coverage = site_coverage(site, discover(runbooks), tasks)
    assert coverage.missing_runbook_pages == ("cleaning",)
    assert coverage.missing_references == (("cleaning", "missing.md"),)
    assert [task.category for task in coverage.tasks_without_runbook] == ["Documentation"]
