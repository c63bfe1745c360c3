"""The coverage calendar and the dashboard's schedule column: every scheduled run since a runbook
first ran is one cell (ran on time, late, skipped, missed, due, its first run), grouped by month
for a daily runbook and by year for a weekly one, in the configured time zone; missed runbooks
come first on the dashboard. Pages built in-process from a real evidence store, then once by a
real strict `upkeep site build`."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from datetime import date, datetime, timedelta

import pytest
from helpers.history import History
from helpers.project import CHECK_OK, REPO, Project

from upkeep.config import load_config
from upkeep.records import Status
from upkeep.registry import discover
from upkeep.site.coverage_calendar import coverage_page, put_grids
from upkeep.site.dashboard import dashboard
from upkeep.site.model import SiteModel, load_model

BERLIN = "Europe/Berlin"
AT = datetime.fromisoformat("2026-11-05T12:00:00+01:00")


@pytest.fixture
def berlin(make_project: Callable[[str], Project]) -> Project:
    project = make_project(
        "version: 1\ntimezone: Europe/Berlin\nevidence_dir: evidence\nstate_dir: state\n"
        "status: {start_grace_minutes: 60}\n"
    )
    project.add_runbook("nightly", [CHECK_OK], cadence="daily")
    project.add_runbook("weekly-review", [CHECK_OK], cadence="weekly")
    project.add_runbook("fresh", [CHECK_OK], cadence="daily")
    history = History(project.evidence)
    first_night = date(2026, 10, 20)
    # 20 October to 3 November, across the change of 25 October; 30 October missed, 31 ran
    # late, 1 November skipped; nothing since 3 November.
    for offset in range(15):
        night = (first_night + timedelta(days=offset)).isoformat()
        if night == "2026-10-30":
            continue
        hour = "04:00" if night == "2026-10-31" else "00:15"
        status = Status.SKIPPED if night == "2026-11-01" else Status.OK
        history.daily("nightly", night, 1, hour, BERLIN, status=status)
    history.daily("weekly-review", "2026-10-19", 1, "00:30", BERLIN)
    history.daily("weekly-review", "2026-10-26", 1, "00:30", BERLIN)
    history.daily("weekly-review", "2026-11-02", 1, "00:30", BERLIN)
    return project


def _model(project: Project) -> SiteModel:
    config = load_config(project.config)
    return load_model(config, discover(config.runbooks_dir, config.root), AT)


def _built(model: SiteModel) -> str:
    """The coverage page as the site shows it: its Markdown with the grids put in."""
    return put_grids(coverage_page(model), model)


def _cells(page: str, name: str) -> list[str]:
    """The outcome of each cell of a runbook's section, in page order."""
    section = page.split(f"{{#{name}}}", 1)[1].split("\n## ", 1)[0]
    return re.findall(r'class="uk-cov uk-cov-(\w+)"', section)


def test_every_scheduled_run_is_one_cell_grouped_by_month_or_year(berlin: Project) -> None:
    page = _built(_model(berlin))

    assert "(**Europe/Berlin**)" in page
    assert "never a missed run" in page
    nightly = _cells(page, "nightly")
    # Newest row first: November (1 skipped, 2 and 3 on time, 4 and 5 missed), then October
    # (20 to 29 on time, 30 missed, 31 late).
    assert nightly == [
        *["skipped", "on_time", "on_time", "missed", "missed"],
        *(["on_time"] * 10 + ["missed", "late"]),
    ]
    assert "<tr><th>2026-11</th>" in page and "<tr><th>2026-10</th>" in page
    assert '<strong class="uk-bad">MISSED</strong>' in page
    assert 'title="2026-10-30 00:00 CET: missed (no run)"' in page
    assert 'title="2026-10-31 00:00 CET: ran late (after its start grace), started ' in page
    review = _cells(page, "weekly-review")
    assert review == ["on_time", "on_time", "on_time"]
    assert "<tr><th>2026</th>" in page
    assert "Never run: nothing is counted yet." in page.split("{#fresh}", 1)[1]


def test_a_ran_cell_links_its_run_page(berlin: Project) -> None:
    model = _model(berlin)
    page = _built(model)
    run = next(run for run in model.runs if run.runbook == "weekly-review")

    assert f'href="../{run.relpath}/"' in page


