"""End-to-end: the real health-check runbook, run by the real CLI, against a freshly built demo."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

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


# ---------------------------------------------------------------- what log lines leave behind

ISSUE_TOKEN = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJib2IiLCJpYXQiOjE3MzIwMDAwMDB9"
    ".c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"
)
SECRETS = {
    "card": "4111111111111111",
    "bearer-token": ISSUE_TOKEN,
    "password": "hunter2-correct-horse",
    "email": "bob.jones@example.org",
    "aws-access-key": "AKIAIOSFODNN7EXAMPLE",
}


def _logs_only_project(tmp_path: Path, log_body: bytes) -> Project:
    """The shipped health-check runbook against one log and nothing else."""
    shutil.copytree(REPO / "runbooks", tmp_path / "runbooks")
    (tmp_path / "app.log").write_bytes(log_body)
    (tmp_path / "upkeep.yml").write_text(
        "version: 1\nevidence_dir: evidence\nstate_dir: var/state\n"
        "logs:\n  - {name: app, path: app.log, first_scan: whole}\n"
        "thresholds:\n  cpu_percent: {warn: 101, fail: 101}\n"
        "  memory_percent: {warn: 101, fail: 101}\n  load_per_cpu: {warn: 1000, fail: 1000}\n"
    )
    return Project(tmp_path)


def test_no_secret_of_a_log_line_reaches_the_evidence(tmp_path: Path) -> None:
    line = (
        f"2026-11-27 03:00:00,000 ERROR payment failed card={SECRETS['card']}"
        f" Authorization: Bearer {SECRETS['bearer-token']} user {SECRETS['email']}"
        f" password={SECRETS['password']} key {SECRETS['aws-access-key']}\n"
    )
    project = _logs_only_project(tmp_path, line.encode() * 3)
    result = project.upkeep("run", "health-check")
    assert result.code == 0, result.text
    [run_dir] = project.run_dirs()
    artifacts = {p.name: p.read_text() for p in run_dir.iterdir()}
    assert set(artifacts) >= {"run.json", "notebook.ipynb", "report.html"}
    for name, text in artifacts.items():
        for kind, value in SECRETS.items():
            assert value not in text, f"the {kind} is in {name}"
    [record] = project.records()
    [group] = [f for f in record["findings"] if f["key"].startswith("log:app:")]
    for kind in SECRETS:
        assert f"«{kind}»" in group["message"], group["message"]
    assert all(value not in result.text for value in SECRETS.values())


def _peak_rss_of(command: list[str], cwd: Path) -> tuple[int, int]:
    """Run `command` under a small Python parent; its exit code and the peak resident memory,
    in bytes, of the largest process of its tree (every process in it is waited for)."""
    probe = (
        "import resource, subprocess, sys\n"
        f"code = subprocess.run({command!r}, cwd={str(cwd)!r}, capture_output=True).returncode\n"
        "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=600
    ).stdout
    code, peak = out.split()
    return int(code), int(peak)


def test_a_100_mb_log_line_leaves_a_small_run_and_a_bounded_memory_peak(tmp_path: Path) -> None:
    # One ERROR line with no newline for 100 MB, as the adversarial test of issue 9 wrote it.
    project = _logs_only_project(tmp_path, b"")
    with (tmp_path / "app.log").open("wb") as log:
        log.write(b"2026-11-27 03:00:00,000 ERROR upstream sent ")
        for _ in range(100):
            log.write(b"x" * (1 << 20))
        log.write(b" and gave up\n")
    command = [sys.executable, "-m", "upkeep.cli", "--config", str(project.config)]
    code, peak = _peak_rss_of([*command, "run", "health-check"], tmp_path)
    assert code == 0
    [run_dir] = project.run_dirs()
    run_size = sum(p.stat().st_size for p in run_dir.iterdir())
    assert run_size < 1 << 20, f"the run folder takes {run_size} bytes"
    # About 80 MiB for each process of the run: holding the line even once would pass 160.
    assert peak < 160 << 20, f"a process of the run peaked at {peak >> 20} MiB"
    [record] = project.records()
    [group] = [f for f in record["findings"] if f["key"].startswith("log:app:")]
    assert len(group["message"].encode()) < 1000
    assert group["message"].endswith("…«cut: 100.0 MiB line»)"), group["message"]
    assert _checks(record)["log:app"]["value"] == 1
