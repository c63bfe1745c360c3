"""upkeep.plan in-process: which runbooks are due at a given time, and which run is each one's
last, with real runbook files and a real evidence store holding runs that ran at chosen times,
but no kernel (tests/test_due.py drives a few of these through the CLI)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from helpers.project import CHECK_OK, Project

from upkeep import plan, schedule
from upkeep.config import Config, load_config
from upkeep.errors import ParameterError
from upkeep.evidence import EvidenceStore
from upkeep.records import RunbookRef, RunRecord, Status, Trigger
from upkeep.registry import Registry, discover


class Night:
    """Plans `--due` runs at chosen times and records each planned run as having run then."""

    def __init__(self, project: Project) -> None:
        self.config: Config = load_config(project.config)
        self.registry: Registry = discover(self.config.runbooks_dir, self.config.root)
        self.store = EvidenceStore(self.config.evidence_dir)
        self.runs = 0

    def due(self, at: str, status: Status = Status.OK) -> list[str]:
        moment = when(at, self.config)
        planned = plan.plan_due(self.registry, self.store, self.config, moment, Trigger.SCHEDULE)
        for run in planned:
            assert run.trigger is Trigger.SCHEDULE
            self.record(run.runbook.name, moment, status=status)
        return sorted(run.runbook.name for run in planned)

    def record(
        self,
        name: str,
        started: datetime,
        *,
        status: Status = Status.OK,
        as_of: datetime | None = None,
        dry_run: bool = False,
    ) -> str:
        """Publish a run of `name` that started at `started` (`as_of` as evidence written by
        an earlier upkeep may say)."""
        self.runs += 1
        run_id = f"{started.astimezone(UTC):%Y%m%dT%H%M%SZ}-{name}-{self.runs:04x}"
        record = RunRecord(
            run_id, RunbookRef(name), status, started, started, as_of or started, dry_run=dry_run
        )
        self.store.publish(self.store.new_staging(run_id), record)
        return run_id

    def state(self, name: str, at: str) -> plan.RunbookState:
        moment = when(at, self.config)
        [state] = [
            state
            for state in plan.states(self.registry, self.store.entries(), self.config, moment)
            if state.runbook.name == name
        ]
        return state


def when(text: str, config: Config) -> datetime:
    return schedule.localize(datetime.fromisoformat(text.replace("Z", "+00:00")), config.tz)


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


def test_a_run_counts_when_it_ran_not_at_the_time_its_record_names(night: Night) -> None:
    # Evidence written while `run --due --at` still ran: a run of 10 March 2027 recorded as of
    # a year later. It ran on 10 March, so the next day it is due again.
    ran = datetime(2027, 3, 10, 1, tzinfo=UTC)
    night.record("every-day", ran, as_of=ran.replace(year=2028))
    assert "every-day" not in night.due("2027-03-10T09:00:00Z")
    assert "every-day" in night.due("2027-03-11T01:00:00Z")
    state = night.state("every-day", "2027-03-11T02:00:00Z")
    assert state.last_run_at == datetime(2027, 3, 11, 1, tzinfo=UTC)


def test_the_last_run_is_the_latest_that_ran_whatever_the_ledger_order(night: Night) -> None:
    later = night.record("every-day", datetime(2027, 3, 10, 1, tzinfo=UTC))
    # Published after it, started before it (a parallel run that took longer).
    night.record("every-day", datetime(2027, 3, 10, 0, 30, tzinfo=UTC), status=Status.FAIL)
    state = night.state("every-day", "2027-03-10T09:00:00Z")
    assert (state.last_run_id, state.last_status) == (later, Status.OK)


def test_at_a_past_moment_a_later_run_has_not_happened_yet(night: Night) -> None:
    # `list --at` a moment before today's run showed that run as the last one and not due.
    # (in the past: a run stamped a little ahead of now, by a clock stepped back, still counts)
    earlier = night.record("every-day", datetime(2026, 3, 9, 1, tzinfo=UTC))
    night.record("every-day", datetime(2026, 3, 10, 9, 22, tzinfo=UTC), status=Status.WARN)
    before = night.state("every-day", "2026-03-10T08:00:00Z")
    assert (before.last_run_id, before.last_status, before.due) == (earlier, Status.OK, True)
    assert not night.state("every-day", "2026-03-10T10:00:00Z").due


def test_a_run_stamped_a_little_ahead_of_now_still_counts(night: Night) -> None:
    # A clock stepped back: the run's start is after "now", and it must not run again.
    now = datetime.now(UTC)
    ahead = night.record("every-day", now + timedelta(minutes=3))
    state = night.state("every-day", now.isoformat())
    assert state.last_run_id == ahead and not state.due


def test_a_skipped_run_does_not_count_as_a_run(night: Night) -> None:
    ran = night.record("every-day", datetime(2027, 3, 9, 1, tzinfo=UTC))
    night.record("every-day", datetime(2027, 3, 10, 1, tzinfo=UTC), status=Status.SKIPPED)
    assert night.state("every-day", "2027-03-10T08:00:00Z").last_run_id == ran
    assert "every-day" in night.due("2027-03-10T09:00:00Z")


def test_a_dry_run_does_not_count_as_the_periods_run(night: Night) -> None:
    dry = night.record("every-day", datetime(2027, 3, 10, 1, tzinfo=UTC), dry_run=True)
    state = night.state("every-day", "2027-03-10T09:00:00Z")
    # It is the last run, shown as a dry run, and the day's real run is still due.
    assert (state.last_run_id, state.last_dry_run, state.due) == (dry, True, True)
    assert night.due("2027-03-10T09:00:00Z") == [
        "every-6h",
        "every-day",
        "every-month",
        "every-week",
    ]
    assert night.due("2027-03-10T10:00:00Z") == []


def test_a_run_that_ended_in_error_is_retried_until_its_retries_are_used_up(night: Night) -> None:
    assert night.registry["every-day"].retries == 2  # the default
    # 1 March: the first try and two retries end in error, then it waits for the next day.
    assert "every-day" in night.due("2027-03-01T01:00:00Z", status=Status.ERROR)
    retry = night.state("every-day", "2027-03-01T02:00:00Z")
    assert (
        retry.due
        and retry.period_errors == 1
        and retry.next_due == datetime(2027, 3, 1, tzinfo=UTC)
    )
    assert "every-day" in night.due("2027-03-01T02:00:00Z", status=Status.ERROR)
    assert "every-day" in night.due("2027-03-01T03:00:00Z", status=Status.ERROR)
    assert night.due("2027-03-01T04:00:00Z") == []
    gave_up = night.state("every-day", "2027-03-01T05:00:00Z")
    assert (gave_up.due, gave_up.gave_up, gave_up.period_errors) == (False, True, 3)
    assert gave_up.last_status is Status.ERROR
    assert gave_up.next_due == datetime(2027, 3, 2, tzinfo=UTC)
    # 2 March: a new period, a new first try; a retry that ends otherwise than in error is
    # the day's run.
    assert "every-day" in night.due("2027-03-02T01:00:00Z", status=Status.ERROR)
    assert "every-day" in night.due("2027-03-02T02:00:00Z", status=Status.FAIL)
    assert "every-day" not in night.due("2027-03-02T03:00:00Z")
    assert not night.state("every-day", "2027-03-02T04:00:00Z").gave_up


def test_a_runbook_declares_how_many_retries_it_gets(project: Project) -> None:
    project.add_runbook("once-only", [CHECK_OK], meta={"retries": 0})
    night = Night(project)
    assert night.due("2027-03-01T01:00:00Z", status=Status.ERROR) == ["once-only"]
    assert night.due("2027-03-01T02:00:00Z") == []
    assert night.state("once-only", "2027-03-01T02:00:00Z").gave_up


def test_states_say_last_status_and_when_next_due(night: Night) -> None:
    night.due("2027-03-10T01:00:00Z")
    at = datetime(2027, 3, 10, 9, tzinfo=UTC)
    states = {
        s.runbook.name: s
        for s in plan.states(night.registry, night.store.entries(), night.config, at)
    }
    day = states["every-day"]
    assert day.last_status is Status.OK and not day.due and not day.last_dry_run
    assert day.last_run_at == datetime(2027, 3, 10, 1, tzinfo=UTC)
    assert day.next_due == datetime(2027, 3, 11, tzinfo=UTC)


def test_a_parameter_given_with_due_goes_to_each_due_runbook_that_declares_it(
    project: Project,
) -> None:
    project.add_runbook("cleans", [CHECK_OK], params="dry_run: bool = None  # only report")
    project.add_runbook("also-cleans", [CHECK_OK], params="dry_run: bool = False\nn: int = 2")
    project.add_runbook("checks", [CHECK_OK], params="top: int = 5  # groups shown")
    night = Night(project)
    planned = plan.plan_due(
        night.registry, night.store, night.config, datetime.now(UTC), Trigger.CI, ["dry_run=yes"]
    )
    assert {p.runbook.name: p.params for p in planned} == {
        "also-cleans": {"dry_run": True, "n": 2},
        "checks": {"top": 5},  # it does not declare dry_run: its defaults
        "cleans": {"dry_run": True},
    }


def test_a_parameter_no_runbook_declares_stops_due(night: Night) -> None:
    """A typo would otherwise apply to none of the runbooks, silently."""
    with pytest.raises(ParameterError, match="-p x: no runbook declares a parameter 'x'"):
        plan.plan_due(
            night.registry, night.store, night.config, datetime.now(UTC), Trigger.CI, ["x=1"]
        )


def test_a_value_a_due_runbook_refuses_stops_due(project: Project) -> None:
    project.add_runbook("cleans", [CHECK_OK], params="dry_run: bool = None  # only report")
    night = Night(project)
    with pytest.raises(ParameterError, match="parameter dry_run: expected true or false"):
        plan.plan_due(
            night.registry,
            night.store,
            night.config,
            datetime.now(UTC),
            Trigger.CI,
            ["dry_run=maybe"],
        )


def test_a_value_a_runbook_not_due_tonight_refuses_stops_due_tonight(project: Project) -> None:
    # A mistyped `-p` value in a nightly job passed six nights and stopped the seventh, the
    # weekly runbook's, before the daily backup ran. It is refused the first night.
    project.add_runbook("daily", [CHECK_OK])
    project.add_runbook("weekly", [CHECK_OK], cadence="weekly", params="n: int = 2  # a number")
    night = Night(project)
    at = when("2027-03-10T01:00:00Z", night.config)  # a Wednesday
    night.record("weekly", when("2027-03-08T01:00:00Z", night.config))  # done for the week
    assert [p.runbook.name for p in plan.plan_due(
        night.registry, night.store, night.config, at, Trigger.SCHEDULE, ["n=3"]
    )] == ["daily"]  # fmt: skip
    with pytest.raises(ParameterError, match="parameter n: expected an integer"):
        plan.plan_due(night.registry, night.store, night.config, at, Trigger.SCHEDULE, ["n=3x"])


def test_named_runs_are_planned_once_each_with_their_parameters(project: Project) -> None:
    project.add_runbook("takes-n", [CHECK_OK], params="n: int = 1  # a number")
    registry = discover(project.root / "runbooks", project.root)
    config = load_config(project.config)
    planned = plan.plan_named(registry, ["takes-n", "takes-n"], ["n=5"], Trigger.MANUAL, config)
    assert [(p.runbook.name, p.params, p.trigger) for p in planned] == [
        ("takes-n", {"n": 5}, Trigger.MANUAL)
    ]
    with pytest.raises(ParameterError, match="name at least one runbook"):
        plan.plan_named(registry, [], [], Trigger.MANUAL, config)


DATABASES = """\
    version: 1
    timezone: UTC
    evidence_dir: evidence
    state_dir: state
    runbooks_dir: runbooks
    databases:
      - {name: app, engine: sqlite, path: app.db}
      - {name: billing, engine: sqlite, path: billing.db}
