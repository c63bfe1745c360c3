"""A project with a few synthetic daily-check runs published through the real evidence store
(run.json, ledger line, hash chain) without a kernel: for the tests of incremental site builds
and of the search-entry cache, which build a site over them and then add or change a run."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from helpers.project import Project
from upkeep.evidence import EvidenceStore
from upkeep.records import RunRecord

START = datetime(2026, 10, 5, 3, 0, tzinfo=UTC)


def publish(
    store: EvidenceStore,
    runbook: Path,
    n: int,
    status: str = "ok",
    checks: list[dict[str, Any]] | None = None,
) -> Path:
    started = START + timedelta(days=n)
    run_id = f"{started:%Y%m%dT%H%M%SZ}-daily-check-{n:04x}"
    staging = store.new_staging(run_id)
    (staging / "report.html").write_text(f"<!DOCTYPE html><title>{run_id}</title><p>{status}</p>")
    (staging / "notebook.ipynb").write_text(runbook.read_text())
    iso = started.isoformat().replace("+00:00", "Z")
    record: dict[str, Any] = {
        "schema": 1,
        "run_id": run_id,
        "runbook": {
            "name": "daily-check",
            "title": "Daily check",
            "path": "runbooks/daily/daily-check.ipynb",
            "sha256": hashlib.sha256(runbook.read_bytes()).hexdigest(),
        },
        "parameters": {},
        "secret_parameters": [],
        "trigger": "schedule",
        "as_of": iso,
        "started_at": iso,
        "ended_at": iso,
        "duration_s": 1.5,
        "status": status,
        "checks": checks or [{"name": "thing", "status": status, "message": f"synthetic {status}"}],
        "metrics": [],
        "findings": [],
        "error": None,
    }
    return store.publish(staging, RunRecord.from_json(record)).path


def daily_history(tmp_path: Path) -> dict[str, Any]:
    """A project at `tmp_path` with three ok runs of `daily-check`: its project, store, runbook
    and run folders."""
    (tmp_path / "upkeep.yml").write_text("version: 1\nevidence_dir: evidence\nstate_dir: state\n")
    project = Project(tmp_path)
    runbook = project.add_runbook("daily-check", [("code", "x = 1")])
    store = EvidenceStore(project.evidence)
    folders = [publish(store, runbook, n) for n in range(3)]
    return {"project": project, "store": store, "runbook": runbook, "folders": folders}
