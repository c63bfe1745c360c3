"""The site, built for real: `upkeep site build` (strict mkdocs, Material, macros, the upkeep
plugin) on a project with real runs, one of them tampered with after publication."""

from __future__ import annotations

import hashlib
import html
import json
import re
import shutil
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers.git import git
from helpers.hostile_html import Parsed
from helpers.project import CHECK_OK, REPO, Project

from upkeep.evidence import EvidenceStore
from upkeep.records import RunRecord
from upkeep.registry import discover
from upkeep.site.runbook_pages import notebook_markdown

pytestmark = pytest.mark.slow

BRACES_OUTPUT = "template-like output: {{ not_a_macro }} and {% if x %}"
BRACES_SHELL = "echo '{{ shell_braces }}' {% raw %}"
# Relative links as notebooks carry them (papermill's own binder.ipynb links simple_execute.ipynb):
# beside the notebook, not into the site.
LINKS_MARKDOWN = (
    "See [the weekly updates](../weekly/weekly-updates.ipynb), "
    "[papermill's input](simple_execute.ipynb), [the notes](notes.md), ![a diagram](diagram.png), "
    "[a reference][guide] and [the docs](https://example.org/guide.md).\n\n[guide]: ./guide.md"
)
BRACES_CELLS = [
    ("markdown", f"## Step one\n\nBy hand:\n\n```sh\n{BRACES_SHELL}\n```"),
    ("markdown", LINKS_MARKDOWN),
    (
        "code",
        "from upkeep import report\n"
        f"print({BRACES_OUTPUT!r})\n"
        "report.check('braces', 'ok', message='{{ still_not_a_macro }}')\n"
        "report.finding('braces:open', 'an open finding {{ x }}', severity='warn')",
    ),
]
LITERAL_PAGE = "# Literal\n\n```sh\necho '{{ dashboard() }}' {% if %}\n```\n\nText {{ nope }}.\n"
STUB = "# {title}\n\nStand-in for the page another engineer writes.\n"


# --- the project --------------------------------------------------------------------------


def _copy_site_sources(root: Path) -> None:
    """The repo's mkdocs.yml and docs/, with a stand-in for any nav page not written yet."""
    shutil.copy(REPO / "mkdocs.yml", root / "mkdocs.yml")
    shutil.copytree(REPO / "docs", root / "docs")
    for name in ("pyproject.toml", "CHANGELOG.md"):
        shutil.copy(REPO / name, root / name)
    (root / "changelog").mkdir()
    (root / "changelog" / "41.bugfix.md").write_text("Fixed the {{ frobnicator }} on Tuesdays.\n")
    nav = yaml.load((root / "mkdocs.yml").read_text(), Loader=_IgnoreTags)["nav"]
    for page in _nav_pages(nav):
        path = root / "docs" / page
        if not path.exists() and not page.startswith(
            (
                "runbooks/",
                "runs/",
                "decisions.md",
                "risk-register.md",
                "on-call.md",
                "silences.md",
                "support.md",
                "record-of-processing.md",
                "coverage.md",
                "maintenance-review.md",
                "quarterly-review.md",
                "backlog.md",
                "maintenance-log.md",
            )
        ):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(STUB.format(title=Path(page).stem))


class _IgnoreTags(yaml.SafeLoader):
    pass


_IgnoreTags.add_multi_constructor("", lambda loader, suffix, node: None)


def _nav_pages(nav: Any) -> list[str]:
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, dict):
        return [p for value in nav.values() for p in _nav_pages(value)]
    if isinstance(nav, list):
        return [p for item in nav for p in _nav_pages(item)]
    return []


