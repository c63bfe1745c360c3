"""The README's main job on the shipped config: every due runbook against the demo, evidence
that verifies, and the site built from it. A copy of upkeep.yml with only the demo's port and the
machine-load thresholds changed (a test suite loading the CPU must not fail the health check)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from helpers.project import REPO, SHIPPED_RUNBOOKS, Project, copy_policy_files
from helpers.runbook_docs import covers, load_notebook, triage_rows

from upkeep import demo

pytestmark = pytest.mark.slow
ERROR_LINE = re.compile(r"\b(?:ERROR|CRITICAL|FATAL)\b")


@pytest.fixture
def shipped(tmp_path: Path) -> Project:
    for name in ("runbooks", "docs", "demo"):
        shutil.copytree(REPO / name, tmp_path / name)
    for name in ("mkdocs.yml", "pyproject.toml", "CHANGELOG.md"):
        shutil.copy(REPO / name, tmp_path / name)
    copy_policy_files(tmp_path)
    text = (REPO / "upkeep.yml").read_text()
    port = demo.free_port()
    config = yaml.safe_load(text.replace("8765", str(port)))
    assert config["demo"]["http_port"] == port
    for key in ("cpu_percent", "memory_percent", "load_per_cpu"):
        config["thresholds"][key] = {"warn": 1000, "fail": 1000}
    (tmp_path / "upkeep.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    return Project(tmp_path)


def test_the_main_job_on_the_demo(shipped: Project) -> None:
    result = shipped.upkeep("run", "--due", timeout=600)
    assert result.code == 0, result.err
    records = {r["runbook"]["name"]: r for r in shipped.records()}
    assert set(records) == set(SHIPPED_RUNBOOKS)
    assert records["cleaning"]["status"] == records["backup"]["status"] == "ok"

    # The demo's deliberate log errors are reported, even though cleaning ran alongside.
    health = records["health-check"]
    assert health["status"] == "warn"
    log_check = next(c for c in health["checks"] if c["name"] == "log:app")
    app_log = (shipped.root / "var/demo/logs/app.log").read_text().splitlines()
    assert log_check["value"] == sum(bool(ERROR_LINE.search(line)) for line in app_log) > 0

    # Cron and CI see each run start, and one line per run saying what it did.
    for name in records:
        assert f"started {name} (run " in result.err
    summaries = {name: record["summary"] for name, record in records.items()}
    assert summaries["health-check"].startswith("3 of 3 services up; ")
    assert re.match(
        r"removed \d+ entries, freeing [\d.]+ (B|KiB|MiB) in 2 roots", summaries["cleaning"]
    )
    assert re.match(
        r"app: full [\d.]+ KiB, stored [\d.]+ KiB, restore check ok$", summaries["backup"]
    )
    # The demo's two rotated worker copies are archived, once each.
    assert re.match(
        r"2 copies archived \([\d.]+ KiB\) of 2 rotated copies in 2 logs", summaries["log-backup"]
    )
    for name, summary in summaries.items():
        assert re.search(rf"\] (OK|WARN) +{name} \([\d.]+ s\): {re.escape(summary)}\n", result.err)
    # Each runbook's triage table has a row for every check it recorded.
    for name, record in records.items():
        rows = triage_rows(load_notebook(shipped.root / "runbooks" / SHIPPED_RUNBOOKS[name]))
        assert [c["name"] for c in record["checks"] if not covers(rows, c["name"])] == []

    # The shipped config writes the Prometheus textfile: every runbook and the demo's backup.
    prom = (shipped.root / "var/metrics/upkeep.prom").read_text()
    for name, record in records.items():
        status = f'upkeep_runbook_last_status{{runbook="{name}",status="{record["status"]}"}} 1.0'
        assert status in prom
    assert 'upkeep_backup_newest_verified_timestamp_seconds{database="app"}' in prom

    # Its alert target is a local inbox: one message per runbook that warned, naming who is on
    # call in the demo rotation, and each one a record in the ledger; and the disaster drill's
    # announcement, marked as a drill.
    inbox = [json.loads(p.read_text()) for p in (shipped.root / "var/alerts/inbox").glob("*.json")]
    alerts = [m for m in inbox if m["kind"] != "drill"]
    assert not [m for m in inbox if m["kind"] == "page"]  # warn never pages
    warned = {name for name, record in records.items() if record["status"] == "warn"}
    assert warned and {m["runbook"] for m in alerts} == warned
    assert all(m["kind"] == "worse" and m["on_call"] for m in alerts)
    [drill] = [m for m in inbox if m["kind"] == "drill"]
    assert drill["title"].startswith("[DRILL]")
    assert all(
        f"upkeep: alert: told demo-inbox that {name} got worse" in result.err for name in warned
    )

    assert shipped.upkeep("verify").code == 0
    # Every runbook's first run is on time (within its period's start grace) or its first run
    # (after it: neither on time nor late, no alarm): nothing missed, nothing late.
    status = shipped.upkeep("status", "--json")
    assert status.code == 0, status.err
    said = {item["name"]: item["status"] for item in json.loads(status.out)["runbooks"]}
    assert said.keys() == records.keys()
    assert set(said.values()) <= {"on_time", "first_run"}, said
    site = shipped.upkeep("site", "build", timeout=300)
    assert site.code == 0, site.err
    assert "[macros]" not in site.err
    register = (shipped.root / "site" / "risk-register" / "index.html").read_text()
    assert "GHSA-cpwx-vrp4-4pxq" in register and "2099-12-31" in register
    dashboard = (shipped.root / "site" / "index.html").read_text()
    for name in records:
        assert f"runbooks/{name}/" in dashboard
