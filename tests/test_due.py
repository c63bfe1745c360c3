"""End-to-end: `run --due --at` through the CLI and real kernels. The schedule logic itself (day,
week and month ends, time zones, catch-up) is tested in-process in tests/test_plan.py."""

from __future__ import annotations

import json
import os

import pytest
from helpers.project import CHECK_OK, Project

pytestmark = pytest.mark.slow


def _due_run(project: Project, at: str) -> list[str]:
    result = project.upkeep("run", "--due", "--at", at, "--json")
    assert result.code == 0, result.text
    return sorted(o["runbook"] for o in json.loads(result.out))


def test_missed_days_are_caught_up_once(project: Project) -> None:
    project.add_runbook("every-day", [CHECK_OK], cadence="daily")
    assert _due_run(project, "2027-03-01T01:00:00Z") == ["every-day"]
    # Three nightly slots missed (2, 3, 4 March): one run, not three.
    assert _due_run(project, "2027-03-04T09:00:00Z") == ["every-day"]
    assert _due_run(project, "2027-03-04T10:00:00Z") == []
    records = project.records()
    assert len(records) == 2
    assert [r["as_of"] for r in records] == ["2027-03-01T01:00:00.000Z", "2027-03-04T09:00:00.000Z"]
    assert {r["trigger"] for r in records} == {"ci" if os.environ.get("CI") else "schedule"}


def test_a_backfill_does_not_make_a_runbook_due_again(project: Project) -> None:
    project.add_runbook("every-day", [CHECK_OK], cadence="daily")
    assert _due_run(project, "2027-03-10T01:00:00Z") == ["every-day"]
    # A run recorded later in the ledger but for an earlier time (a manual run is stamped with
    # today's real date, before 10 March 2027)...
    assert project.upkeep("run", "every-day").code == 0
    assert len(project.records()) == 2
    # ...does not hide the run of 10 March: nothing is due later that day.
    assert _due_run(project, "2027-03-10T09:00:00Z") == []
