"""The yearly compliance audit runbook: as a document (a triage row for every check it can
record, roles of the plan, the plan's category, committed clean) and end to end through the real
CLI on the demo: its undeclared personal column, its rows past retention per table, an old
rotated log, the synthetic subject's rows all found, a canary value sampled but never in the
evidence; and a lookup that misses a planted row fails."""

from __future__ import annotations

import gzip
import shutil
import sqlite3
import textwrap
from pathlib import Path

import pytest
import yaml
from helpers.files import aged
from helpers.project import REPO, Project
from helpers.recorder import Recorder
from helpers.runbook_docs import covers, load_notebook, on_call_roles, triage_rows

from upkeep.config import load_config
from upkeep.demo.personal_data import (
    RETENTION_VIOLATIONS,
    TEST_SUBJECT,
    TEST_SUBJECT_ROWS,
    UNDECLARED_COLUMN,
)
from upkeep.procedures import compliance_audit

NOTEBOOK = REPO / "runbooks" / "yearly" / "compliance-audit.ipynb"
CANARY = "canary.0c4e@leak-test.example"
CHECKS = (
    "compliance:record",
    "compliance:databases",
    "compliance:app:connect",
    "compliance:app:coverage",
    "compliance:app:personal-columns",
    "compliance:app:retention",
    "compliance:app:stale",
    "compliance:categories",
    "compliance:logs:retention",
    "compliance:evidence",
    "compliance:subject-lookup",
)


def test_the_triage_table_covers_every_check_and_escalates_to_roles_of_the_plan() -> None:
    rows = triage_rows(load_notebook(NOTEBOOK))
    assert [name for name in CHECKS if not covers(rows, name)] == []
    roles = on_call_roles((REPO / "docs" / "plan.md").read_text())
    assert {role for row in rows for role in row.roles} <= set(roles)


def test_it_is_the_plans_yearly_compliance_audit_committed_clean() -> None:
    nb = load_notebook(NOTEBOOK)
    meta = nb["metadata"]["upkeep"]
    tasks = yaml.safe_load((REPO / "docs" / "plan-tasks.yml").read_text())["tasks"]
    task = next(t for t in tasks if "regulatory compliance" in t["description"])
    assert (meta["cadence"], meta["category"]) == (task["frequency"], task["category"])
    assert (meta["destructive"], meta["owner"], meta["review_every"]) == (
        False,
        "ops-oncall",
        "365d",
    )
    code = [cell for cell in nb["cells"] if cell["cell_type"] == "code"]
    assert all(cell["outputs"] == [] and cell["execution_count"] is None for cell in code)
    prose = "\n".join(c["source"] for c in nb["cells"] if c["cell_type"] == "markdown")
    assert "@" not in prose.replace("`{{", "")  # no address in the runbook: it is in the evidence


def _project(root: Path) -> Project:
    (root / "runbooks" / "yearly").mkdir(parents=True)
    shutil.copy(NOTEBOOK, root / "runbooks" / "yearly")
    shutil.copy(REPO / "record-of-processing.yml", root)
    shipped = yaml.safe_load((REPO / "upkeep.yml").read_text())
    (root / "upkeep.yml").write_text(
        textwrap.dedent("""\
        version: 1
        evidence_dir: evidence
        state_dir: var/state
        demo: {root: var/demo, http_port: 1}
        databases:
          - {name: app, engine: sqlite, path: var/demo/app.db}
        logs:
          - {name: app, path: var/demo/logs/app.log, retention_days: 90}
          - {name: worker, path: var/demo/logs/worker.log, retention_days: 90}
        """)
        + yaml.safe_dump({"compliance": shipped["compliance"]})
    )
    return Project(root)


@pytest.mark.slow
def test_the_runbook_on_the_demo(tmp_path: Path) -> None:
    project = _project(tmp_path)
    assert project.upkeep("demo").code == 0
    demo = tmp_path / "var" / "demo"
    old_copy = demo / "logs" / "app.log.4.gz"
    old_copy.write_bytes(gzip.compress(b"2025-01-01 lines of long ago\n"))
    aged(old_copy, 120)
    with sqlite3.connect(demo / "app.db") as db:
        db.execute("ALTER TABLE support_tickets ADD COLUMN referrer TEXT")
        db.execute("UPDATE support_tickets SET referrer = ? WHERE id = 5", (CANARY,))
        sampled = [row[0] for row in db.execute("SELECT signup_ip FROM newsletter_signups")]

    result = project.upkeep("run", "compliance-audit", "--no-demo-service")
    assert result.code == 0, result.text
    (record,) = project.records()
    assert record["status"] == "warn"
    checks = {c["name"]: c for c in record["checks"]}
    assert {name: checks[name]["status"] for name in checks} == {
        "compliance:record": "ok",
        "compliance:app:coverage": "warn",
        "compliance:app:personal-columns": "warn",
        "compliance:app:retention": "warn",
        "compliance:app:stale": "ok",
        "compliance:categories": "ok",
        "compliance:logs:retention": "warn",
        "compliance:evidence": "ok",
        "compliance:subject-lookup": "ok",
    }
    assert checks["compliance:app:coverage"]["message"].startswith("48/50 columns classified")
    findings = {f["key"]: f["message"] for f in record["findings"]}
    assert f"compliance:undeclared:app:{UNDECLARED_COLUMN}" in findings
    assert (
        "1 of 1 sampled values hold e-mail addresses"
        in findings["compliance:undeclared:app:support_tickets.referrer"]
    )
    for table, rows in RETENTION_VIOLATIONS.items():
        assert findings[f"compliance:retention:app:{table}"].startswith(f"{rows} rows of {table}")
    assert checks["compliance:app:retention"]["value"] == sum(RETENTION_VIOLATIONS.values())
    assert "app.log.4.gz" in findings["compliance:log-retention:app"]
    assert "could not check" not in checks["compliance:logs:retention"]["message"]  # all dated
    assert checks["compliance:subject-lookup"]["value"] == sum(TEST_SUBJECT_ROWS.values())
    assert "app: 48/50 columns classified" in record["summary"]
    # What was sampled is counted, never kept: not in any file of the evidence.
    for path in project.evidence_files():
        text = path.read_text(errors="replace")
        assert CANARY not in text and TEST_SUBJECT not in text, path
        assert not [value for value in sampled if value in text], path
    assert project.upkeep("verify").code == 0


def test_a_lookup_that_misses_a_planted_row_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(tmp_path)
    assert project.upkeep("demo").code == 0
    with sqlite3.connect(tmp_path / "var" / "demo" / "app.db") as db:
        db.execute("DELETE FROM newsletter_signups WHERE email = ?", (TEST_SUBJECT,))
    recorder = Recorder()
    monkeypatch.setattr(compliance_audit, "report", recorder)
    compliance_audit.record_subject_lookup(load_config(project.config))
    check = recorder.checks()["compliance:subject-lookup"]
    assert check["status"] == "fail"
    assert check["message"] == (
        "the lookup does not find the planted rows: app.newsletter_signups: 0 found, 1 planted"
    )
