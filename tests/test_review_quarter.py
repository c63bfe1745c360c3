"""The quarterly review (upkeep.review.quarter) over a synthetic quarter of evidence written
through the evidence API (tests/helpers/quarter.py), each planted case found: the monthly reviews
it draws on and their own figures, runbooks that never failed and that failed every month, the
backlog's flow, drills, restore times, and the proposed changes to the plan, which become backlog
items for the plan's owner."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from helpers.project import CHECK_OK, Project
from helpers.quarter import DISK, OLD, PRE, WEEKLY, write_quarter

from upkeep import coverage, registry
from upkeep.config import load_config
from upkeep.evidence import EvidenceStore, verify
from upkeep.findings import RunEvent
from upkeep.records import Decision, Finding, RunbookRef, RunRecord, Severity, Status
from upkeep.review.backlog import BACKLOG_CHANGE, fold_backlog, item_id
from upkeep.review.evidence_pass import read_evidence
from upkeep.review.month import review_month
from upkeep.review.quarter import SLA_NOT_CONFIGURED, month_bounds, review_quarter
from upkeep.review.quarter_text import quarter_text

END = datetime(2027, 1, 1, tzinfo=UTC)  # the first day of a quarter: Oct, Nov, Dec reviewed


@pytest.fixture
def quarter_project(make_project) -> Project:
    project = make_project("""\
        version: 1
        timezone: UTC
        evidence_dir: evidence
        state_dir: state
        runbooks_dir: runbooks
        quarterly_review: {plan_owner: carol}
    """)
    for name in WEEKLY:
        project.add_runbook(name, [CHECK_OK], cadence="weekly")
    return project


def _review(project: Project, at: datetime = END):
    config = load_config(project.config)
    runbooks = registry.discover(config.runbooks_dir, config.root)
    return review_quarter(read_evidence(EvidenceStore(project.evidence)), runbooks, config, at)


def test_the_quarter_finds_each_planted_case(quarter_project: Project) -> None:
    planted = write_quarter(EvidenceStore(quarter_project.evidence), END)
    assert verify(quarter_project.evidence).ok  # the synthetic quarter is real evidence
    quarter = _review(quarter_project)
    assert [m[0].month for m in quarter.months] == [10, 11, 12]

    # The newest three monthly reviews, their figures as they recorded them (1001 is no count
    # of the evidence: read, never recomputed).
    assert [m.run_id for m in quarter.monthly_reviews] == planted.reviews[-3:]
    assert [m.figures.get("review_runs") for m in quarter.monthly_reviews] == [1002, 1001, 1002]
    assert quarter.monthly_reviews[1].figures["review_missed_runs"] == 7
    # The review on the quarter's first day reviewed September: never drawn on. Before the
    # last review ran, two of three.
    earlier = _review(quarter_project, END - timedelta(minutes=40))
    assert [m.run_id for m in earlier.monthly_reviews] == planted.reviews[1:3]

    by_name = {item.runbook: item for item in quarter.runbooks}
    assert {i.runbook for i in quarter.never_failed} == {"steady", "backup-check"} | {
        "maintenance-review"
    }
    assert [i.runbook for i in quarter.failed_every_month] == ["broken"]
    assert by_name["gappy"].missed == (1, 1, 1) and not by_name["gappy"].never_failed
    assert by_name["steady"].missed == (0, 0, 0)
    assert sum(by_name["broken"].statuses[0].values()) >= 4

    flow = quarter.flow
    assert [i.id for i in flow.opened] == [item_id("broken", DISK.key)]
    assert [i.id for i in flow.closed] == [item_id("legacy", PRE.key)]
    assert [i.id for i in flow.reopened] == [item_id("legacy", OLD.key)]
    assert {i.id for i in flow.overdue} == {item_id("broken", DISK.key), item_id("legacy", OLD.key)}

    [drill] = quarter.drills
    assert (drill.run_id, drill.rto_seconds, drill.rpo_seconds) == (planted.drill, 2400, 300)
    [restore] = quarter.restore
    assert restore.medians == (10.0, 14.0, 20.0) and restore.growth == pytest.approx(1.0)
    assert quarter.sla == SLA_NOT_CONFIGURED

    assert {p.key for p in quarter.proposals} == {
        "plan:runbook:broken",
        "plan:cadence:gappy",
        "plan:threshold:warner:latency",
        "plan:procedure:warner",
        "plan:restore-time:backup-check:database=app",
    }
    # The trends: key metrics over the quarter and the monthly reviews' own figures.
    assert len(quarter.trends["backup_restore_seconds"][0].points) >= 12
    assert [s.runbook for s in quarter.trends["review_runs"]] == ["maintenance-review"]

    text = quarter_text(quarter, ZoneInfo("UTC"))
    assert "3 of 3 monthly reviews" in text and "runs 1001, missed 7" in text
    assert "Failed every month (is the runbook or the system wrong?): broken" in text
    assert f"SLA attainment per severity: {SLA_NOT_CONFIGURED}" in text
    assert "RTO 2400 s, RPO 300 s" in text and "10 s | 14 s | 20 s" in text
    assert "Runbooks month by month (2026-10 | 2026-11 | 2026-12)" in text


def test_reviews_run_again_in_one_month_count_as_that_months_review(
    quarter_project: Project,
) -> None:
    # Three reviews on one day made "3 of 3 monthly reviews" although two months had none.
    store = EvidenceStore(quarter_project.evidence)
    day = END - timedelta(days=20)
    ran = [_publish_review(store, day + timedelta(hours=hour)) for hour in (1, 2, 3)]
    quarter = _review(quarter_project)
    assert [m.run_id for m in quarter.monthly_reviews] == [ran[-1]]


@pytest.mark.parametrize("status", [Status.SKIPPED, Status.ERROR])
def test_a_review_that_did_not_run_through_is_not_the_months_review(
    quarter_project: Project, status: Status
) -> None:
    # A review skipped (locked by another) after the month's real one took its place, and the
    # quarter read its figures from a run that had none.
    store = EvidenceStore(quarter_project.evidence)
    day = END - timedelta(days=20)
    real = _publish_review(store, day + timedelta(hours=1))
    _publish_review(store, day + timedelta(hours=2), status)
    quarter = _review(quarter_project)
    assert [m.run_id for m in quarter.monthly_reviews] == [real]


def _publish_review(store: EvidenceStore, at: datetime, status: Status = Status.OK) -> str:
    record = RunRecord(
        f"{at:%Y%m%dT%H%M%SZ}-maintenance-review-{at.hour:04x}",
        RunbookRef("maintenance-review", sha256="c" * 64),
        status,
        at,
        at + timedelta(seconds=2),
        at,
    )
    store.publish(store.new_staging(record.run_id), record)
    return record.run_id


def test_without_a_drill_or_reviews_it_says_so(quarter_project: Project) -> None:
    write_quarter(EvidenceStore(quarter_project.evidence), END, drill=False)
    quarter = _review(quarter_project)
    assert quarter.drills == ()
    text = quarter_text(quarter, ZoneInfo("UTC"))
    assert "Disaster drills (RTO/RPO):\n  no drill this quarter" in text
    # Months later nothing ran in the window: no review, no run, and every registered runbook
    # missed its runs in every month: a cadence (or scheduler) to change.
    later = _review(quarter_project, END + timedelta(days=200))
    assert later.monthly_reviews == () and later.runs == 0
    assert {p.key for p in later.proposals} == {f"plan:cadence:{name}" for name in WEEKLY}
    assert "none: no monthly maintenance review ran in the quarter" in quarter_text(
        later, ZoneInfo("UTC")
    )


def test_proposals_become_backlog_items_for_the_plan_owner(quarter_project: Project) -> None:
    store = EvidenceStore(quarter_project.evidence)
    write_quarter(store, END)
    quarter = _review(quarter_project)
    findings = tuple(Finding(p.key, p.message, Severity.INFO) for p in quarter.proposals)
    record = RunRecord(
        "20270101T000100Z-quarterly-review-0001",
        RunbookRef("quarterly-review", sha256="d" * 64),
        Status.WARN,
        END + timedelta(minutes=1),
        END + timedelta(minutes=2),
        END + timedelta(minutes=1),
        findings=findings,
    )
    store.publish(store.new_staging(record.run_id), record)
    proposal = item_id("quarterly-review", "plan:runbook:broken")
    store.record_decision(
        Decision(
            BACKLOG_CHANGE,
            proposal,
            "carol",
            END + timedelta(hours=1),
            "the disk limit is right: grow the volume",
            {"state": "wont_fix"},
        )
    )
    listed = json.loads(quarter_project.upkeep_in_process("backlog", "list", "--json").out)
    proposals = {i["key"]: i for i in listed if i["runbook"] == "quarterly-review"}
    assert set(proposals) == {p.key for p in quarter.proposals}  # one report opens each
    assert {i["owner"] for i in proposals.values()} == {"carol"}  # the plan's owner
    assert proposals["plan:runbook:broken"]["state"] == "wont_fix"
    assert proposals["plan:cadence:gappy"]["runs"] == [record.run_id]
    # The same finding of another runbook is no proposal: it waits for three reports.
    settings = load_config(quarter_project.config).maintenance_review
    once = RunEvent("broken", "x", END, True, record)
    assert fold_backlog([once], settings, "carol") == {}
    assert verify(quarter_project.evidence).ok


@pytest.mark.parametrize(
    ("at", "zone", "firsts"),
    [
        ("2027-01-01T00:00:00", "UTC", ["2026-10-01", "2026-11-01", "2026-12-01", "2027-01-01"]),
        ("2027-05-31T00:00:00", "Europe/Berlin", ["2027-02-28", "2027-03-31", "2027-04-30"]),
        ("2026-04-01T00:00:00", "Europe/Berlin", ["2026-01-01", "2026-02-01", "2026-03-01"]),
    ],
)
def test_months_are_calendar_months_in_the_configured_zone(
    at: str, zone: str, firsts: list[str]
) -> None:
    tz = ZoneInfo(zone)
    months = month_bounds(datetime.fromisoformat(at).replace(tzinfo=tz))
    edges = [months[0][0], *(end for _, end in months)]
    assert [edge.date().isoformat() for edge in edges][: len(firsts)] == firsts
    assert all(edge.hour == 0 and edge.tzinfo is tz for edge in edges)  # local midnight


def test_a_bad_quarterly_review_section_is_refused(make_project) -> None:
    project = make_project("""\
        version: 1
        timezone: UTC
        quarterly_review:
          plan_owner: ""
          restore_growth_percent: 0
    """)
    result = project.upkeep_in_process("backlog", "list")
    assert result.code == 2 and "quarterly_review.plan_owner" in result.err
    unknown = make_project("""\
        version: 1
        quarterly_review: {owner: carol}
    """).upkeep_in_process("backlog", "list")
    assert unknown.code == 2 and "quarterly_review.owner" in unknown.err
    assert not (project.root / "evidence").exists()


def test_upkeep_review_quarter_prints_the_quarter_and_writes_svg_plots(
    quarter_project: Project,
) -> None:
    write_quarter(EvidenceStore(quarter_project.evidence), END)
    plots = quarter_project.root / "plots"
    result = quarter_project.upkeep_in_process(
        "review", "--quarter", "--at", END.isoformat(), "--plots", str(plots)
    )
    assert result.code == 0, result.text
    assert result.out.startswith("Quarterly review 2026-10-01 to 2027-01-01: ")
    assert "plan:runbook:broken: broken failed in every month" in result.out
    svgs = sorted(p.name for p in plots.iterdir())
    assert "backup_restore_seconds.svg" in svgs and "review_runs.svg" in svgs
    svg = (plots / "backup_restore_seconds.svg").read_text()
    assert "<svg" in svg and "<script" not in svg and "<text" not in svg  # text as paths
    # Read-only: nothing recorded.
    assert not [r for r in quarter_project.records() if r["runbook"]["name"] == "quarterly-review"]


def test_the_site_shows_the_quarter_with_its_monthly_reviews_linked(
    quarter_project: Project,
) -> None:
    from upkeep.site import quarter_page
    from upkeep.site.model import load_model

    planted = write_quarter(EvidenceStore(quarter_project.evidence), END)
    config = load_config(quarter_project.config)
    model = load_model(config, registry.discover(config.runbooks_dir, config.root), at=END)
    pages = dict(quarter_page.quarter_pages(model))
    page = pages[quarter_page.PAGE]
    for run_id in planted.reviews[-3:]:
        month = f"{run_id[:4]}/{run_id[4:6]}"
        assert f'<a href="../runs/{month}/{run_id}/">{run_id}</a>' in page
    assert planted.reviews[0] not in page  # the oldest of four is not drawn on
    assert f"[{item_id('legacy', OLD.key)}](backlog.md#{item_id('legacy', OLD.key)})" in page
    assert "| 2400 s | 300 s |" in page and "Not configured" in page
    assert "<code>plan:runbook:broken</code>" in page
    plots = {plot.uri: plot for plot in quarter_page.quarter_plots(model)}
    assert plots["quarterly-review/backup_restore_seconds.svg"].series
    assert 'src="../quarterly-review/backup_restore_seconds.svg"' in page


def test_one_read_of_the_evidence_answers_every_review_as_separate_reads_do(
    quarter_project: Project,
) -> None:
    """The site reads the evidence once for its dashboard and both reviews, which share the
    coverage and the backlog they work out: each answer is the one a read of its own gives."""
    store = EvidenceStore(quarter_project.evidence)
    write_quarter(store, END)
    config = load_config(quarter_project.config)
    runbooks = registry.discover(config.runbooks_dir, config.root)
    shared = read_evidence(store)
    earlier = END - timedelta(days=10)  # another instant: another answer, not the kept one
    for at in (END, earlier, END):
        assert review_quarter(shared, runbooks, config, at) == review_quarter(
            read_evidence(store), runbooks, config, at
        )
        assert review_month(shared, runbooks, config, at) == review_month(
            read_evidence(store), runbooks, config, at
        )
    # Every ledger line, repeats included, as `upkeep status` reads them.
    assert shared.coverage(runbooks, config, END) == coverage.account(
        runbooks, store.entries(), (), config, END
    )
    # Other settings are another question: items due a day after they open.
    hurried = replace(config.maintenance_review, backlog_due_days=1)
    usual = shared.backlog(config.maintenance_review, "carol", END)
    assert shared.backlog(hurried, "carol", END) == fold_backlog(shared.events, hurried, "carol")
    assert shared.backlog(hurried, "carol", END) != usual
    assert shared.backlog(config.maintenance_review, "carol", END) == usual
