"""The published site in a real browser: Playwright driving Debian's Chromium, offline.

One module-wide site: a copy of this project with a real health-check run (the CLI on the
embedded demo), deployed twice with mike (1.0, then 2.0 as `latest` and default) into a git
repository with no remote, the gh-pages branch served over HTTP on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from helpers.browser import Browser, Traffic, chromium, require_browser, serve
from helpers.project import Project
from helpers.site_repo import export_branch, make_site_repository

from upkeep.config import load_config
from upkeep.site.publish import publish_version

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.slow
RUNBOOK = "health-check"


@dataclass(frozen=True)
class PublishedSite:
    base: str
    served: Path
    run: dict[str, Any]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PublishedSite]:
    require_browser()
    project = Project(make_site_repository(tmp_path_factory.mktemp("site") / "project"))
    result = project.upkeep("run", RUNBOOK, timeout=300)
    assert result.code == 0, result.text
    [run] = project.records()
    config = load_config(project.config)
    publish_version(config, "1.0")
    publish_version(config, "2.0")
    served = export_branch(project.root, "gh-pages", tmp_path_factory.mktemp("served"))
    with serve(served) as base:
        yield PublishedSite(base, served, run)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    require_browser()
    with chromium(tmp_path_factory.mktemp("profile")) as launched:
        yield launched


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    browser.traffic.clear()
    opened = browser.new_page()
    yield opened
    opened.close()


def _assert_local_and_quiet(traffic: Traffic) -> None:
    assert traffic.requests, "the browser recorded no request at all"
    assert traffic.outside == [], "requests left the machine"
    assert traffic.errors == [], "the browser reported errors"


def test_the_harness_sees_outside_requests_and_errors(
    tmp_path: Path, page: Page, browser: Browser
) -> None:
    """Guards the other tests: a page that reaches out and errs is caught, and nothing is sent."""
    (tmp_path / "index.html").write_text(
        "<!doctype html><title>t</title>"
        '<link rel="stylesheet" href="https://fonts.googleapis.com/css?family=Roboto">'
        '<img src="missing.png" alt="">'
        "<script>console.error('logged'); undefined_function();</script>"
    )
    with serve(tmp_path) as base:
        page.goto(f"{base}/", wait_until="networkidle")
    assert browser.traffic.outside == ["https://fonts.googleapis.com/css?family=Roboto"]
    errors = "\n".join(browser.traffic.errors)
    assert "logged" in errors and "undefined_function" in errors and "404" in errors


def test_dashboard_to_runbook_to_run_shows_the_checks(
    site: PublishedSite, page: Page, browser: Browser
) -> None:
    page.goto(f"{site.base}/")
    page.wait_for_url("**/latest/")  # the root redirects to the default version
    page.locator(f'.md-content a[href$="runbooks/{RUNBOOK}/"]').first.click()
    page.wait_for_url(f"**/latest/runbooks/{RUNBOOK}/")

    run_id = site.run["run_id"]
    page.locator(f'.md-content a[href*="{run_id}"]').first.click()
    page.wait_for_url(f"**/{run_id}/**")
    checks = page.locator("table", has_text=site.run["checks"][0]["name"]).first
    checks.wait_for()
    rows = checks.locator("tr").evaluate_all(
        "rows => rows.map(row => [...row.cells].map(cell => cell.innerText.trim()))"
    )
    for check in site.run["checks"]:
        [cells] = [cells for cells in rows if check["name"] in cells]
        assert check["status"].upper() in cells  # the status as a word, not colour alone

    # The report links the runbook exactly as it ran.
    version = site.run["runbook"]["sha256"][:12]
    page.locator(f'a[href$="runbooks/{RUNBOOK}/{version}/"]').first.click()
    page.wait_for_url(f"**/latest/runbooks/{RUNBOOK}/{version}/")
    page.wait_for_load_state("networkidle")
    _assert_local_and_quiet(browser.traffic)


def test_search_finds_a_runbook_by_name(site: PublishedSite, page: Page, browser: Browser) -> None:
    page.goto(f"{site.base}/latest/")
    page.locator("input.md-search__input").click()
    # Typed key by key: Material searches on keyboard input, not on a value set at once.
    page.keyboard.type(RUNBOOK)
    # The page itself, not one of its sections; search.highlight appends `?h=...` to the link.
    hit = page.locator(
        f'a.md-search-result__link[href*="/runbooks/{RUNBOOK}/"]:not([href*="#"])'
    ).first
    hit.wait_for()
    hit.click()
    page.wait_for_url(f"**/latest/runbooks/{RUNBOOK}/**")
    assert any(url.endswith("search/search_index.json") for url in browser.traffic.requests)
    _assert_local_and_quiet(browser.traffic)


def test_version_selector_lists_both_versions(
    site: PublishedSite, page: Page, browser: Browser
) -> None:
    page.goto(f"{site.base}/latest/")
    selector = page.locator(".md-version")
    selector.wait_for()
    assert page.locator(".md-version__current").inner_text() == "2.0"
    links = page.locator(".md-version__link")
    assert links.all_inner_texts() == ["2.0", "1.0"]
    selector.hover()  # the list opens on hover
    links.filter(has_text="1.0").click()
    page.wait_for_url("**/1.0/**")
    page.locator(".md-version__current").filter(has_text="1.0").wait_for()
    _assert_local_and_quiet(browser.traffic)


def _pages(version_dir: Path) -> list[str]:
    """Every page of one deployed version, as the files on the branch list them."""
    return sorted(
        str(index.parent.relative_to(version_dir))
        for index in version_dir.rglob("index.html")
        if "assets" not in index.parts
    )


def test_every_page_loads_offline_without_errors(
    site: PublishedSite, page: Page, browser: Browser
) -> None:
    pages = _pages(site.served / "2.0")
    assert "." in pages and f"runbooks/{RUNBOOK}" in pages
    assert any(site.run["run_id"] in path for path in pages)
    failures = {}
    for path in pages:
        browser.traffic.clear()
        url = f"{site.base}/latest/" + ("" if path == "." else f"{path}/")
        response = page.goto(url, wait_until="networkidle")
        assert response is not None and response.ok, url
        if browser.traffic.outside or browser.traffic.errors:
            failures[path] = browser.traffic.outside + browser.traffic.errors
    assert failures == {}
