"""End-to-end: `run --due --at` picks exactly the due runbooks across day, week and month ends."""

from __future__ import annotations

import json

import pytest
from conftest import CHECK_OK, Project

pytestmark = pytest.mark.slow


def _due_run(project: Project, at: str) -> list[str]:
    result = project.upkeep("run", "--due", "--at", at, "--json")
    assert result.code == 0, result.text
    return sorted(o["runbook"] for o in json.loads(result.out))


def test_due_across_day_week_and_month_boundaries(project: Project) -> None:
    project.add_runbook("every-day", [CHECK_OK], cadence="daily")
    project.add_runbook("every-week", [CHECK_OK], cadence="weekly")
    project.add_runbook("every-month", [CHECK_OK], cadence="monthly")
    project.add_runbook("every-6h", [CHECK_OK], cadence="0 */6 * * *")
    # Friday 2027-01-29 10:00 UTC: never run, so everything is due once.
    assert _due_run(project, "2027-01-29T10:00:00Z") == [
        "every-6h",
        "every-day",
        "every-month",
        "every-week",
    ]
    # Same day, later, before the next 6-hour slot: nothing.
    assert _due_run(project, "2027-01-29T11:59:00Z") == []
    assert _due_run(project, "2027-01-29T12:00:00Z") == ["every-6h"]
    # Saturday 00:30: a new day, same week and month.
    assert _due_run(project, "2027-01-30T00:30:00Z") == ["every-6h", "every-day"]
    # Monday 2027-02-01 00:30: a new day, a new week (Monday) and a new month at once.
    assert _due_run(project, "2027-02-01T00:30:00Z") == [
        "every-6h",
        "every-day",
        "every-month",
        "every-week",
    ]
    assert _due_run(project, "2027-02-01T05:00:00Z") == []


def test_missed_days_are_caught_up_once(project: Project) -> None:
    project.add_runbook("every-day", [CHECK_OK], cadence="daily")
    assert _due_run(project, "2027-03-01T01:00:00Z") == ["every-day"]
    # Three nightly slots missed (2, 3, 4 March): one run, not three.
    assert _due_run(project, "2027-03-04T09:00:00Z") == ["every-day"]
    assert _due_run(project, "2027-03-04T10:00:00Z") == []
    assert len(project.records()) == 2


def test_timezone_moves_the_boundary(make_project) -> None:
    project = make_project(
        "version: 1\ntimezone: Asia/Tokyo\nevidence_dir: evidence\nstate_dir: state\n"
    )
    project.add_runbook("every-day", [CHECK_OK], cadence="daily")
    assert _due_run(project, "2027-03-01T10:00:00Z") == ["every-day"]  # 19:00 in Tokyo
    # 14:30 UTC on 1 March is 23:30 in Tokyo: same local day, not due.
    assert _due_run(project, "2027-03-01T14:30:00+00:00") == []
    # 15:30 UTC is 00:30 on 2 March in Tokyo: due (in UTC it would still be 1 March).
    assert _due_run(project, "2027-03-01T15:30:00+00:00") == ["every-day"]


def test_a_backfill_does_not_make_a_runbook_due_again(project: Project) -> None:
    project.add_runbook("every-day", [CHECK_OK], cadence="daily")
    assert _due_run(project, "2027-03-10T01:00:00Z") == ["every-day"]
    # A run recorded later in the ledger but for an earlier time (a manual run is stamped with
    # today's real date, before 10 March 2027)...
    assert project.upkeep("run", "every-day").code == 0
    assert len(project.records()) == 2
    # ...does not hide the run of 10 March: nothing is due later that day.
    assert _due_run(project, "2027-03-10T09:00:00Z") == []
