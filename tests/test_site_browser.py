"""The published site in a real browser: Playwright driving Debian's Chromium, offline.

One module-wide site: a copy of this project with a real health-check run (the CLI on the
embedded demo), deployed twice with mike (1.0, then 2.0 as `latest` and default) into a git
repository with no remote, the gh-pages branch served over HTTP on 127.0.0.1. A second, small
site carries a report tampered with after publication.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from helpers.browser import Browser, Traffic, chromium, require_browser, serve
from helpers.processes import answers, background_upkeep
from helpers.project import CHECK_OK, REPO, Project
from helpers.site_repo import export_branch, make_site_repository

from upkeep import demo
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


TABS = 8


def test_every_page_loads_offline_without_errors(site: PublishedSite, browser: Browser) -> None:
    pages = _pages(site.served / "2.0")
    assert "." in pages and f"runbooks/{RUNBOOK}" in pages
    assert any(site.run["run_id"] in path for path in pages)
    failures = {}
    # Pages load TABS at a time, each in a tab of its own with its own record of traffic: a
    # page is only done after half a second without requests, which the tabs wait out together.
    for start in range(0, len(pages), TABS):
        loading = []
        for path in pages[start : start + TABS]:
            tab, traffic = browser.new_watched_page()
            url = f"{site.base}/latest/" + ("" if path == "." else f"{path}/")
            response = tab.goto(url, wait_until="commit")
            assert response is not None and response.ok, url
            loading.append((path, tab, traffic))
        for path, tab, traffic in loading:
            tab.wait_for_load_state("networkidle")
            tab.close()
            if traffic.outside or traffic.errors:
                failures[path] = traffic.outside + traffic.errors
    assert failures == {}


# What someone who can write to the evidence might add to a report: a script that reports
# whether it ran, and on which origin.
TAMPERING = (
    "<script>fetch('/script-ran-on/' + encodeURIComponent(location.origin));"
    "localStorage.setItem('tampered', 'ran');</script>"
)
SMALL_SITE = "site_name: small\ntheme: {name: material, font: false}\nplugins: [search, upkeep]\n"


def _script_ran(traffic: Traffic) -> list[str]:
    return [url for url in traffic.requests if "/script-ran-on/" in url]


def test_a_tampered_report_runs_no_script_on_the_sites_origin(
    project: Project, page: Page, browser: Browser
) -> None:
    """The run page embeds the report sandboxed; "open the report on its own" shows it with
    the same restrictions, so a report whose bytes were changed runs nothing on the site."""
    project.add_runbook("probe", [CHECK_OK])
    assert project.upkeep("run", "probe").code == 0
    [run_dir] = project.run_dirs()
    report = run_dir / "report.html"
    # Tampered after publication: the report's own policy taken out, a script put in.
    html = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", report.read_text())
    report.write_text(html.replace("</body>", TAMPERING + "</body>"))
    (project.root / "mkdocs.yml").write_text(SMALL_SITE)
    (project.root / "docs").mkdir()
    (project.root / "docs" / "index.md").write_text("# Small\n")
    site = project.root / "public"
    built = project.upkeep("site", "build", "--site-dir", str(site), timeout=300)
    assert built.code == 0, built.text
    relpath = run_dir.relative_to(project.evidence).as_posix()
    with serve(site) as base:
        # Guards the test: opened by the copy's own address, the tampering does run.
        page.goto(f"{base}/{relpath}/report.html", wait_until="networkidle")
        assert _script_ran(browser.traffic), "the tampered report's script never ran"
        page.evaluate("localStorage.clear()")
        browser.traffic.clear()

        page.goto(f"{base}/{relpath}/", wait_until="networkidle")
        page.get_by_role("link", name="Open the report on its own").click()
        page.wait_for_load_state("networkidle")
        assert _script_ran(browser.traffic) == [], "the report ran script on the site's origin"
        assert page.evaluate("localStorage.getItem('tampered')") is None
        assert page.url == f"{base}/{relpath}/report/"
        shown = page.frame_locator("iframe").locator("body")
        assert "probe" in shown.inner_text().lower()  # the report is there to read


def test_the_site_opens_as_the_readme_says(tmp_path: Path, page: Page, browser: Browser) -> None:
    """Decided: the site is read through a web server, not from disk. Its links are folder
    URLs (`runbooks/health-check/`), which a browser shows from disk as folder listings, and
    Material's search cannot load its index from `file://`; making it work from disk would
    change every page's address. So the README says to serve it, and serving it works: the
    real `upkeep site serve`, offline, without a console error, search included."""
    readme = (REPO / "README.md").read_text()
    assert "open `site/index.html`" not in readme
    assert "`upkeep site serve`" in readme and "needs a web server" in readme
    project = Project(make_site_repository(tmp_path / "project"))
    address = f"127.0.0.1:{demo.free_port()}"
    with background_upkeep(project, "site", "serve", "--dev-addr", address) as upkeep:
        upkeep.wait_for(lambda: answers(f"http://{address}/"), "the site answered", timeout=180)
        # "load", not "networkidle": mkdocs serve keeps a live-reload request open.
        page.goto(f"http://{address}/", wait_until="load")
        page.locator(f'.md-content a[href$="runbooks/{RUNBOOK}/"]').first.click()
        page.wait_for_url(f"**/runbooks/{RUNBOOK}/")
        page.locator("input.md-search__input").click()
        page.keyboard.type(RUNBOOK)
        page.locator(f'a.md-search-result__link[href*="/runbooks/{RUNBOOK}/"]').first.wait_for()
        assert any(url.endswith("search/search_index.json") for url in browser.traffic.requests)
        assert browser.traffic.outside == [] and browser.traffic.errors == []
        err = upkeep.signal(signal.SIGTERM)
        assert upkeep.process.returncode == 128 + signal.SIGTERM, err
        assert upkeep.still_running() == []


def test_a_long_unbroken_message_keeps_the_pages_in_their_width(
    project: Project, page: Page, browser: Browser
) -> None:
    # A 5,000-character check message without a space made the run page 35,940 px wide and
    # squeezed the dashboard's Check column to one character per line.
    long_word = "x" * 5000
    project.add_runbook(
        "wordy",
        [
            (
                "code",
                f"from upkeep import report\nreport.check('long', 'fail', message={long_word!r})",
            )
        ],
    )
    assert project.upkeep("run", "wordy").code == 1
    site = project.root / "public"  # the shipped site, its dashboard on the home page
    built = project.upkeep("site", "build", "--site-dir", str(site), timeout=300)
    assert built.code == 0, built.text
    [run_dir] = project.run_dirs()
    relpath = run_dir.relative_to(project.evidence).as_posix()
    page.set_viewport_size({"width": 1280, "height": 900})
    with serve(site) as base:
        for address in (f"{base}/{relpath}/", f"{base}/"):
            page.goto(address, wait_until="networkidle")
            assert long_word[:50] in page.content()  # the message is on the page
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 1280, f"{address} is {width} px wide"
