"""upkeep.coverage in-process, on a real evidence store: which runs account for a scheduled run
(a dry run does not, a run that ended in error does), a cadence several times a day, a start
grace as long as the period, and how a runbook's status follows its latest scheduled run whose
grace is over."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from helpers.history import History
from helpers.project import CHECK_OK, Project

from upkeep.config import load_config
from upkeep.coverage import Health, Outcome, RunbookCoverage, account
from upkeep.evidence import EvidenceStore
from upkeep.records import Status
from upkeep.registry import discover

UTC_ZONE = "UTC"


def _coverage(project: Project, at: str) -> dict[str, RunbookCoverage]:
    config = load_config(project.config)
    registry = discover(config.runbooks_dir, config.root)
    entries = EvidenceStore(config.evidence_dir).entries()
    moment = datetime.fromisoformat(at).astimezone(config.tz)
    return {item.runbook.name: item for item in account(registry, entries, [], config, moment)}


def _project(make_project: Callable[[str], Project], grace_minutes: int) -> Project:
    return make_project(
        "version: 1\ntimezone: UTC\nevidence_dir: evidence\nstate_dir: state\n"
        f"status: {{start_grace_minutes: {grace_minutes}}}\n"
    )


def test_a_dry_run_accounts_for_nothing_and_a_run_in_error_ran(
    make_project: Callable[[str], Project],
) -> None:
    project = _project(make_project, 60)
    project.add_runbook("nightly", [CHECK_OK], cadence="daily")
    history = History(project.evidence)
    history.daily("nightly", "2026-06-01", 1, "00:10", UTC_ZONE)
    history.daily("nightly", "2026-06-02", 1, "00:10", UTC_ZONE, dry_run=True)
    history.daily("nightly", "2026-06-03", 1, "00:10", UTC_ZONE, status=Status.ERROR)

    item = _coverage(project, "2026-06-03T12:00+00:00")["nightly"]

    assert [slot.outcome for slot in item.slots] == [
        Outcome.ON_TIME,
        Outcome.MISSED,
        Outcome.ON_TIME,
    ]
    assert item.health is Health.ON_TIME
    assert item.counted is not None and item.counted.run_id == item.slots[-1].run_id


def test_every_six_hours_each_period_is_accounted_for_on_its_own(
    make_project: Callable[[str], Project],
) -> None:
    project = _project(make_project, 30)
    project.add_runbook("often", [CHECK_OK], cadence="0 */6 * * *")
    history = History(project.evidence)
    for hour in ("00:05", "06:05", "13:00"):  # 12:00's run is late; 18:00 has none
        history.daily("often", "2026-06-01", 1, hour, UTC_ZONE)

    item = _coverage(project, "2026-06-01T20:00+00:00")["often"]

    assert [(slot.scheduled.hour, slot.outcome) for slot in item.slots] == [
        (0, Outcome.ON_TIME),
        (6, Outcome.ON_TIME),
        (12, Outcome.LATE),
        (18, Outcome.MISSED),
    ]
    assert item.health is Health.MISSED and item.health.alarming


def test_a_start_grace_as_long_as_the_period_leaves_no_late_run(
    make_project: Callable[[str], Project],
) -> None:
    project = _project(make_project, 1440)
    project.add_runbook("nightly", [CHECK_OK], cadence="daily")
    history = History(project.evidence)
    history.daily("nightly", "2026-06-01", 1, "00:10", UTC_ZONE)
    history.daily("nightly", "2026-06-02", 1, "23:50", UTC_ZONE)

    item = _coverage(project, "2026-06-03T12:00+00:00")["nightly"]

    assert [slot.outcome for slot in item.slots] == [
        Outcome.ON_TIME,
        Outcome.ON_TIME,
        Outcome.DUE,
    ]
    assert item.health is Health.ON_TIME  # about 2 June: 3 June's grace runs to midnight


def test_a_first_run_after_the_start_grace_is_its_first_run_not_on_time(
    make_project: Callable[[str], Project],
) -> None:
    """A yearly runbook first run on 8 December: its period began on 1 January, before the
    runbook existed, so the run is neither on time nor late, and nothing alarms. A first run
    within the start grace is on time, and later periods are judged as usual."""
    project = _project(make_project, 360)
    project.add_runbook("audit", [CHECK_OK], cadence="yearly")
    project.add_runbook("nightly", [CHECK_OK], cadence="daily")
    project.add_runbook("prompt", [CHECK_OK], cadence="daily")
    history = History(project.evidence)
    history.daily("audit", "2026-12-08", 1, "01:32", UTC_ZONE)
    history.daily("nightly", "2026-12-06", 3, "09:00", UTC_ZONE)
    history.daily("prompt", "2026-12-07", 1, "00:10", UTC_ZONE)

    found = _coverage(project, "2026-12-08T12:00+00:00")

    audit = found["audit"]
    [slot] = audit.slots
    assert slot.outcome is Outcome.FIRST_RUN
    assert audit.health is Health.FIRST_RUN and not audit.health.alarming
    assert audit.count(Outcome.ON_TIME) == audit.count(Outcome.LATE) == 0
    assert [slot.outcome for slot in found["nightly"].slots] == [
        Outcome.FIRST_RUN,
        Outcome.LATE,
        Outcome.LATE,
    ]
    assert found["nightly"].health is Health.LATE
    assert [slot.outcome for slot in found["prompt"].slots] == [Outcome.ON_TIME, Outcome.MISSED]