def _synthetic_run(
    store: EvidenceStore,
    runbook_path: Path,
    name: str,
    started: datetime,
    status: str,
    **extra: Any,
) -> Path:
    """A run published through the evidence store, as the executor would leave it."""
    run_id = f"{started:%Y%m%dT%H%M%SZ}-{name}-{hashlib.sha1(name.encode()).hexdigest()[:4]}"
    staging = store.new_staging(run_id)
    (staging / "report.html").write_text(f"<!DOCTYPE html><title>{run_id}</title><p>{status}</p>")
    (staging / "notebook.ipynb").write_text(runbook_path.read_text())
    iso = started.isoformat().replace("+00:00", "Z")
    record = {
        "schema": 1,
        "run_id": run_id,
        "runbook": {
            "name": name,
            "title": f"Test runbook {name}",
            "path": f"runbooks/{runbook_path.parent.name}/{runbook_path.name}",
            "sha256": hashlib.sha256(runbook_path.read_bytes()).hexdigest(),
        },
        "parameters": {},
        "secret_parameters": [],
        "trigger": "schedule",
        "as_of": iso,
        "started_at": iso,
        "ended_at": iso,
        "duration_s": 1.5,
        "status": status,
        "checks": [{"name": "thing", "status": status, "message": f"synthetic {status} check"}],
        "metrics": [],
        "findings": [],
        "error": None,
        **extra,
    }
    return store.publish(staging, RunRecord.from_json(record)).path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("site")
    (root / "runbooks").mkdir()
    (root / "upkeep.yml").write_text("version: 1\nevidence_dir: evidence\nstate_dir: state\n")
    project = Project(root)
    project.add_runbook("braces-check", BRACES_CELLS, meta={"references": ["observability.md"]})
    weekly = project.add_runbook(
        "weekly-updates", [("code", "x = 1")], cadence="weekly", meta={"category": "Updates"}
    )
    project.add_runbook(
        "odd-one", [("code", "x = 1")], cadence="monthly", meta={"category": "Not In The Plan"}
    )
    run = project.upkeep("run", "braces-check")
    assert run.code == 0, run.text
    # The runbook changes after its run: the run's version now lives only in the evidence.
    project.add_runbook(
        "braces-check",
        BRACES_CELLS,
        meta={"references": ["observability.md"], "summary": "Changed after the run."},
    )
    store = EvidenceStore(project.evidence)
    october = datetime(2026, 10, 5, 3, 0, tzinfo=UTC)
    tampered = _synthetic_run(store, weekly, "weekly-updates", october, "ok")
    failing = _synthetic_run(
        store,
        weekly,
        "weekly-updates",
        october.replace(day=12),
        "fail",
        findings=[{"kind": "finding", "key": "log:app", "message": MARKUP, "severity": "fail"}],
    )
    report = tampered / "report.html"
    data = bytearray(report.read_bytes())
    data[-5] ^= 0x01  # one byte, after publication
    report.write_bytes(bytes(data))
    _copy_site_sources(root)
    (root / "docs" / "literal.md").write_text(LITERAL_PAGE)
    site = root / "public"
    result = project.upkeep("site", "build", "--site-dir", str(site), timeout=300)
    [real] = [d for d in project.run_dirs() if "braces-check" in d.name]
    return {
        "project": project,
        "result": result,
        "site": site,
        "real": real.relative_to(project.evidence).as_posix(),
        "failing": failing.relative_to(project.evidence).as_posix(),
        "tampered": tampered.relative_to(project.evidence).as_posix(),
    }


MARKUP = "<img src=x onerror=alert(1)> ERROR login failed"


def _page(built: dict[str, Any], url: str) -> str:
    return (built["site"] / url / "index.html").read_text()


