"""upkeep.plan in-process: which runbooks are due at a given time, with real runbook files and a
real evidence store, but no kernel (tests/test_due.py drives a few of these through the CLI)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from helpers.project import CHECK_OK, Project

from upkeep import plan, schedule
from upkeep.config import Config, load_config
from upkeep.errors import ParameterError
from upkeep.evidence import EvidenceStore
from upkeep.records import RunbookRef, RunRecord, Status, Trigger
from upkeep.registry import Registry, discover


class Night:
    """Plans `--due` runs at chosen times and records each planned run as the runner would:
    started now (the machine's clock), on the schedule's clock `as_of`."""

    def __init__(self, project: Project) -> None:
        self.config: Config = load_config(project.config)
        self.registry: Registry = discover(self.config.runbooks_dir, self.config.root)
        self.store = EvidenceStore(self.config.evidence_dir)
        self.runs = 0

    def due(self, at: str) -> list[str]:
        moment = schedule.localize(
            datetime.fromisoformat(at.replace("Z", "+00:00")), self.config.tz
        )
        planned = plan.plan_due(self.registry, self.store, self.config, moment, Trigger.SCHEDULE)
        for run in planned:
            assert run.trigger is Trigger.SCHEDULE and run.as_of == moment
            self.record(run.runbook.name, as_of=moment)
        return sorted(run.runbook.name for run in planned)

    def record(
        self, name: str, *, as_of: datetime | None = None, status: Status = Status.OK
    ) -> None:
        self.runs += 1
        now = datetime.now(UTC)
        run_id = f"{now:%Y%m%dT%H%M%SZ}-{name}-{self.runs:04x}"
        record = RunRecord(run_id, RunbookRef(name), status, now, now, as_of or now)
        self.store.publish(self.store.new_staging(run_id), record)


@pytest.fixture
def night(project: Project) -> Night:
    project.add_runbook("every-day", [CHECK_OK], cadence="daily")
    project.add_runbook("every-week", [CHECK_OK], cadence="weekly")
    project.add_runbook("every-month", [CHECK_OK], cadence="monthly")
    project.add_runbook("every-6h", [CHECK_OK], cadence="0 */6 * * *")
    return Night(project)


def test_due_across_day_week_and_month_boundaries(night: Night) -> None:
    everything = ["every-6h", "every-day", "every-month", "every-week"]
    # Friday 2027-01-29 10:00 UTC: never run, so everything is due once.
    assert night.due("2027-01-29T10:00:00Z") == everything
    # Same day, later, before the next 6-hour slot: nothing.
    assert night.due("2027-01-29T11:59:00Z") == []
    assert night.due("2027-01-29T12:00:00Z") == ["every-6h"]
    # Saturday 00:30: a new day, same week and month.
    assert night.due("2027-01-30T00:30:00Z") == ["every-6h", "every-day"]
    # Monday 2027-02-01 00:30: a new day, a new week (Monday) and a new month at once.
    assert night.due("2027-02-01T00:30:00Z") == everything
    assert night.due("2027-02-01T05:00:00Z") == []


def test_missed_periods_are_caught_up_once(night: Night) -> None:
    assert "every-day" in night.due("2027-03-01T01:00:00Z")
    # Three nightly slots missed (2, 3, 4 March): one run, not three.
    assert night.due("2027-03-04T09:00:00Z") == ["every-6h", "every-day"]
    assert night.due("2027-03-04T10:00:00Z") == []


def test_timezone_moves_the_boundary(make_project) -> None:
    project = make_project(
        "version: 1\ntimezone: Asia/Tokyo\nevidence_dir: evidence\nstate_dir: state\n"
    )
    project.add_runbook("every-day", [CHECK_OK], cadence="daily")
    night = Night(project)
    assert night.due("2027-03-01T10:00:00Z") == ["every-day"]  # 19:00 in Tokyo
    # 14:30 UTC on 1 March is 23:30 in Tokyo: same local day, not due.
    assert night.due("2027-03-01T14:30:00+00:00") == []
    # 15:30 UTC is 00:30 on 2 March in Tokyo: due (in UTC it would still be 1 March).
    assert night.due("2027-03-01T15:30:00+00:00") == ["every-day"]


def test_a_backfill_does_not_make_a_runbook_due_again(night: Night) -> None:
    assert "every-day" in night.due("2027-03-10T01:00:00Z")
    # A run recorded later in the ledger but for an earlier time (a manual run is stamped with
    # today's real date, before 10 March 2027)...
    night.record("every-day")
    # ...does not hide the run of 10 March: nothing is due later that day.
    assert "every-day" not in night.due("2027-03-10T09:00:00Z")


def test_a_skipped_run_does_not_count_as_a_run(night: Night) -> None:
    at = datetime(2027, 3, 10, 1, tzinfo=UTC)
    night.record("every-day", as_of=at, status=Status.SKIPPED)
    assert "every-day" in night.due("2027-03-10T09:00:00Z")


def test_states_say_last_status_and_when_next_due(night: Night) -> None:
    night.due("2027-03-10T01:00:00Z")
    at = datetime(2027, 3, 10, 9, tzinfo=UTC)
    states = {
        s.runbook.name: s
        for s in plan.states(night.registry, night.store.entries(), night.config, at)
    }
    day = states["every-day"]
    assert day.last_status is Status.OK and not day.due
    assert day.last_run_at == datetime(2027, 3, 10, 1, tzinfo=UTC)
    assert day.next_due == datetime(2027, 3, 11, tzinfo=UTC)


def test_due_runs_take_no_parameters(night: Night) -> None:
    with pytest.raises(ParameterError, match="-p cannot be combined with --due"):
        plan.plan_due(
            night.registry, night.store, night.config, datetime.now(UTC), Trigger.CI, ["x=1"]
        )


def test_named_runs_are_planned_once_each_with_their_parameters(project: Project) -> None:
    project.add_runbook("takes-n", [CHECK_OK], params="n: int = 1  # a number")
    registry = discover(project.root / "runbooks", project.root)
    planned = plan.plan_named(registry, ["takes-n", "takes-n"], ["n=5"], Trigger.MANUAL)
    assert [(p.runbook.name, p.params, p.trigger, p.as_of) for p in planned] == [
        ("takes-n", {"n": 5}, Trigger.MANUAL, None)
    ]
    with pytest.raises(ParameterError, match="name at least one runbook"):
        plan.plan_named(registry, [], [], Trigger.MANUAL)
