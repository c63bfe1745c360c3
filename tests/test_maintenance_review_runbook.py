"""End-to-end: the real monthly maintenance-review runbook, run by the real CLI (papermill, a real
kernel) on a project whose evidence holds a week of a daily runbook with a recurring finding and a
missed run; then the maintenance log, the backlog commands and `upkeep verify` on what it left."""

from __future__ import annotations

import json
import shutil
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers.project import REPO, Project
from helpers.runbook_docs import covers, load_notebook, triage_rows

from upkeep.evidence import EvidenceStore, verify
from upkeep.records import Check, Finding, Metric, RunbookRef, RunRecord, Severity, Status
from upkeep.review.backlog import item_id

pytestmark = pytest.mark.slow

NAME = "maintenance-review"
NOTEBOOK = REPO / "runbooks" / "monthly" / f"{NAME}.ipynb"
DISK = Finding("disk:/", "root filesystem 91% full", Severity.FAIL)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    for cadence, name in (("monthly", NAME), ("daily", "health-check")):
        (tmp_path / "runbooks" / cadence).mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "runbooks" / cadence / f"{name}.ipynb", tmp_path / "runbooks" / cadence)
    (tmp_path / "upkeep.yml").write_text(
        textwrap.dedent("""\
        version: 1
        timezone: UTC
        evidence_dir: evidence
        state_dir: var/state
        demo: {root: var/demo, http_port: 1}
        maintenance_review: {window_days: 30, recurring_runs: 3}
    """)
    )
    return Project(tmp_path)


def _history(project: Project) -> list[str]:
    """A health check on each of the last 7 days, today included, but 3 days ago, each reporting
    the same failing disk; the run ids."""
    store = EvidenceStore(project.evidence)
    now = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    ids = []
    for day in range(6, -1, -1):
        if day == 3:
            continue
        at = now - timedelta(days=day)
        record = RunRecord(
            f"{at:%Y%m%dT%H%M%SZ}-health-check-{day:04x}",
            RunbookRef("health-check", sha256="b" * 64),
            Status.FAIL,
            at,
            at + timedelta(seconds=3),
            at,
            checks=(Check("disk:/", Status.FAIL, value=91, limit=90),),
            metrics=(Metric("disk_used_percent", 85 + day, "%", {"mount": "/"}),),
            findings=(DISK,),
        )
        store.publish(store.new_staging(record.run_id), record)
        ids.append(record.run_id)
    return ids


def test_the_review_runs_on_real_evidence_and_leaves_a_log_entry(project: Project) -> None:
    ids = _history(project)
    result = project.upkeep("run", NAME, "--no-demo-service", timeout=300)
    [record] = [r for r in project.records() if r["runbook"]["name"] == NAME]
    assert result.code == 0, result.text
    assert record["status"] == "warn", record
    checks = {c["name"]: c for c in record["checks"]}
    assert checks["maintenance-review:coverage"]["status"] == "warn"
    assert checks["maintenance-review:coverage"]["value"] == 1  # the missed day
    assert checks["maintenance-review:backlog-overdue"]["status"] == "ok"
    metrics = {m["name"]: m["value"] for m in record["metrics"]}
    assert metrics["review_runs"] == 6 and metrics["review_backlog_active"] == 1
    assert "reviewed 6 runs (1 missed), 1 active backlog item (0 overdue)" in record["summary"]

    # The report shows the trend plot as an image, and every check has a triage row.
    run_dir = next(d for d in project.run_dirs() if NAME in d.name)
    report = (run_dir / "report.html").read_text()
    assert report.count("<img") >= 1 and "data:image/png;base64," in report
    rows = triage_rows(load_notebook(NOTEBOOK))
    assert [name for name in checks if not covers(rows, name)] == []

    # The review is the maintenance log's entry; the backlog holds the recurring disk finding.
    log = json.loads(project.upkeep("log", "list", "--json").out)
    assert [(e["by"], e["run"]) for e in log] == [(NAME, record["run_id"])]
    [item] = json.loads(project.upkeep("backlog", "list", "--json").out)
    assert item["id"] == item_id("health-check", DISK.key) and item["runs"] == ids
    done = project.upkeep(
        "backlog", "set", item["id"], "--state", "done", "--by", "dana", "--reason", "grew /"
    )
    assert done.code == 0, done.text
    assert verify(project.evidence).ok


def test_the_review_fails_on_evidence_edited_after_publication(project: Project) -> None:
    ids = _history(project)
    [entry] = [e for e in EvidenceStore(project.evidence).entries() if e.run_id == ids[0]]
    run_json = project.evidence / entry.path / "run.json"
    run_json.write_text(run_json.read_text().replace('"fail"', '"ok"'))  # hide the failure

    result = project.upkeep("run", NAME, "--no-demo-service", timeout=300)

    [record] = [r for r in project.records() if r["runbook"]["name"] == NAME]
    assert result.code != 0 and record["status"] == "fail", record
    checks = {c["name"]: c for c in record["checks"]}
    verified = checks["evidence:verify"]
    assert verified["status"] == "fail" and verified["value"] == 2, verified
    assert f"run {ids[0]}: run.json: sha256 mismatch" in verified["message"]
    metrics = {m["name"]: m["value"] for m in record["metrics"]}
    assert metrics["review_runs"] == 5  # the edited run is not counted as "ok", nor at all
    assert "(1 missed, 1 whose evidence does not verify)" in record["summary"]
    run_dir = next(d for d in project.run_dirs() if NAME in d.name)
    assert "health-check: 5 fail, 1 not verified |" in (run_dir / "report.html").read_text()
