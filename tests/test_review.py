"""The maintenance review (upkeep.review) over a synthetic month of evidence written through the
evidence API (as the site benchmark writes it): a planted recurring failure, a problem that was
fixed, one that came back after it was marked done, and a missed run; each is found. Then the
`upkeep backlog` and `upkeep log` commands on a real evidence store."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from helpers.project import CHECK_OK, Project

from upkeep import registry
from upkeep.config import load_config
from upkeep.config.maintenance_review import MaintenanceReview
from upkeep.coverage import Outcome
from upkeep.evidence import EvidenceStore, verify
from upkeep.records import (
    Check,
    Decision,
    Finding,
    Metric,
    RunbookRef,
    RunRecord,
    Severity,
    Status,
)
from upkeep.review.backlog import BACKLOG_CHANGE, ItemState, fold_backlog, item_id
from upkeep.review.evidence_pass import read_evidence
from upkeep.review.maintenance_log import LOG_ENTRY
from upkeep.review.month import review_month
from upkeep.review.text import month_text
from upkeep.review.trends import trend_svg

DAY0 = datetime(2026, 10, 1, 3, 0, tzinfo=UTC)
END = datetime(2026, 10, 30, 4, 0, tzinfo=UTC)  # just after the last runs

DISK = Finding("disk:/", "root filesystem 91% full", Severity.FAIL)  # every day: recurring
ORPHANS = Finding("orphans:orders.customer_id", "12 orphaned orders", Severity.WARN)  # fixed
TIMEOUT = Finding("log:app:timeout", "timeouts talking to the payment API", Severity.WARN)


def _run(
    name: str,
    day: int,
    findings: tuple[Finding, ...],
    checks: tuple[Check, ...],
    n: int,
    metrics: tuple[Metric, ...] = (),
) -> RunRecord:
    at = DAY0 + timedelta(days=day)
    statuses = {c.status for c in checks}
    worst = next((s for s in (Status.FAIL, Status.WARN) if s in statuses), Status.OK)
    return RunRecord(
        f"{at:%Y%m%dT%H%M%SZ}-{name}-{n:04x}",
        RunbookRef(name, sha256="a" * 64),
        worst,
        at,
        at + timedelta(seconds=4),
        at,
        checks=checks,
        metrics=metrics,
        findings=findings,
    )


def _month(store: EvidenceStore) -> dict[str, str]:
    """30 days of two daily runbooks with the planted problems; the ids of the interesting
    runs."""
    n = 0
    marks: dict[str, str] = {}
    for day in range(30):
        web_findings = [DISK]
        if day in (1, 2, 3, 20):
            web_findings.append(TIMEOUT)
        web = _run(
            "web-health",
            day,
            tuple(web_findings),
            (Check("disk:/", Status.FAIL, value=91, limit=90, message="91% used"),),
            n := n + 1,
            (Metric("disk_used_percent", 80 + day / 3, "%", {"mount": "/"}),),
        )
        store.publish(store.new_staging(web.run_id), web)
        if day == 4:
            marks["timeout-item-done"] = web.run_id
            done = Decision(
                BACKLOG_CHANGE,
                item_id("web-health", TIMEOUT.key),
                "alice",
                web.started_at + timedelta(hours=2),
                "raised the client timeout",
                {"state": "done", "owner": "alice"},
            )
            store.record_decision(done)
        if day == 12:
            continue  # the database review missed its run that day
        db_findings = (ORPHANS,) if 2 <= day <= 4 else ()
        db_status = Status.WARN if db_findings else Status.OK
        db = _run("db-review", day, db_findings, (Check("orphans", db_status),), n := n + 1)
        store.publish(store.new_staging(db.run_id), db)
        if day == 5:
            fixed = Decision(
                BACKLOG_CHANGE,
                item_id("db-review", ORPHANS.key),
                "bob",
                db.started_at + timedelta(hours=1),
                "foreign key added",
                {"state": "done"},
            )
            store.record_decision(fixed)
    return marks


@pytest.fixture
def month_project(project: Project) -> Project:
    for name in ("web-health", "db-review"):
        project.add_runbook(name, [CHECK_OK], meta={"references": [f"{name}.md"]})
    _month(EvidenceStore(project.evidence))
    return project


def _review(project: Project):
    config = load_config(project.config)
    runbooks = registry.discover(config.runbooks_dir, config.root)
    evidence = read_evidence(EvidenceStore(project.evidence))
    return review_month(evidence, runbooks, config, END), config


def test_the_review_finds_each_planted_problem(month_project: Project) -> None:
    assert verify(month_project.evidence).ok  # the synthetic month is real evidence
    month, config = _review(month_project)
    by_key = {item.key: item for item in month.backlog}

    # The recurring failure: one item, every run linked, overdue-able, suggested for the docs.
    disk = by_key[DISK.key]
    assert disk.id == item_id("web-health", DISK.key) and disk.state is ItemState.OPEN
    assert len(disk.occurrences) == 30 and disk.first_seen == DAY0
    assert disk.opened_at == DAY0 + timedelta(days=2)  # the third run within the window
    assert any(
        s.subject == "web-health" and "30 runs in a row" in s.reason for s in month.suggestions
    )
    assert any(s.subject == "web-health.md" for s in month.suggestions)

    # The fixed problem: cleared after three days, its item done and staying done.
    [orphans] = [s for s in month.cleared if s.key == ORPHANS.key]
    assert orphans.closed is not None
    assert orphans.closed.at - orphans.first_seen == timedelta(days=3)
    assert by_key[ORPHANS.key].state is ItemState.DONE and not by_key[ORPHANS.key].flagged

    # The problem that came back after it was marked done: reopened and flagged.
    timeout = by_key[TIMEOUT.key]
    assert timeout.state is ItemState.OPEN and timeout.reopened == 1 and timeout.owner == "alice"
    assert len(timeout.occurrences) == 4

    # The missed run: accounted for by coverage, in the window.
    db = next(item for item in month.runbooks if item.runbook == "db-review")
    assert db.outcomes[Outcome.MISSED] == 1
    assert [t.date().isoformat() for t in db.missed] == ["2026-10-13"]
    assert month.missed == 1

    # The disk check stayed failed the whole month, never cleared; the orphans check warned
    # for three runs and then passed.
    streaks = {(s.runbook, s.check): s for s in month.streaks}
    assert streaks[("web-health", "disk:/")].runs == 30
    assert streaks[("web-health", "disk:/")].cleared_at is None
    orphan_streak = streaks[("db-review", "orphans")]
    assert (orphan_streak.runs, orphan_streak.worst) == (3, Status.WARN)
    assert orphan_streak.cleared_at == DAY0 + timedelta(days=5)

    text = month_text(month, config.tz)
    assert "REOPENED x1" in text and "1 scheduled run(s) missed" in text
    assert len(month.trends["disk_used_percent"]) == 1


def test_one_fingerprint_never_makes_two_items(month_project: Project) -> None:
    evidence = read_evidence(EvidenceStore(month_project.evidence))
    settings = MaintenanceReview(recurring_runs=2)
    items = fold_backlog(evidence.events, settings)
    fingerprints = [(item.runbook, item.key) for item in items.values()]
    assert len(fingerprints) == len(set(fingerprints)) == 3
    # Folding twice gives the same items: the backlog is the evidence's, not a cache's.
    assert fold_backlog(evidence.events, settings) == items


def test_a_fingerprint_below_the_threshold_opens_nothing(month_project: Project) -> None:
    evidence = read_evidence(EvidenceStore(month_project.evidence))
    items = fold_backlog(evidence.events, MaintenanceReview(recurring_runs=5, window_days=30))
    assert {item.key for item in items.values()} == {DISK.key}  # timeouts: 4, orphans: 3
    narrow = fold_backlog(evidence.events, MaintenanceReview(recurring_runs=3, window_days=1))
    assert TIMEOUT.key not in {item.key for item in narrow.values()}  # never 3 within a day


def test_trend_plot_is_svg_without_script_or_fonts_to_fetch(month_project: Project) -> None:
    month, _ = _review(month_project)
    svg = trend_svg("disk_used_percent", month.trends["disk_used_percent"])
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert "<script" not in svg and "@font-face" not in svg and "<text" not in svg
    # Namespaces and metadata name URLs; nothing is loaded from one (links stay in the file).
    assert re.findall(r'href="([^"#][^"]*)"', svg) == [] and "url(http" not in svg


def test_backlog_and_log_commands_record_decisions_that_verify(project: Project) -> None:
    project.add_runbook("web-health", [CHECK_OK])
    store = EvidenceStore(project.evidence)
    now = datetime.now(UTC).replace(microsecond=0)
    ids = []
    for day in range(3):
        record = _run("web-health", 0, (DISK,), (Check("disk:/", Status.FAIL),), day + 1)
        at = now - timedelta(days=3 - day)
        record = RunRecord(
            record.run_id.replace(record.run_id[:16], f"{at:%Y%m%dT%H%M%SZ}"),
            record.runbook,
            record.status,
            at,
            at,
            at,
            checks=record.checks,
            findings=record.findings,
        )
        store.publish(store.new_staging(record.run_id), record)
        ids.append(record.run_id)
    listed = json.loads(project.upkeep_in_process("backlog", "list", "--json").out)
    assert [item["id"] for item in listed] == [item_id("web-health", DISK.key)]
    assert listed[0]["runs"] == ids and listed[0]["state"] == "open"

    ident = listed[0]["id"]
    changed = project.upkeep_in_process(
        "backlog",
        "set",
        ident,
        "--state",
        "in_progress",
        "--owner",
        "carol",
        "--due",
        "2030-01-31",
        "--by",
        "dana",
        "--reason",
        "planned for the next sprint",
    )
    assert changed.code == 0, changed.text
    [item] = json.loads(project.upkeep_in_process("backlog", "list", "--json").out)
    assert (item["state"], item["owner"], item["due"]) == ("in_progress", "carol", "2030-01-31")

    logged = project.upkeep_in_process(
        "log", "add", "grew the root volume", "--run", ids[-1], "--by", "carol"
    )
    assert logged.code == 0, logged.text
    log = json.loads(project.upkeep_in_process("log", "list", "--json").out)
    assert [(e["by"], e["text"], e["run"]) for e in log] == [
        ("carol", "grew the root volume", ids[-1])
    ]
    report = verify(project.evidence)
    assert report.ok and report.decisions_checked == 2
    # What a person typed cannot act on the terminal that lists it: refused when typed now,
    # and neutralized when an older ledger holds it.
    typed = "done\x1b]0;PWNED\x07\rOVERWRITTEN"
    refused = project.upkeep_in_process("log", "add", typed, "--run", ids[-1], "--by", "carol")
    assert refused.code == 2 and "TEXT: expected text without control" in refused.err
    store = EvidenceStore(project.evidence)
    assert len(store.decisions()) == 2
    store.record_decision(Decision(LOG_ENTRY, ids[-1], "carol", datetime.now(UTC), typed))
    listed = project.upkeep_in_process("log", "list").out
    assert "\x1b" not in listed and "\r" not in listed
    assert "done␛]0;PWNED␇ OVERWRITTEN" in listed


def test_bad_backlog_and_log_input_is_refused_and_nothing_recorded(project: Project) -> None:
    project.add_runbook("web-health", [CHECK_OK])
    unknown = project.upkeep_in_process(
        "backlog", "set", "BL-00000000", "--state", "done", "--by", "dana", "--reason", "x"
    )
    assert unknown.code == 2 and "no backlog item 'BL-00000000'" in unknown.err
    bad_state = project.upkeep_in_process(
        "backlog", "set", "BL-00000000", "--state", "closed", "--by", "dana", "--reason", "x"
    )
    assert bad_state.code == 2 and "closed" in bad_state.err
    bad_due = project.upkeep_in_process(
        "backlog", "set", "BL-00000000", "--due", "31/01/2030", "--by", "dana", "--reason", "x"
    )
    assert bad_due.code == 2 and "YYYY-MM-DD" in bad_due.err
    for typo in ("1900-01-31", "9999-01-31"):  # was recorded as the item's due date
        far = project.upkeep_in_process(
            "backlog", "set", "BL-00000000", "--due", typo, "--by", "dana", "--reason", "x"
        )
        assert far.code == 2
        assert f"--due: expected a date in the years 1970 to 9998, got {typo!r}" in far.err
    no_run = project.upkeep_in_process("log", "add", "x", "--run", "nope", "--by", "dana")
    assert no_run.code == 2 and "no run 'nope'" in no_run.err
    assert EvidenceStore(project.evidence).decisions() == []


def test_a_bad_maintenance_review_section_is_refused(make_project) -> None:
    project = make_project("""\
        version: 1
        timezone: UTC
        maintenance_review:
          recurring_runs: 1
    """)
    result = project.upkeep_in_process("backlog", "list")
    assert result.code == 2 and "maintenance_review.recurring_runs" in result.err


@pytest.mark.parametrize("name", ["../escaped", "a/b", ".hidden", "disk used"])
def test_a_trend_metric_that_could_not_name_a_plot_file_is_refused(
    make_project, tmp_path, name: str
) -> None:
    # Its plot is written as <name>.svg: a separator would put it outside the plots' folder.
    project = make_project(f"""\
        version: 1
        timezone: UTC
        maintenance_review:
          trend_metrics: [disk_used_percent, "{name}"]
    """)
    result = project.upkeep_in_process("review", "--plots", str(tmp_path / "plots"))
    assert result.code == 2
    assert "maintenance_review.trend_metrics: expected metric names" in result.err
    assert name in result.err
    assert not (tmp_path / "plots").exists() and not (tmp_path / "escaped.svg").exists()


def test_the_site_shows_the_backlog_the_log_and_links_overdue_items(month_project: Project) -> None:
    from upkeep.site import dashboard, maintenance_pages
    from upkeep.site.model import load_model

    config = load_config(month_project.config)
    runbooks = registry.discover(config.runbooks_dir, config.root)
    later = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)  # the disk item (due 2026-11-02) overdue
    [last_web] = [e.run_id for e in EvidenceStore(month_project.evidence).entries()][-2:-1]
    EvidenceStore(month_project.evidence).record_decision(
        Decision("log-entry", last_web, "carol", END, "grew the root volume by hand")
    )
    model = load_model(config, runbooks, at=later)
    disk = item_id("web-health", DISK.key)
    page = maintenance_pages.backlog_page(model)
    assert page.count(disk) == 2  # the anchor and the id, once: one row per fingerprint
    assert "**overdue**" in page and "**reopened ×1**" in page
    home = dashboard.dashboard(model)
    assert f'href="backlog/#{disk}"' in home
    pages = dict(maintenance_pages.review_pages(model))
    plots = {plot.uri: plot for plot in maintenance_pages.review_plots(model)}
    assert plots["maintenance-review/disk_used_percent.svg"].series
    assert 'src="../maintenance-review/disk_used_percent.svg"' in pages["maintenance-review.md"]
    log = maintenance_pages.maintenance_log_page(model)
    assert "grew the root volume by hand" in log and f"{last_web}</a>" in log


def test_upkeep_review_prints_the_month_and_writes_the_plots(month_project: Project) -> None:
    plots = month_project.root / "plots"
    result = month_project.upkeep_in_process(
        "review", "--at", END.isoformat(), "--plots", str(plots)
    )
    assert result.code == 0, result.text
    assert "1 scheduled run(s) missed" in result.out and "REOPENED x1" in result.out
    assert "db-review: 26 ok, 3 warn | 1 missed, 29 on time | 10-13 00:00" in result.out
    assert [p.name for p in plots.iterdir()] == ["disk_used_percent.svg"]
    assert month_project.upkeep_in_process("review", "--at", "yesterday").code == 2


def test_a_hand_written_change_with_bad_values_changes_nothing_it_cannot_read(
    month_project: Project,
) -> None:
    store = EvidenceStore(month_project.evidence)
    disk = item_id("web-health", DISK.key)
    store.record_decision(
        Decision(BACKLOG_CHANGE, disk, "eve", END, "typo", {"state": "closed", "due": "soon"})
    )
    items = fold_backlog(read_evidence(store).events, MaintenanceReview())
    assert items[disk].state is ItemState.OPEN and len(items[disk].history) == 1
