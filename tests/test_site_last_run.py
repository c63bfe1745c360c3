"""One last run for one runbook, the same everywhere: `upkeep list`, the dashboard, the plan's
checklist, the runbook page and the run page name the same run at the same time, in the
configured time zone; a dry run is marked wherever runs are listed, and in its report. Pages are
built in-process from a real evidence store (tests/test_site.py builds the whole site)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from helpers.project import CHECK_OK, Project

from upkeep.config import load_config
from upkeep.evidence import EvidenceStore
from upkeep.records import Check, RunbookRef, RunRecord, Status
from upkeep.registry import discover
from upkeep.rendering.report import render_report
from upkeep.site.checklist import checklist
from upkeep.site.dashboard import dashboard
from upkeep.site.history import month_table
from upkeep.site.model import SiteModel, load_model
from upkeep.site.run_pages import run_page
from upkeep.site.runbook_pages import runbook_page

AT = "2026-10-08T10:00:00+02:00"
DRY_RUN_MARK = '<span class="uk-dry-run"'
# The dry run of 6 October, 03:00 UTC, as everything shows it in Paris.
LAST_RUN = "2026-10-06 05:00 CEST"


def _publish(store: EvidenceStore, run_id: str, status: Status, **fields: object) -> str:
    started = datetime.strptime(run_id[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    record = RunRecord(
        run_id=run_id,
        runbook=RunbookRef("every-day", title="Every day"),
        status=status,
        started_at=started,
        ended_at=started,
        as_of=fields.pop("as_of", started),  # type: ignore[arg-type]
        checks=() if status is Status.SKIPPED else (Check("thing", Status.OK),),
        **fields,  # type: ignore[arg-type]
    )
    staging = store.new_staging(run_id)
    (staging / "report.html").write_text(render_report(None, record))
    store.publish(staging, record)
    return run_id


@pytest.fixture
def runs(make_project) -> tuple[Project, SiteModel, dict[str, str]]:
    project: Project = make_project(
        "version: 1\ntimezone: Europe/Paris\nevidence_dir: evidence\nstate_dir: state\n"
    )
    project.add_runbook("every-day", [CHECK_OK])
    store = EvidenceStore(project.evidence)
    ids = {
        # Written while `run --due --at` still ran, naming a time a year later.
        "real": _publish(
            store,
            "20261005T030000Z-every-day-aaaa",
            Status.OK,
            as_of=datetime(2027, 10, 5, tzinfo=UTC),
        ),
        "dry": _publish(store, "20261006T030000Z-every-day-bbbb", Status.WARN, dry_run=True),
        # Locked out by another run: not a run.
        "skipped": _publish(
            store, "20261007T030000Z-every-day-cccc", Status.SKIPPED, skipped_reason="locked"
        ),
    }
    config = load_config(project.config)
    at = datetime.fromisoformat(AT)
    return project, load_model(config, discover(config.runbooks_dir, config.root), at), ids


def _row(page: str, marker: str) -> str:
    [row] = [row for row in re.findall(r"<tr>.*?</tr>", page, re.S) if marker in row]
    return row


def test_every_view_names_the_same_last_run_at_the_same_time(
    runs: tuple[Project, SiteModel, dict[str, str]],
) -> None:
    project, model, ids = runs
    dry = ids["dry"]
    listed = project.upkeep_in_process("list", "--at", AT)
    assert listed.code == 0, listed.text
    [row] = listed.out.splitlines()[1:]
    assert row.split("  ")[0] == "every-day"
    assert f"warn (dry run)  {LAST_RUN}  DUE since 2026-10-08 00:00 CEST" in row
    state = model.states["every-day"]
    assert (state.last_run_id, state.last_dry_run, state.due) == (dry, True, True)

    home = _row(dashboard(model), "runbooks/every-day/")
    assert f'href="runs/2026/10/{dry}/">{LAST_RUN}</a>' in home
    assert DRY_RUN_MARK in home and "OVERDUE" in home
    assert LAST_RUN in checklist(model, (), "plan.md")
    assert DRY_RUN_MARK in checklist(model, (), "plan.md")
    page = runbook_page(model, model.registry["every-day"], set())
    [facts_row] = [line for line in page.splitlines() if line.startswith("| Last run |")]
    assert LAST_RUN in facts_row and DRY_RUN_MARK in facts_row
    [view] = [run for run in model.runs if run.run_id == dry]
    assert "<dt>Started</dt><dd>2026-10-06 05:00:00 CEST</dd>" in run_page(model, view)


def test_a_dry_run_is_marked_wherever_runs_are_listed(
    runs: tuple[Project, SiteModel, dict[str, str]],
) -> None:
    project, model, ids = runs
    dry, real = ids["dry"], ids["real"]
    page = runbook_page(model, model.registry["every-day"], set())
    assert DRY_RUN_MARK in _row(page, dry) and DRY_RUN_MARK not in _row(page, real)
    month = month_table(model, "2026/10")
    assert DRY_RUN_MARK in _row(month, dry) and DRY_RUN_MARK not in _row(month, real)
    strip = re.findall(r'<a class="uk-chip [^"]*" href="[^"]*"', dashboard(model))
    assert [chip for chip in strip if "uk-chip-dry" in chip] == [
        f'<a class="uk-chip uk-warn uk-chip-dry" href="runs/2026/10/{dry}/"'
    ]
    [view] = [run for run in model.runs if run.run_id == dry]
    run_html = run_page(model, view)
    assert re.search(r"<h1>.*?DRY RUN.*?</h1>", run_html)
    assert "<dt>Dry run</dt>" in run_html
    report = (project.evidence / view.relpath / "report.html").read_text()
    assert "<title>WARN (dry run) — " in report and DRY_RUN_MARK in report
    [real_view] = [run for run in model.runs if run.run_id == real]
    assert DRY_RUN_MARK not in run_page(model, real_view)


def test_a_retry_and_a_runbook_that_gave_up_are_said(
    runs: tuple[Project, SiteModel, dict[str, str]],
) -> None:
    project, model, _ = runs
    store = EvidenceStore(project.evidence)
    config, at = model.config, datetime.fromisoformat(AT)
    _publish(store, "20261008T060000Z-every-day-dddd", Status.ERROR)
    model = load_model(config, model.registry, at)
    assert '<strong class="uk-bad">OVERDUE</strong> (retry 1 of 2) since' in dashboard(model)
    _publish(store, "20261008T063000Z-every-day-eeee", Status.ERROR)
    _publish(store, "20261008T070000Z-every-day-ffff", Status.ERROR)
    model = load_model(config, model.registry, at)
    gave_up = "2026-10-09 00:00 CEST (gave up: 3 runs ended in error)"
    assert gave_up in _row(dashboard(model), "runbooks/every-day/")
    assert gave_up in runbook_page(model, model.registry["every-day"], set())