def _plain(page: str) -> str:
    """The page's text as a reader sees it (highlighting spans removed, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def _text(page: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


# --- the tests ----------------------------------------------------------------------------


def test_strict_build_passes(built: dict[str, Any]) -> None:
    result = built["result"]
    assert result.code == 0, result.text
    assert "site built in" in result.out
    for url in ("", "plan", "runbooks", "runbooks/braces-check", "runs", "changelog"):
        assert (built["site"] / url / "index.html").is_file(), url
    # Nothing generated lands in docs/.
    docs = built["project"].root / "docs"
    assert not (docs / "runbooks").exists() and not (docs / "runs").exists()


def test_checklist_lists_every_runbook_with_its_cadence(built: dict[str, Any]) -> None:
    project = built["project"]
    rows = re.findall(r"<tr>(.*?)</tr>", _page(built, "plan"), re.S)
    registry = discover(project.root / "runbooks", project.root)
    assert len(registry) == 3
    for name, runbook in registry.items():
        linked = [r for r in rows if f'href="../runbooks/{name}/"' in r]
        assert linked, f"{name} is missing from the checklist"
        cells = re.findall(r"<td>(.*?)</td>", linked[0], re.S)
        assert _text(cells[0]).strip() == runbook.cadence
        assert _text(cells[1]).strip() == runbook.category
    tasks = yaml.safe_load((project.root / "docs" / "plan-tasks.yml").read_text())["tasks"]
    implemented = {(rb.cadence, rb.category) for rb in registry.values()}
    missing = [t for t in tasks if (t["frequency"], t["category"]) not in implemented]
    assert missing, "the real plan has tasks with no runbook"
    unimplemented_rows = [r for r in rows if "no runbook yet" in r]
    assert len(unimplemented_rows) == len(missing)
    odd = next(r for r in rows if "runbooks/odd-one/" in r)
    assert "not a task of the plan" in odd


def test_tampered_run_is_shown_as_not_verifying(built: dict[str, Any]) -> None:
    bad = _page(built, built["tampered"])
    assert "does NOT verify" in bad and 'class="uk-alert"' in bad
    assert "report.html: sha256 mismatch" in bad
    assert re.search(r"<code>report\.html</code>.*?DOES NOT VERIFY", bad)
    good = _page(built, built["failing"])
    assert "Evidence verifies" in good and "uk-alert" not in good
    month = _page(built, "runs/2026/10")
    assert "1 run(s) of this month do NOT verify" in month
    dashboard = _page(built, "")
    assert "Evidence does NOT verify" in dashboard
    # Where people look first, its checks (from a run.json that may be altered) are flagged.
    [flagged] = [
        row for row in re.findall(r"<tr>(.*?)</tr>", dashboard, re.S) if "DOES NOT VERIFY" in row
    ]
    assert built["tampered"].split("/")[-1] in flagged and "weekly-updates" in flagged
    assert re.search(r'class="uk-chip uk-ok uk-chip-bad" href="[^"]*weekly-updates', dashboard)
    # The report's stand-alone view says so too, above the report.
    assert "This run's evidence does NOT verify" in _page(built, f"{built['tampered']}/report")
    assert "NOT verify" not in _page(built, f"{built['failing']}/report")
    # The site's copy of the report is the evidence's bytes, tampered ones included.
    evidence = built["project"].evidence / built["tampered"] / "report.html"
    assert (built["site"] / built["tampered"] / "report.html").read_bytes() == evidence.read_bytes()


def test_braces_in_outputs_and_snippets_do_not_break_the_build(built: dict[str, Any]) -> None:
    run_page = _page(built, built["real"])
    assert "{{ still_not_a_macro }}" in run_page
    assert "an open finding {{ x }}" in _page(built, "")  # the dashboard's open findings
    assert "not_a_macro" in (built["site"] / built["real"] / "report.html").read_text()
    runbook_page = _plain(_page(built, "runbooks/braces-check"))
    assert BRACES_SHELL in runbook_page
    assert f"print({BRACES_OUTPUT!r})" in runbook_page  # the code cell, as code
    assert runbook_page.count("template-like output") == 1  # and not its output


def test_macros_render_only_where_a_page_asks(built: dict[str, Any]) -> None:
    literal = _plain(_page(built, "literal"))
    assert "echo '{{ dashboard() }}' {% if %}" in literal and "Text {{ nope }}." in literal


def test_a_run_links_the_runbook_version_it_ran(built: dict[str, Any]) -> None:
    record = json.loads((built["project"].evidence / built["real"] / "run.json").read_text())
    old = record["runbook"]["sha256"][:12]
    page = _plain(_page(built, f"runbooks/braces-check/{old}"))
    assert "the executed notebook of run" in page  # the file has changed since; no git here
    assert "Step one" in page and BRACES_SHELL in page
    assert "template-like output" in page and page.count("template-like output") == 1  # no output
    current = _plain(_page(built, "runbooks/braces-check"))
    assert "Changed after the run." in current and old in current  # listed as an earlier version


def _hrefs(page: str) -> list[str]:
    return re.findall(r'<a [^>]*href="([^"]*)"', page)


def test_relative_links_in_runbook_markdown_never_break_the_build(built: dict[str, Any]) -> None:
    """A link to another runbook's notebook becomes a link to its page; any other relative link
    becomes its text (the strict build passing is test_strict_build_passes)."""
    record = json.loads((built["project"].evidence / built["real"] / "run.json").read_text())
    pages = {
        "runbooks/braces-check": "../weekly-updates/",
        f"runbooks/braces-check/{record['runbook']['sha256'][:12]}": "../../weekly-updates/",
    }
    for url, weekly_href in pages.items():
        page = _page(built, url)
        assert f'<a href="{weekly_href}">the weekly updates</a>' in page, url
        text = _plain(page)
        for words in ("papermill's input", "the notes", "a diagram", "a reference"):
            assert words in text, (url, words)
        hrefs = _hrefs(page)
        assert "https://example.org/guide.md" in hrefs
        assert not [h for h in hrefs if re.search(r"(ipynb|notes|guide|diagram)", h)
                    and not h.startswith("https:")], (url, hrefs)  # fmt: skip


def test_runbook_markdown_links_outside_code_only_and_without_papermills_markers() -> None:
    nb = {
        "cells": [
            {"cell_type": "markdown", "source": "# Title\n\nWhy."},
            {
                "cell_type": "markdown",
                "metadata": {"tags": ["papermill-error-cell-tag"]},
                "source": "<span>An Exception was encountered at 'In [1]'.</span>",
            },
            {
                "cell_type": "markdown",
                "source": "[next](next-step.ipynb#part) and `[kept](kept.md)`\n\n"
                "```sh\ncat [also kept](kept.md)\n```\n\n[top](#why)",
            },
        ]
    }
    markdown = notebook_markdown(nb, {"next-step"}, "../")
    assert "[next](../next-step.md)" in markdown
    assert "`[kept](kept.md)`" in markdown and "cat [also kept](kept.md)" in markdown
    assert "[top](#why)" in markdown
    assert "An Exception was encountered" not in markdown


HOSTILE_MARKDOWN = (
    'Step <script>alert("md")</script> <img src="http://evil.example/a.png">'
    ' <iframe src="http://evil.example/"></iframe> <a href="javascript:alert(2)">clk</a>'
    ' <div style="background:url(http://evil.example/b.png)">s</div> <svg onload=alert(4)></svg>'
    " [run](javascript:alert(3)) [data](data:text/html,x) ![remote](https://evil.example/c.png)"
    " restore <database> from `<backup id>`; see <https://example.org/doc> or <ops@example.org>"
)


def test_a_runbooks_raw_html_and_script_links_are_text_on_its_page(project: Project) -> None:
    # They were published live: a script ran on the audit site, and it loaded from outside.
    path = project.add_runbook("hostile", [("markdown", HOSTILE_MARKDOWN), CHECK_OK])
    markdown = notebook_markdown(json.loads(path.read_text()))
    assert "&lt;script>" in markdown and "&lt;database>" in markdown
    assert "`<backup id>`" in markdown  # code is shown as it is
    assert "](javascript:" not in markdown and "data:text" not in markdown
    assert "evil.example/c.png" not in markdown and "remote" in markdown

    result = project.upkeep("site", "build", timeout=300)

    assert result.code == 0, result.text
    page = (project.root / "site" / "runbooks" / "hostile" / "index.html").read_text()
    body = page[page.index("<article") : page.index("</article>")]  # the runbook's own
    for live in ("<script", "<iframe", '<img src="http', "<svg", "<div style", '<a href="java'):
        assert live not in body, live
    assert "evil.example/c.png" not in body
    assert 'href="https://example.org/doc"' in body  # an autolink is still a link
    assert "restore &lt;database&gt;" in body


def test_an_invalid_runbook_is_on_the_site_with_its_problem(project: Project) -> None:
    """It used to stop the build: the nightly then had no dashboard at all."""
    project.add_runbook("fine", [CHECK_OK])
    project.add_runbook("broken", [CHECK_OK], meta={"cadence": "fortnightly"})
    # The nightly's steps (noxfile.py): run --due, verify, list, then the site all the same.
    assert project.upkeep("run", "--due").code == 2  # `fine` ran, `broken` was named
    assert project.upkeep("verify").code == 0
    assert project.upkeep("list").code == 2
    result = project.upkeep("site", "build", timeout=300)
    assert result.code == 0, result.text
    problem = "runbook broken (runbooks/daily/broken.ipynb): metadata.upkeep.cadence"
    dashboard = _plain((project.root / "site" / "index.html").read_text())
    assert "1 runbook cannot run" in dashboard and problem in dashboard
    assert "runbooks/fine/" in (project.root / "site" / "index.html").read_text()
    index = _plain((project.root / "site" / "runbooks" / "index.html").read_text())
    assert "Runbooks that cannot run" in index and problem in index


def test_a_runbooks_title_and_summary_are_text_on_its_page(project: Project) -> None:
    # The summary went into the page as Markdown with raw HTML: an onerror handler and a
    # javascript: link ran; attr_list's `{: onclick=... }` put a handler on the heading. Title
    # markup (< >) is refused at discovery (test_registry); the rest is shown as text here.
    summary = 'Disk report <img src=x onerror="alert(1)"> and [help](javascript:alert(2)).'
    title = "[Disk](javascript:alert(3)) report"
    project.add_runbook("report", [CHECK_OK], meta={"title": title, "summary": summary})
    attr_summary = "Disk usage.\n{: onmouseover=alert(2) style=position:fixed;inset:0 }"
    attr_title = "Disk report {: onclick=alert(1) }"
    project.add_runbook("attrs", [CHECK_OK], meta={"title": attr_title, "summary": attr_summary})
    result = project.upkeep("site", "build", timeout=300)
    assert result.code == 0, result.text
    for name, shown in (("report", (title, summary)), ("attrs", (attr_title, attr_summary))):
        page = Parsed((project.root / "site" / "runbooks" / name / "index.html").read_text())
        hrefs = [a.get("href") or "" for a in page.named("a")]
        assert not [href for href in hrefs if href.startswith("javascript:")]
        handlers = [key for _, attrs in page.tags for key in attrs if key.startswith("on")]
        assert handlers == [], name  # no onerror, onclick or onmouseover
        text = " ".join("".join(page.text).split())
        assert all(" ".join(part.split()) in text for part in shown), name


def test_a_dry_run_that_passed_does_not_hide_the_real_run_that_failed(project: Project) -> None:
    # The dashboard showed OK (dry run), sorted the runbook with the passing ones and dropped the
    # failed check from "Checks that did not pass", while the failed real run stood for the period.
    project.add_runbook("fine", [CHECK_OK])
    project.add_runbook(
        "purge",
        [
            (
                "code",
                "from upkeep import report\n"
                "if dry_run:\n    report.dry_run()\n"
                "report.check('space-freed', 'ok' if dry_run else 'fail', message='freed 0 B')",
            )
        ],
        params="dry_run: bool = False  # only say what would go",
    )
    assert project.upkeep("run", "fine", "purge").code == 1
    assert project.upkeep("run", "purge", "-p", "dry_run=yes").code == 0
    assert project.upkeep("site", "build", timeout=300).code == 0
    dashboard = _plain((project.root / "site" / "index.html").read_text())
    failing = dashboard.rsplit("Checks that did not pass", 1)[1]  # the section, not the toc
    assert "FAILpurgespace-freedfreed 0 B" in failing  # cells run together in the plain text
    table = dashboard.split("Every runbook with its last status", 1)[1]
    assert "(last real run: FAIL)" in table
    assert table.index("purge") < table.index("fine")  # failing first


def test_a_damaged_ledger_line_is_named_on_the_dashboard_not_counted_as_runs(
    project: Project,
) -> None:
    # The banner said "0 run(s) do not match the ledger" for a ledger line that was not one.
    project.add_runbook("fine", [CHECK_OK])
    assert project.upkeep("run", "fine").code == 0
    with (project.evidence / "ledger.jsonl").open("a") as ledger:
        ledger.write("not json {\n")
    assert project.upkeep("site", "build", timeout=300).code == 0
    dashboard = _plain((project.root / "site" / "index.html").read_text())
    assert "0 run(s)" not in dashboard
    assert "Evidence does NOT verify: 1 problem(s) of the ledger or folders:" in dashboard
    assert "ledger line 2: not a ledger line" in dashboard


def test_a_config_of_its_own_builds_the_shipped_site_with_pages_of_its_own(
    project: Project,
) -> None:
    """No mkdocs.yml beside upkeep.yml: the site's sources come from the package, the user's
    folder adds and replaces pages, and a runbook's by-hand commands show this system's paths."""
    pages = project.root / "ops-pages"
    pages.mkdir()
    (pages / "contacts.md").write_text("# Contacts\n\nThe database owner is Ada (ext. 42).\n")
    (pages / "index.md").write_text(
        "---\nrender_macros: true\n---\n\n# ACME operations\n\nOur words.\n\n{{ dashboard() }}\n"
    )
    (project.root / "app.log").write_text("")
    with project.config.open("a") as config:
        config.write(
            "site: {name: ACME upkeep, docs_dir: ops-pages, site_dir: public}\n"
            "logs:\n  - {name: app, path: app.log}\n"
        )
    by_hand = (
        "## By hand\n\n```sh\ngrep -c ERROR {{ logs.app.path }}\n"
        "sqlite3 {{ databases.app.path }} .tables\necho '{{ not_a_key }}'\n```"
    )
    project.add_runbook("log-look", [("markdown", by_hand), CHECK_OK])
    assert not (project.root / "mkdocs.yml").exists()

    result = project.upkeep("site", "build", timeout=300)

    assert result.code == 0, result.text
    site = project.root / "public"
    home = (site / "index.html").read_text()
    assert "<title>ACME upkeep</title>" in home and "Our words." in home  # its own home page
    assert "runbooks/log-look/" in home  # with the dashboard macro in it
    assert 'href="contacts/"' in home  # its own page, in the navigation
    assert "Ada (ext. 42)" in (site / "contacts" / "index.html").read_text()
    assert (site / "reference" / "recovery-strategy" / "index.html").is_file()  # shipped pages
    page = _plain((site / "runbooks" / "log-look" / "index.html").read_text())
    assert f"grep -c ERROR {project.root / 'app.log'}" in page
    assert "sqlite3 «not configured: databases.app.path» .tables" in page
    assert "echo '{{ not_a_key }}'" in page
    assert f"upkeep --config {project.config} run log-look" in page


def test_run_pages_stay_out_of_nav_and_search(built: dict[str, Any]) -> None:
    site = built["site"]
    run_url = re.compile(r"runs/\d{4}/\d{2}/[^/\"]+/")
    for page in site.rglob("*.html"):
        text = page.read_text()
        for link in re.findall(r'<a[^>]*class="md-nav__link[^"]*"[^>]*>', text):
            assert not run_url.search(link), f"{page} has a run in its navigation: {link}"
    index = json.loads((site / "search" / "search_index.json").read_text())
    locations = {doc["location"] for doc in index["docs"]}
    assert not any(run_url.match(loc) for loc in locations)
    assert not any(
        loc.startswith("runbooks/weekly-updates/") and loc.count("/") > 2
        for loc in locations
        if "#" not in loc
    )  # version pages excluded
    month = " ".join(d["text"] for d in index["docs"] if d["location"].startswith("runs/2026/10/"))
    assert "synthetic fail check" in month  # the run's summary is searchable via its month
    run_page = _page(built, built["failing"])
    assert "md-nav" not in run_page and "search" not in run_page.lower()


def test_run_page_shows_the_run_and_links_resolve(built: dict[str, Any]) -> None:
    site = built["site"]
    page = _page(built, built["real"])
    for expected in (
        "Checks",
        "braces",
        "Metrics",
        "Findings",
        "Parameters",
        "Artifacts",
        "notebook.ipynb",
        "Duration",
        'src="report.html"',
    ):
        assert expected in page, expected
    record = json.loads((built["project"].evidence / built["real"] / "run.json").read_text())
    assert record["artifacts"]["report.html"] in page
    base = site / built["real"]
    for href in re.findall(r'(?:href|src)="([^"#]+)"', page):
        target = (base / href).resolve()
        assert target.is_file() or (target / "index.html").is_file(), href
    version = record["runbook"]["sha256"][:12]
    assert f"runbooks/braces-check/{version}/" in page
    assert "Step one" in _page(built, f"runbooks/braces-check/{version}")


def test_the_report_on_its_own_is_sandboxed_as_on_the_run_page(built: dict[str, Any]) -> None:
    """Both views frame the site's copy with an empty sandbox (no script, an origin of its
    own); the stand-alone page runs nothing itself and loads nothing but that frame."""
    run_page = _page(built, built["real"])
    page = Parsed(run_page)
    [embedded] = page.named("iframe")
    assert embedded["src"] == "report.html" and embedded["sandbox"] == ""
    # Never the copy itself, which a browser would open unsandboxed.
    assert re.findall(r'<a href="([^"]*)">Open the report on its own</a>', run_page) == ["report/"]
    view = Parsed(_page(built, f"{built['real']}/report"))
    [framed] = view.named("iframe")
    assert framed["src"] == "../report.html" and framed["sandbox"] == ""
    [policy] = [m["content"] for m in view.named("meta") if m.get("http-equiv")]
    assert "default-src 'none'" in (policy or "") and "script-src" not in (policy or "")
    assert view.named("script") == []
    download = [a for a in page.named("a") if a.get("href") == "report.html"]
    assert download and all("download" in a for a in download)


def test_run_page_and_report_show_the_record_the_same_way(built: dict[str, Any]) -> None:
    page = _page(built, built["real"])
    report = (built["project"].evidence / built["real"] / "report.html").read_text()
    for section in ("checks", "metrics", "findings", "parameters"):
        pattern = re.compile(rf'<section id="{section}">.*?</section>', re.S)
        [on_page], [in_report] = pattern.findall(page), pattern.findall(report)
        assert on_page == in_report, section
    assert '<span class="uk-status uk-ok">OK</span>' in page


def test_the_site_shows_evidence_written_by_0_1_0(tmp_path: Path) -> None:
    project = Project(tmp_path)
    (tmp_path / "runbooks").mkdir()
    project.config.write_text("version: 1\nevidence_dir: evidence\nstate_dir: state\n")
    shutil.copytree(Path(__file__).parent / "data" / "evidence-0.1.0", project.evidence)
    _copy_site_sources(tmp_path)
    site = tmp_path / "public"
    result = project.upkeep("site", "build", "--site-dir", str(site), timeout=300)
    assert result.code == 0, result.text
    dashboard = (site / "index.html").read_text()
    assert "Evidence verifies: all 4 runs match the ledger" in dashboard
    kinds = (site / "runs/2026/12/20261204T165213Z-all-kinds-fd23/index.html").read_text()
    assert '<span class="uk-status uk-warn">WARN</span> Test runbook all-kinds' in kinds
    assert "orphans:orders.customer_id" in kinds and "disk_used_percent" in kinds
    assert "(secret: the reference, never the value)" in kinds
    raised = (site / "runs/2026/12/20261204T165216Z-raises-ddfd/index.html").read_text()
    assert "KeyError" in raised and 'href="report.html#cell-id=cell-3"' in raised
    month = (site / "runs/2026/12/index.html").read_text()
    assert "skipped: locked: another run of this runbook is still going" in month


def test_dashboard_puts_failing_first_and_says_the_status(built: dict[str, Any]) -> None:
    page = _page(built, "")
    rows = re.findall(r"<tr><td><a href=\"runbooks/([a-z-]+)/\">.*?</tr>", page, re.S)
    # failing first, then never run (overdue), then ok and not due
    assert rows == ["weekly-updates", "odd-one", "braces-check"]
    assert ">OK<" in page and "NEVER RUN" in page
    runbook_page = _page(built, "runbooks/braces-check")
    config = built["project"].config
    assert f"upkeep --config {config} run braces-check" in _plain(runbook_page)
    assert 'href="../../reference/observability/"' in runbook_page


def test_no_page_loads_anything_from_the_internet(built: dict[str, Any]) -> None:
    external = re.compile(
        r"<(?:script|img|iframe)[^>]*\ssrc=\"(?:https?:)?//|"
        r"<link[^>]*\shref=\"(?:https?:)?//|@import\s+url\(\s*['\"]?(?:https?:)?//|"
        r"url\(\s*['\"]?https?://"
    )
    for path in built["site"].rglob("*"):
        if path.suffix in (".html", ".css"):
            match = external.search(path.read_text(errors="replace"))
            assert match is None, f"{path}: {match.group(0) if match else ''}"


def test_markup_in_a_finding_is_shown_as_text_everywhere(built: dict[str, Any]) -> None:
    # A finding may quote a log line; on the site it must stay text, never become markup.
    run_url = built["failing"]
    pages = {url: _page(built, url) for url in ("", "runs/2026/10", run_url)}
    for url, page in pages.items():
        assert "<img src=x" not in page, url
    assert html.escape(MARKUP, quote=True) in pages[run_url]
    assert html.escape(MARKUP, quote=True) in pages[""]  # open findings on the dashboard


def test_the_changelog_page_shows_unreleased_fragments(built: dict[str, Any]) -> None:
    page = _text(_page(built, "changelog"))
    assert "Unreleased" in page
    assert "Fixed the {{ frobnicator }} on Tuesdays. (#41)" in page


def test_a_plain_build_has_no_version_selector(built: dict[str, Any]) -> None:
    # Only mike writes versions.json; a plain build asking for it would 404 on every page.
    # (tests/test_site_publish.py checks that a mike deploy does carry the selector.)
    [config] = re.findall(
        r'<script id="__config" type="application/json">(.*?)</script>', _page(built, "")
    )
    assert json.loads(config)["version"] is None
    assert "provider: mike" in (REPO / "mkdocs.yml").read_text()


def test_a_damaged_ledger_line_hides_no_other_run(built: dict[str, Any], tmp_path: Path) -> None:
    from upkeep.config import load_config
    from upkeep.site.model import load_model

    copy = tmp_path / "copy"
    shutil.copytree(built["project"].root, copy, ignore=shutil.ignore_patterns("public"))
    ledger = copy / "evidence" / "ledger.jsonl"
    lines = ledger.read_text().splitlines(keepends=True)
    assert len(lines) == 3
    ledger.write_text("not a ledger line\n" + "".join(lines[1:]))
    config = load_config(copy / "upkeep.yml")
    model = load_model(config, discover(config.runbooks_dir, config.root))
    # The damaged line is reported; the runs of the other lines are all still shown.
    assert any("line 1" in p for p in model.stray_problems)
    assert len(model.runs) == 2
    assert {run.relpath for run in model.runs} == {built["failing"], built["tampered"]}


def test_an_older_runbook_version_comes_from_git(project: Project) -> None:
    path = project.add_runbook("gitted", [("markdown", "## Old step"), CHECK_OK])
    git(project.root, "init", "-q")
    git(project.root, "add", "runbooks")
    git(project.root, "commit", "-q", "-m", "first version")
    run = project.upkeep("run", "gitted")
    assert run.code == 0, run.text
    [record] = project.records()
    assert record["runbook"].get("git_commit"), record["runbook"]
    project.add_runbook("gitted", [("markdown", "## New step"), CHECK_OK])
    git(project.root, "commit", "-q", "-am", "second version")
    assert hashlib.sha256(path.read_bytes()).hexdigest() != record["runbook"]["sha256"]
    _copy_site_sources(project.root)
    result = project.upkeep("site", "build", "--site-dir", "public", timeout=300)
    assert result.code == 0, result.text
    old = record["runbook"]["sha256"][:12]
    page = _plain(
        (project.root / "public" / "runbooks" / "gitted" / old / "index.html").read_text()
    )
    assert f"at git commit {record['runbook']['git_commit'][:12]}" in page
    assert "Old step" in page and "New step" not in page


def test_the_dashboard_shows_failing_checks_open_findings_and_decisions(tmp_path: Path) -> None:
    from test_findings import LOG, ORPHANS, ack, run

    from upkeep.records import Check, Status

    project = Project(tmp_path)
    (tmp_path / "runbooks").mkdir()
    project.config.write_text("version: 1\nevidence_dir: evidence\nstate_dir: state\n")
    project.add_runbook("health-check", [CHECK_OK])
    project.add_runbook("database-review", [CHECK_OK], cadence="weekly")
    store = EvidenceStore(project.evidence)
    down = Check("service:web", Status.FAIL, message="http: HTTP 502, expected 200")
    first = run(0, LOG, ORPHANS)
    latest = run(1, runbook="health-check", status=Status.FAIL)
    # A message that opens a code fence (superfences reads fences in a page's raw HTML): it
    # set an element's id, and one never closed swallowed the rest of the dashboard. A
    # right-to-left override made the rest of its row read backwards.
    fence = Check(
        "fence",
        Status.FAIL,
        message="m\n```\nzzz\n```\n``` {.python #pwn60}\nopen\x00\u202egpj.exe",
    )
    latest = replace(latest, checks=(Check("disk:/", Status.OK), down, fence))
    # A run skipped after the latest (locked by one still going) hides none of its failures.
    skipped = replace(run(2), status=Status.SKIPPED, checks=(), skipped_reason="locked")
    for record in (first, latest, skipped):
        store.publish(store.new_staging(record.run_id), record)
    store.record_decision(ack(1, ORPHANS.key, reason="orphans <b>fixed</b> by hand"))
    _copy_site_sources(tmp_path)
    site = tmp_path / "public"
    result = project.upkeep("site", "build", "--site-dir", str(site), timeout=300)
    assert result.code == 0, result.text
    dashboard = (site / "index.html").read_text()
    content = dashboard[dashboard.index('id="checks-that-did-not-pass"') :]
    failing = content[: content.index('id="open-findings"')]
    assert "service:web" in failing and "HTTP 502, expected 200" in failing
    assert "disk:/" not in failing  # ok checks are not listed
    parsed = Parsed(failing)
    assert not [tag for tag, attrs in parsed.tags if attrs.get("id") == "pwn60"]
    assert not [tag for tag, attrs in parsed.tags if "highlight" in (attrs.get("class") or "")]
    assert "m ``` zzz ``` ``` {.python #pwn60} open\u2400<U+202E>gpj.exe" in " ".join(
        " ".join(parsed.text).split()
    )
    assert "\x00" not in dashboard and "\u202e" not in dashboard
    findings = content[content.index('id="open-findings"') :]
    # The log finding is sticky: the latest run reported no new lines, it stays open; the
    # acknowledged one is gone from the dashboard and on the decisions page.
    assert LOG.key in findings and ORPHANS.key not in findings
    decisions = (site / "decisions" / "index.html").read_text()
    assert ORPHANS.key in decisions and "dana" in decisions
    assert "orphans &lt;b&gt;fixed&lt;/b&gt; by hand" in decisions
