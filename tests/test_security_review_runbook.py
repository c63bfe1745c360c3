"""The security-review runbook run for real by the CLI on the demo: the committed demo baseline
matches the demo (no drift; the planted access-log problems warn), a new sudoer, SSH key, SUID
file and database grant each appear as drift, `upkeep baseline accept` writes the new baseline
and records the decision in the ledger (verified, shown on the decisions page), and bad input
changes nothing."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from helpers.project import REPO, Project, copy_policy_files
from helpers.runbook_docs import covers, load_notebook, triage_rows

from upkeep.config import load_config
from upkeep.demo.security import demo_public_key
from upkeep.registry import discover
from upkeep.site.decisions import decisions_page
from upkeep.site.model import load_model

pytestmark = pytest.mark.slow
RUNBOOK = REPO / "runbooks" / "monthly" / "security-review.ipynb"


@pytest.fixture
def project(tmp_path: Path) -> Project:
    (tmp_path / "runbooks" / "monthly").mkdir(parents=True)
    shutil.copy(RUNBOOK, tmp_path / "runbooks" / "monthly")
    shutil.copytree(REPO / "demo", tmp_path / "demo")
    copy_policy_files(tmp_path)
    shutil.copy(REPO / "upkeep.yml", tmp_path / "upkeep.yml")
    project = Project(tmp_path)
    assert project.upkeep("demo").code == 0
    return project


def _run(project: Project) -> tuple[int, dict[str, Any]]:
    result = project.upkeep("run", "security-review", timeout=300)
    record = project.records()[-1]
    return result.code, record


def _checks(record: dict[str, Any]) -> dict[str, str]:
    return {check["name"]: check["status"] for check in record["checks"]}


def _findings(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {finding["key"]: finding for finding in record["findings"]}


def test_the_review_end_to_end_on_the_demo(project: Project) -> None:
    baseline = project.root / "demo" / "security" / "baseline.yml"
    shipped = baseline.read_bytes()
    code, record = _run(project)
    assert (code, record["status"]) == (0, "warn")
    checks = _checks(record)
    assert checks["security:baseline"] == checks["security:drift"] == "ok"
    assert checks["security:database:app"] == "ok"
    assert checks["access:failed-logins"] == checks["access:http-denied"] == "warn"
    assert not [k for k in _findings(record) if k.startswith("drift:")]
    rows = triage_rows(load_notebook(RUNBOOK))
    assert [name for name in checks if not covers(rows, name)] == []

    demo = project.root / "var" / "demo"
    with (demo / "security/etc/sudoers").open("a") as sudoers:
        sudoers.write("mallory ALL=(ALL) NOPASSWD: ALL\n")
    with (demo / "security/home/alice/.ssh/authorized_keys").open("a") as keys:
        keys.write(demo_public_key("mallory") + "\n")
    suid = demo / "security" / "helper"
    suid.write_text("#!/bin/sh\n")
    suid.chmod(0o4755)
    with sqlite3.connect(demo / "app.db") as db:
        db.execute("INSERT INTO role_grants VALUES ('support', 'all', '*')")
    db.close()

    code, record = _run(project)
    assert (code, record["status"]) == (0, "warn")
    assert _checks(record)["security:drift"] == "warn"
    drifts = {k for k in _findings(record) if k.startswith("drift:")}
    assert "drift:sudoers:mallory ALL=(ALL) NOPASSWD: ALL" in drifts
    assert "drift:suid_sgid:var/demo/security/helper" in drifts
    assert "drift:database:app:grant:support:*:all" in drifts
    assert any(k.startswith("drift:authorized_keys:alice:ssh-ed25519:") for k in drifts)
    assert len(drifts) == 4
    assert baseline.read_bytes() == shipped  # a run never writes the baseline

    refused = project.upkeep("baseline", "accept", "no-such-run", "--by", "x", "--reason", "y")
    assert refused.code == 2 and "is not a run of security-review" in refused.err
    assert baseline.read_bytes() == shipped

    accepted = project.upkeep(
        "baseline", "accept", record["run_id"], "--by", "alice", "--reason", "change 4711"
    )
    assert accepted.code == 0, accepted.err
    assert "4 changes accepted" in accepted.out
    assert b"mallory ALL=(ALL) NOPASSWD: ALL" in baseline.read_bytes()
    assert project.upkeep("verify").code == 0
    ledger = [
        json.loads(line) for line in (project.evidence / "ledger.jsonl").read_text().splitlines()
    ]
    decision = [line for line in ledger if line.get("kind") == "record"][-1]
    assert json.dumps(decision).count("accept-drift") >= 1
    assert record["run_id"] in json.dumps(decision) and "alice" in json.dumps(decision)

    code, record = _run(project)
    assert _checks(record)["security:drift"] == "ok"
    older = project.records()[-2]["run_id"]
    stale = project.upkeep("baseline", "accept", older, "--by", "x", "--reason", "y")
    assert stale.code == 2 and "is not the newest security-review run" in stale.err
    assert not [k for k in _findings(record) if k.startswith("drift:")]
    findings = project.upkeep("findings", "--json")
    assert "drift:" not in findings.out  # the accepted drifts are closed

    config = load_config(project.config)
    page = decisions_page(load_model(config, discover(config.runbooks_dir, config.root)))
    assert "accept-drift" in page and "alice" in page and "change 4711" in page


def test_the_committed_runbook_is_clean_and_documented() -> None:
    nb = load_notebook(RUNBOOK)
    meta = nb["metadata"]["upkeep"]
    assert meta["cadence"] == "monthly" and meta["category"] == "Security Review"
    assert meta["destructive"] is False
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None
    assert any("parameters" in c["metadata"].get("tags", ()) for c in nb["cells"])
