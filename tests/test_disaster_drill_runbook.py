"""The disaster drill runbook end to end: the real `upkeep` command running the shipped daily
backup and disaster-drill notebooks on the embedded demo (built on the first run). The backup
writes the demo's heartbeat; the drill restores it, fails over onto the restored file and
records every check the triage table names, the RPO measured from last night's heartbeat when
it restores the stored backup, and nothing left behind."""

from __future__ import annotations

import shutil
import sqlite3
import textwrap
from pathlib import Path

import pytest
from helpers.project import REPO, Project
from helpers.runbook_docs import covers, load_notebook, triage_rows

from upkeep.demo import free_port

pytestmark = pytest.mark.slow  # kernels, through the real command line


@pytest.fixture
def drill_project(tmp_path: Path) -> Project:
    for cadence, name in (("daily", "backup"), ("yearly", "disaster-drill")):
        (tmp_path / "runbooks" / cadence).mkdir(parents=True)
        shutil.copy(REPO / "runbooks" / cadence / f"{name}.ipynb", tmp_path / "runbooks" / cadence)
    port = free_port()
    (tmp_path / "upkeep.yml").write_text(
        textwrap.dedent(f"""\
        version: 1
        evidence_dir: evidence
        state_dir: var/state
        demo: {{root: var/demo, http_port: {port}}}
        services:
          - {{name: web, kind: http, url: "http://127.0.0.1:{port}/health", timeout_s: 2}}
          - {{name: worker, kind: process, process: upkeep.demo.health_server}}
        databases:
          - {{name: app, engine: sqlite, path: var/demo/app.db}}
        backup: {{dir: var/backups, mode: full}}
        disaster_drill:
          databases: {{app: {{rpo_s: 600, rto_s: 60, canary: table}}}}
          services: {{web: {{rto_s: 60}}}}
          failover: {{kind: demo, database: app}}
        """)
    )
    return Project(tmp_path)


def _drills(project: Project) -> list[dict]:
    runs = [r for r in project.records() if r["runbook"]["name"] == "disaster-drill"]
    return sorted(runs, key=lambda r: r["started_at"])


def test_the_drill_on_the_demo_measures_rpo_from_the_backups_heartbeat(
    drill_project: Project,
) -> None:
    project = drill_project
    assert project.upkeep("run", "backup", "--no-demo-service").code == 0
    with sqlite3.connect(project.root / "var" / "demo" / "app.db") as connection:
        assert connection.execute("SELECT written_by FROM upkeep_canary").fetchall() == [
            ("backup",)
        ]
    connection.close()

    fresh = project.upkeep("run", "disaster-drill", "--no-demo-service")
    stored = project.upkeep(
        "run", "disaster-drill", "--no-demo-service", "-p", "fresh_backup=false"
    )

    assert fresh.code == 0, fresh.text
    first, second = _drills(project)
    first_checks = {c["name"]: c for c in first["checks"]}
    assert {c["status"] for c in first_checks.values()} == {"ok"}
    assert first_checks["drill:app:rpo"]["value"] == 0
    assert "served on port" in first_checks["drill:phase:failover"]["message"]
    assert {m["name"] for m in first["metrics"]} >= {
        "drill_rpo_seconds",
        "drill_rto_seconds",
        "drill_phase_seconds",
    }
    # The stored backup is the first drill's: its heartbeat is older than the second drill's.
    assert stored.code == 0, stored.text
    rpo = next(c for c in second["checks"] if c["name"] == "drill:app:rpo")
    assert rpo["status"] == "ok" and rpo["value"] > 0 and "(canary)" in rpo["message"]
    # Every check either run recorded has a row in the runbook's triage table.
    rows = triage_rows(load_notebook(REPO / "runbooks" / "yearly" / "disaster-drill.ipynb"))
    recorded = {c["name"] for r in (first, second) for c in r["checks"]}
    assert {name for name in recorded if not covers(rows, name)} == set()
    # Nothing left: no scratch folder in the store, no record of scratch targets.
    store = project.root / "var" / "backups"
    assert [p.name for p in store.iterdir() if p.name.startswith(".")] == []
    assert list((project.root / "var" / "state" / "disaster-drill").glob("*.json")) == []
