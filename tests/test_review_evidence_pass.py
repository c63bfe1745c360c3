"""The reviews verify the evidence they read (upkeep.review.evidence_pass with the site build's
verification cache): on a synthetic quarter of real evidence (tests/helpers/quarter.py) with one
run.json edited to hide a failure, one not UTF-8, one a symlink and a FIFO added to a run folder,
the monthly and quarterly reviews name what `upkeep verify` finds, and count none of those runs
under the status their run.json claims."""

from __future__ import annotations

import json
import os
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from helpers.project import CHECK_OK, Project
from helpers.quarter import WEEKLY, write_quarter

from upkeep.config import load_config
from upkeep.evidence import EvidenceStore, LedgerEntry, verify
from upkeep.procedures import maintenance_review, quarterly_review
from upkeep.records import Status
from upkeep.review.evidence_pass import verification_check
from upkeep.review.quarter_text import quarter_text
from upkeep.review.text import month_text
from upkeep.site.verification import cache_path

END = datetime(2027, 1, 1, tzinfo=UTC)  # the monthly review's window: December


@pytest.fixture
def project(make_project) -> Project:
    project = make_project("""\
        version: 1
        timezone: UTC
        evidence_dir: evidence
        state_dir: state
        runbooks_dir: runbooks
    """)
    for name in WEEKLY:
        project.add_runbook(name, [CHECK_OK], cadence="weekly")
    write_quarter(EvidenceStore(project.evidence), END)
    return project


def _december(project: Project, runbook: str) -> list[LedgerEntry]:
    start = END - timedelta(days=30)
    return [
        entry
        for entry in EvidenceStore(project.evidence).entries()
        if entry.runbook == runbook and datetime.fromisoformat(entry.started_at) >= start
    ]


def _tamper(project: Project) -> dict[str, LedgerEntry]:
    """Break four December runs as the adversarial tester did; the runs, by what was done."""
    [hidden, *_] = _december(project, "broken")
    [unreadable, symlinked, *_] = _december(project, "steady")
    fifo = _december(project, "backup-check")[0]
    run_json = project.evidence / hidden.path / "run.json"
    value = json.loads(run_json.read_text())
    value["status"] = "ok"
    value["checks"] = [dict(check, status="ok") for check in value["checks"]]
    run_json.write_text(json.dumps(value))
    (project.evidence / unreadable.path / "run.json").write_bytes(b"\xff\xfe not UTF-8")
    linked = project.evidence / symlinked.path / "run.json"
    linked.unlink()
    linked.symlink_to("/etc/hostname")
    os.mkfifo(project.evidence / fifo.path / "report.html")
    return {"hidden": hidden, "unreadable": unreadable, "symlinked": symlinked, "fifo": fifo}


def test_the_monthly_review_names_what_does_not_verify_and_counts_no_edited_status(
    project: Project,
) -> None:
    config = load_config(project.config)
    clean = maintenance_review.review(config, END)
    assert verification_check(clean.problems)[0] is Status.OK
    tampered = _tamper(project)

    month = maintenance_review.review(config, END)

    # The same problems as `upkeep verify`, in its order, found through the site's cache.
    found = verify(project.evidence).problems
    assert len(found) == 6  # the edited run.json: its hash, and its status against the ledger
    assert month.problems == tuple(problem.message for problem in found)
    assert cache_path(config.state_dir).is_file()
    status, message = verification_check(month.problems)
    assert status is Status.FAIL
    assert message.startswith("6 problem(s) in the evidence")
    assert f"run {tampered['hidden'].run_id}: run.json: sha256 mismatch" in message
    assert "; and 3 more;" in message

    # No broken run counted: the edited one is no "ok", and each is shown as not verified.
    before = {item.runbook: item for item in clean.runbooks}
    after = {item.runbook: item for item in month.runbooks}
    assert after["broken"].statuses == before["broken"].statuses - Counter({Status.FAIL: 1})
    assert Status.OK not in after["broken"].statuses
    assert (after["broken"].unverified, after["steady"].unverified) == (1, 2)
    assert after["backup-check"].unverified == 1
    assert month.runs == clean.runs - 4 and month.unverified == 4
    text = month_text(month, config.tz)
    assert "The evidence does not verify: 6 problem(s)" in text
    assert "  broken: 3 fail, 1 not verified |" in text
    assert "sha256 mismatch (edited after publication)" in text and "... and 3 more" in text
    assert "The evidence does not verify" not in month_text(clean, config.tz)


def test_the_quarterly_review_names_what_does_not_verify_and_leaves_out_an_edited_review(
    project: Project,
) -> None:
    config = load_config(project.config)
    clean = quarterly_review.review(config, END)
    newest_review = clean.monthly_reviews[-1].run_id
    _tamper(project)
    [review_entry] = [
        entry
        for entry in EvidenceStore(project.evidence).entries()
        if entry.run_id == newest_review
    ]
    run_json = project.evidence / review_entry.path / "run.json"
    run_json.write_text(run_json.read_text().replace("planted review", "edited review"))

    quarter = quarterly_review.review(config, END)

    assert quarter.problems == tuple(p.message for p in verify(project.evidence).problems)
    assert len(quarter.problems) == 7
    assert verification_check(quarter.problems)[0] is Status.FAIL
    # The edited monthly review is not drawn on; the edited run counts as no status.
    assert newest_review not in [monthly.run_id for monthly in quarter.monthly_reviews]
    broken = next(item for item in quarter.runbooks if item.runbook == "broken")
    assert broken.unverified == (0, 0, 1)
    assert Status.OK not in broken.statuses[2]
    assert quarter.runs == clean.runs - 5 and quarter.unverified == 5
    text = quarter_text(quarter, config.tz)
    assert "The evidence does not verify: 7 problem(s)" in text
    assert "1 not verified" in text.split("Runbooks month by month", 1)[1]
