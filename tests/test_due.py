"""End-to-end: `run --due` through the CLI and real kernels: `--at` only plans, a run is recorded
when it ran, and a run that ended in error is retried by the next `--due` until its retries are
used up. The schedule logic itself (day, week and month ends, time zones, catch-up, which runs
count) is tested in-process in tests/test_plan.py. The runbooks here are yearly, so that no test
crosses the end of its period while it runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from helpers.project import CHECK_OK, Project

pytestmark = pytest.mark.slow

NEXT_YEAR = "2027-03-01T01:00:00Z"


def _due_run(project: Project, *at: str, code: int = 0) -> list[str]:
    result = project.upkeep("run", "--due", *at, "--json")
    assert result.code == code, result.text
    return sorted(item.get("runbook") or item["name"] for item in json.loads(result.out))


def test_a_future_at_plans_only_and_the_real_run_is_recorded_when_it_ran(project: Project) -> None:
    project.add_runbook("every-year", [CHECK_OK], cadence="yearly")
    # Planning for next year runs nothing, so it takes nothing from the real run...
    assert _due_run(project, "--at", NEXT_YEAR) == ["every-year"]
    assert not project.evidence.exists()
    # ...which runs now, and is recorded as of now.
    assert _due_run(project) == ["every-year"]
    [record] = project.records()
    assert record["as_of"] == record["started_at"]
    assert record["trigger"] == ("ci" if os.environ.get("CI") else "schedule")
    assert _due_run(project) == []
    # Next year it is due again: this year's run does not stand for it.
    assert _due_run(project, "--at", NEXT_YEAR) == ["every-year"]
    assert len(project.records()) == 1


FLAKY = """
import pathlib
from upkeep import report
marker = pathlib.Path({marker!r})
if not marker.exists():
    marker.touch()
    raise RuntimeError("the database is not up yet")
report.check("database", "ok", message="up")
"""
BROKEN = ("code", "raise RuntimeError('always broken')")


def test_a_run_that_ended_in_error_is_retried_by_the_next_due(project: Project) -> None:
    flaky = FLAKY.format(marker=str(project.root / "tried-once"))
    project.add_runbook("flaky", [("code", flaky)], cadence="yearly")
    project.add_runbook("broken", [CHECK_OK, BROKEN], cadence="yearly", meta={"retries": 1})
    assert _due_run(project, code=3) == ["broken", "flaky"]  # both end in error
    assert _due_run(project, code=3) == ["broken", "flaky"]  # each retried: flaky now passes
    assert _due_run(project) == []  # broken's one retry is used up; flaky ran
    statuses = sorted((r["runbook"]["name"], r["status"]) for r in project.records())
    assert statuses == [
        ("broken", "error"),
        ("broken", "error"),
        ("flaky", "error"),
        ("flaky", "ok"),
    ]
    listing = {state["name"]: state for state in json.loads(project.upkeep("list", "--json").out)}
    assert listing["broken"]["gave_up"] and listing["broken"]["period_errors"] == 2
    assert not listing["broken"]["due"] and listing["flaky"]["last_status"] == "ok"
    table = project.upkeep("list").out
    assert "(gave up: 2 runs ended in error)" in table


WAIT_FOR = """\
import time
from pathlib import Path
from upkeep import report
while not Path({marker!r}).exists():
    time.sleep(0.05)
report.check('waited', 'ok', message='went on')
"""


def test_a_run_another_upkeep_made_meanwhile_is_not_made_again(project: Project) -> None:
    # Two `run --due` at once: each planned every due runbook when it started. One that another
    # process ran meanwhile is skipped, saying so, not run a second time in its period.
    marker = project.root / "go-on"
    project.add_runbook(
        "a-first", [("code", WAIT_FOR.format(marker=str(marker)))], cadence="yearly"
    )
    project.add_runbook("b-second", [CHECK_OK], cadence="yearly")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    nightly = subprocess.Popen(
        [sys.executable, "-m", "upkeep.cli", "--config", str(project.config),
         "run", "--due", "--jobs", "1", "--json"],
        cwd=project.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not list(project.root.glob("evidence/.staging/*a-first*")):
            assert nightly.poll() is None and time.monotonic() < deadline, nightly.communicate()
            time.sleep(0.05)
        other = project.upkeep("run", "b-second")  # meanwhile, by hand or another nightly
        assert other.code == 0, other.text
        marker.touch()
        out, err = nightly.communicate(timeout=180)
    finally:
        if nightly.poll() is None:
            nightly.kill()
            nightly.wait()
    assert nightly.returncode == 0, err
    outcomes = {item["runbook"]: item for item in json.loads(out)}
    assert outcomes["a-first"]["status"] == "ok"
    assert outcomes["b-second"]["status"] == "skipped"
    ran = [r for r in project.records() if r["runbook"]["name"] == "b-second"]
    [real] = [r for r in ran if r["status"] == "ok"]
    [skipped] = [r for r in ran if r["status"] == "skipped"]
    assert skipped["skipped_reason"] == (
        "not due any more: another upkeep run ran it in this period meanwhile "
        f"(run {real['run_id']})"
    )
    assert "not due any more" in err