"""


@pytest.mark.parametrize(
    ("value", "planned"),
    [("", ""), ("billing", "billing"), (" app , billing ,", " app , billing ,")],
)
def test_a_parameter_naming_databases_takes_the_configured_ones(
    make_project: Callable[[str], Project], value: str, planned: str
) -> None:
    project = make_project(DATABASES)
    project.add_runbook(
        "review",
        [CHECK_OK],
        params='databases: str = ""  # comma-separated',
        meta={"parameters": {"databases": {"names": "databases"}}},
    )
    registry = discover(project.root / "runbooks", project.root)
    config = load_config(project.config)
    [run] = plan.plan_named(registry, ["review"], [f"databases={value}"], Trigger.MANUAL, config)
    assert run.params == {"databases": planned}
    [due] = plan.plan_due(
        registry,
        EvidenceStore(config.evidence_dir),
        config,
        datetime.now(UTC),
        Trigger.SCHEDULE,
        [f"databases={value}"],
    )
    assert due.params == {"databases": planned}


@pytest.mark.parametrize("value", ["nope", "app,nope", "App", "app;billing", "app,billing,app"])
def test_a_database_that_is_not_configured_is_refused_before_anything_runs(
    make_project: Callable[[str], Project], value: str
) -> None:
    project = make_project(DATABASES)
    project.add_runbook(
        "review",
        [CHECK_OK],
        params='databases: str = ""  # comma-separated',
        meta={"parameters": {"databases": {"names": "databases"}}},
    )
    registry = discover(project.root / "runbooks", project.root)
    config = load_config(project.config)
    expected = "parameter databases: no entry named .* under databases: in upkeep.yml; expected "
    if value.endswith(",app"):
        expected = "parameter databases: 'app' is named twice; name each entry once"
    with pytest.raises(
        ParameterError, match=expected + ("" if "twice" in expected else "comma-separated names")
    ):
        plan.plan_named(registry, ["review"], [f"databases={value}"], Trigger.MANUAL, config)
    with pytest.raises(ParameterError, match=expected):
        plan.plan_due(
            registry,
            EvidenceStore(config.evidence_dir),
            config,
            datetime.now(UTC),
            Trigger.SCHEDULE,
            [f"databases={value}"],
        )


def test_with_no_databases_configured_only_an_empty_list_is_taken(project: Project) -> None:
    project.add_runbook(
        "review",
        [CHECK_OK],
        params='databases: str = ""  # comma-separated',
        meta={"parameters": {"databases": {"names": "databases"}}},
    )
    registry = discover(project.root / "runbooks", project.root)
    config = load_config(project.config)
    [run] = plan.plan_named(registry, ["review"], ["databases= "], Trigger.MANUAL, config)
    assert run.params == {"databases": " "}
    with pytest.raises(
        ParameterError,
        match="upkeep.yml has no databases: entries, so there is no 'app'; leave it empty",
    ):
        plan.plan_named(registry, ["review"], ["databases=app"], Trigger.MANUAL, config)


def test_a_due_run_done_meanwhile_by_another_process_is_named(night: Night) -> None:
    at = when("2026-11-10T04:00", night.config)
    [planned] = [
        run
        for run in plan.plan_due(night.registry, night.store, night.config, at, Trigger.SCHEDULE)
        if run.runbook.name == "every-day"
    ]

    def why(moment: datetime) -> str | None:
        return plan.not_due_now(planned, night.store.entries(), night.config, moment)

    assert why(at) is None
    # Another `run --due` ran it meanwhile: an error, a dry run and yesterday's run do not count.
    night.record("every-day", at - timedelta(days=1))
    night.record("every-day", at, status=Status.ERROR)
    night.record("every-day", at, dry_run=True)
    assert why(at) is None
    done = night.record("every-day", at + timedelta(minutes=1), status=Status.FAIL)
    assert why(at + timedelta(minutes=2)) == (
        f"not due any more: another upkeep run ran it in this period meanwhile (run {done})"
    )
    # A run named on the command line runs whatever ran before.
    [named] = plan.plan_named(night.registry, ["every-day"], [], Trigger.MANUAL, night.config)
    assert plan.not_due_now(named, night.store.entries(), night.config, at) is None


def test_a_due_retry_whose_retries_another_process_used_up_is_not_run(night: Night) -> None:
    at = when("2026-11-10T04:00", night.config)
    [planned] = [
        run
        for run in plan.plan_due(night.registry, night.store, night.config, at, Trigger.SCHEDULE)
        if run.runbook.name == "every-day"
    ]
    for minute in range(planned.runbook.retries + 1):  # the first try and every retry
        night.record("every-day", at + timedelta(minutes=minute), status=Status.ERROR)
    later = at + timedelta(minutes=5)
    assert plan.not_due_now(planned, night.store.entries(), night.config, later) == (
        "not due any more: another upkeep run used up its retries in this period "
        f"({planned.runbook.retries + 1} runs ended in error)"
    )