def test_the_grids_are_not_in_the_markdown_only_their_markers(berlin: Project) -> None:
    # Markdown and the search index would go through a cell per run for nothing.
    model = _model(berlin)
    markdown = coverage_page(model)
    assert '<a class="uk-cov' not in markdown and "<table" not in markdown
    ran = [name for name, item in model.coverage.items() if item.slots]
    assert len(ran) == len(model.coverage) - 1  # "fresh" never ran: no grid
    assert markdown.count("<!-- upkeep: coverage grid ") == len(ran)
    built = put_grids(markdown, model)
    assert "<!-- upkeep: coverage grid " not in built
    assert built.count('<table class="uk-table uk-coverage">') == len(ran)


def test_the_dashboard_puts_missed_runbooks_first_and_links_the_calendar(
    berlin: Project,
) -> None:
    body = dashboard(_model(berlin))

    rows = re.findall(r"<tr><td><a href=\"runbooks/([\w-]+)/\">", body)
    assert rows[0] == "nightly"
    assert '<a href="coverage/#nightly"><strong class="uk-bad">MISSED</strong>' in body
    assert "(3 missed in all)" in body
    assert '<a href="coverage/#weekly-review">on time</a>' in body
    assert '<a href="coverage/#fresh">never run</a>' in body


def test_a_first_run_after_its_start_grace_is_a_first_run_cell_not_on_time(
    berlin: Project,
) -> None:
    """Added on a Wednesday: the weekly's period began on Monday, before it existed."""
    berlin.add_runbook("added-midweek", [CHECK_OK], cadence="weekly")
    History(berlin.evidence).daily("added-midweek", "2026-11-04", 1, "15:00", BERLIN)
    model = _model(berlin)

    page = _built(model)
    body = dashboard(model)

    assert _cells(page, "added-midweek") == ["first_run"]
    section = page.split("{#added-midweek}", 1)[1]
    assert "first run; 0 on time, 0 late, 0 skipped, 0 missed, first run;" in section
    assert "its first run (neither on time nor late: the runbook appeared then), started " in (
        section
    )
    assert '<span class="uk-cov uk-cov-first_run"></span>' in page.split("{#", 1)[0]
    assert '<a href="coverage/#added-midweek">first run</a>' in body


@pytest.mark.slow
def test_a_strict_site_build_has_the_coverage_page_in_its_nav(berlin: Project) -> None:
    shutil.copy(REPO / "mkdocs.yml", berlin.root / "mkdocs.yml")
    shutil.copytree(REPO / "docs", berlin.root / "docs")
    site = berlin.root / "public"

    result = berlin.upkeep("site", "build", "--site-dir", str(site), timeout=300)

    assert result.code == 0, result.text
    page = (site / "coverage" / "index.html").read_text()
    assert 'class="uk-cov uk-cov-missed"' in page
    # The grids, put in after Markdown: a linked cell per run that ran, no marker left.
    assert page.count('<table class="uk-table uk-coverage">') == 2
    assert '<a class="uk-cov uk-cov-on_time" href="../runs/' in page
    assert "<!-- upkeep: coverage grid" not in page
    assert 'href="../coverage/"' in (site / "runs" / "index.html").read_text()
    assert ".uk-cov-missed" in (site / "assets" / "upkeep.css").read_text()


def test_a_quarterly_runbook_has_one_cell_per_quarter_in_its_year_row(
    make_project: Callable[[str], Project],
) -> None:
    project = make_project("version: 1\ntimezone: Europe/Berlin\nevidence_dir: evidence\n")
    project.add_runbook("plan-audit", [CHECK_OK], cadence="quarterly")
    history = History(project.evidence)
    history.daily("plan-audit", "2026-01-01", 1, "00:20", BERLIN)
    history.daily("plan-audit", "2026-07-01", 1, "00:20", BERLIN)  # April's never ran
    history.daily("plan-audit", "2026-10-01", 1, "00:20", BERLIN)
    page = _built(_model(project))
    assert _cells(page, "plan-audit") == ["on_time", "missed", "on_time", "on_time"]
    assert "<tr><th>2026</th>" in page and "<tr><th>2026-" not in page
    assert 'title="2026-04-01 00:00 CEST: missed (no run)"' in page  # local midnight
