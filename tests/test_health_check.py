"""End-to-end: the real health-check runbook, run by the real CLI, against a freshly built demo."""

from __future__ import annotations

import re
import shutil

import pytest
from helpers.demo import demo_config
from helpers.project import REPO, Project

from upkeep import demo

pytestmark = pytest.mark.slow
ERROR_LINE = re.compile(r"\b(?:ERROR|CRITICAL|FATAL)\b")


@pytest.fixture
def demo_project(tmp_path) -> Project:
    """The shipped health-check runbook and a demo system of its own on a free port."""
    shutil.copytree(REPO / "runbooks", tmp_path / "runbooks")
    port = demo.free_port()
    (tmp_path / "upkeep.yml").write_text(demo_config(port, worker=True))
    return Project(tmp_path)


def _checks(record: dict) -> dict[str, dict]:
    return {c["name"]: c for c in record["checks"]}


def test_health_check_on_the_demo(demo_project: Project) -> None:
    project = demo_project
    first = project.upkeep("run", "health-check")
    assert first.code == 0, first.text  # warn exits 0
    app_log = project.root / "var" / "demo" / "logs" / "app.log"
    errors_in_app_log = sum(bool(ERROR_LINE.search(line)) for line in app_log.open())
    assert errors_in_app_log > 0  # the demo's deliberate problem

    [record] = project.records()
    checks = _checks(record)
    assert record["status"] == "warn"
    assert checks["log:app"]["status"] == "warn"
    assert checks["log:app"]["value"] == errors_in_app_log
    assert checks["log:worker"]["status"] == "ok"
    assert {checks[f"service:{s}"]["status"] for s in ("web", "web-port", "worker")} == {"ok"}
    assert any(f["key"].startswith("log:app:") for f in record["findings"])
    report = (project.run_dirs()[0] / "report.html").read_text()
    assert "log:app" in report and "WARN" in report
    assert project.upkeep("verify").code == 0

    # Only lines written since the previous run count: a second run finds none, a new one is seen.
    assert project.upkeep("run", "health-check").code == 0
    assert _checks(project.records()[-1])["log:app"]["status"] == "ok"
    with app_log.open("a") as log:
        log.write("2026-11-27 03:00:00,000 ERROR payment gateway timeout after 31s for id 812\n")
    assert project.upkeep("run", "health-check").code == 0
    latest = max(project.records(), key=lambda r: r["started_at"])
    assert _checks(latest)["log:app"]["value"] == 1
    assert project.upkeep("verify").code == 0


def test_service_down_fails_the_check(demo_project: Project) -> None:
    result = demo_project.upkeep("run", "health-check", "--no-demo-service")
    assert result.code == 1, result.text
    [record] = demo_project.records()
    checks = _checks(record)
    assert record["status"] == "fail"
    assert checks["service:web"]["status"] == "fail"
    assert checks["service:web-port"]["status"] == "fail"
