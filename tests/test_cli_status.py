"""`upkeep status` and `upkeep watch` through the real command line: every scheduled run accounted
for in a non-UTC time zone across its DST changes (Europe/Berlin in March and October,
America/New_York in November), late, skipped, missed and within grace, the time before a runbook
first ran not counted, the exit codes, the alert lines, and bad `status:` config refused."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from helpers.history import History
from helpers.project import CHECK_OK, Project

from upkeep.records import Status

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"


def zoned_project(make_project: Callable[[str], Project], zone: str, status: str = "") -> Project:
    config = (
        f"version: 1\ntimezone: {zone}\nevidence_dir: evidence\nstate_dir: state\n"
        "runbooks_dir: runbooks\ndefaults:\n  timeout_s: 120\n"
    )
    return make_project(config + textwrap.dedent(status))


def status_json(project: Project, at: str) -> tuple[int, dict]:
    result = project.upkeep_in_process("status", "--json", "--at", at)
    return result.code, json.loads(result.out)


def runbook(report: dict, name: str) -> dict:
    [found] = [item for item in report["runbooks"] if item["name"] == name]
    return found


def test_daily_runs_at_local_midnight_are_on_time_across_the_march_change_in_berlin(
    make_project: Callable[[str], Project],
) -> None:
    project = zoned_project(make_project, BERLIN, "status: {start_grace_minutes: 60}")
    project.add_runbook("nightly", [CHECK_OK], cadence="daily")
    # 00:30 Berlin is 23:30 UTC the day before until 29 March, then 22:30 UTC: evaluated in
    # UTC, every one of these runs would fall in the wrong day.
    History(project.evidence).daily("nightly", "2026-03-25", 9, "00:30", BERLIN)

    code, report = status_json(project, "2026-04-02T12:00")

    nightly = runbook(report, "nightly")
    assert code == 0
    assert report["timezone"] == BERLIN
    assert nightly["status"] == "on_time"
    assert nightly["counts"]["on_time"] == 9
    assert nightly["counts"]["missed"] == nightly["counts"]["late"] == 0
    assert nightly["scheduled"] == "2026-04-02T00:00:00+02:00"
    assert nightly["started_at"] == "2026-04-02T00:30:00+02:00"


def test_a_cron_time_the_october_change_repeats_is_one_scheduled_run_not_two(
    make_project: Callable[[str], Project],
) -> None:
    project = zoned_project(make_project, BERLIN, "status: {start_grace_minutes: 30}")
    project.add_runbook("half-past-two", [CHECK_OK], cadence="30 2 * * *")
    # 25 October 2026: 02:30 happens twice in Berlin (CEST, then CET); one run, on the first.
    History(project.evidence).daily("half-past-two", "2026-10-22", 7, "02:40", BERLIN)

    code, report = status_json(project, "2026-10-28T12:00")

    item = runbook(report, "half-past-two")
    assert code == 0, item
    assert item["counts"] == {
        **{"on_time": 7, "late": 0, "skipped": 0, "missed": 0, "due": 0, "first_run": 0}
    }
    assert item["missed"] == []


def test_a_cron_time_the_march_change_skips_runs_at_three_and_is_on_time(
    make_project: Callable[[str], Project],
) -> None:
    project = zoned_project(make_project, BERLIN, "status: {start_grace_minutes: 30}")
    project.add_runbook("half-past-two", [CHECK_OK], cadence="30 2 * * *")
    history = History(project.evidence)
    history.daily("half-past-two", "2026-03-26", 3, "02:35", BERLIN)
    # 29 March: 02:30 does not exist; the schedule's time that day is 03:00 CEST.
    history.daily("half-past-two", "2026-03-29", 1, "03:10", BERLIN)
    history.daily("half-past-two", "2026-03-30", 2, "02:35", BERLIN)

    code, report = status_json(project, "2026-03-31T12:00")

    item = runbook(report, "half-past-two")
    assert code == 0
    assert item["counts"]["on_time"] == 6
    assert item["late"] == item["missed"] == []


def test_a_nightly_at_a_fixed_utc_time_turns_from_late_to_on_time_when_new_york_falls_back(
    make_project: Callable[[str], Project],
) -> None:
    """The false alarm healthchecks.io users report: a nightly scheduled in UTC, a schedule in
    local time. 05:30 UTC is 01:30 EDT (past a 60-minute grace after midnight) up to 1 November
    2026 (New York falls back at 06:00 UTC that day), then 00:30 EST. The first run counts as on
    time: the runbook appeared then."""
    project = zoned_project(make_project, NEW_YORK, "status: {start_grace_minutes: 60}")
    project.add_runbook("nightly", [CHECK_OK], cadence="daily")
    History(project.evidence).daily("nightly", "2026-10-28", 8, "05:30", "UTC")

    code, report = status_json(project, "2026-11-04T12:00")

    item = runbook(report, "nightly")
    assert code == 0  # late is reported, not alarmed
    assert item["late"] == [
        *(f"2026-10-{day}T00:00:00-04:00" for day in (29, 30, 31)),
        "2026-11-01T00:00:00-04:00",
    ]
    assert item["counts"]["on_time"] == 3  # 2 to 4 November (EST)
    assert item["counts"]["first_run"] == 1  # 28 October: neither on time nor late
    assert item["status"] == "on_time"


def test_missed_runs_are_named_and_make_status_and_watch_exit_1(
    make_project: Callable[[str], Project],
) -> None:
    project = zoned_project(make_project, BERLIN, "status: {start_grace_minutes: 120}")
    project.add_runbook("nightly", [CHECK_OK], cadence="daily")
    project.add_runbook("fine", [CHECK_OK], cadence="daily")
    history = History(project.evidence)
    history.daily("nightly", "2026-10-20", 5, "01:00", BERLIN)  # the last run: 24 October
    history.daily("fine", "2026-10-20", 8, "01:00", BERLIN)

    code, report = status_json(project, "2026-10-27T09:00")
    assert code == 1
    assert runbook(report, "nightly")["missed"] == [
        "2026-10-25T00:00:00+02:00",
        "2026-10-26T00:00:00+01:00",
        "2026-10-27T00:00:00+01:00",
    ]
    assert runbook(report, "nightly")["alarm"] is True
    assert runbook(report, "fine")["status"] == "on_time"

    table = project.upkeep("status", "--at", "2026-10-27T09:00")
    assert table.code == 1
    assert "Time zone Europe/Berlin" in table.out
    [line] = [line for line in table.out.splitlines() if line.startswith("nightly ")]
    assert "MISSED" in line and "2026-10-27 00:00 CET" in line

    watch = project.upkeep("watch", "--at", "2026-10-27T09:00")
    assert watch.code == 1
    [alert] = watch.err.splitlines()
    assert alert.startswith("upkeep: ALERT: nightly (daily) missed 3 scheduled runs")
    assert "2026-10-27 00:00 CET" in alert and "2026-10-24 01:00 CEST" in alert
    assert watch.out == ""

    as_json = project.upkeep_in_process("watch", "--json", "--at", "2026-10-27T09:00")
    [alert_json] = json.loads(as_json.out)["alerts"]
    assert alert_json["runbook"] == "nightly" and alert_json["kind"] == "missed"
    assert len(alert_json["missed"]) == 3


def test_within_the_start_grace_a_run_not_yet_started_is_due_not_missed(
    make_project: Callable[[str], Project],
) -> None:
    project = zoned_project(make_project, NEW_YORK, "status: {start_grace_minutes: 60}")
    project.add_runbook("nightly", [CHECK_OK], cadence="daily")
    History(project.evidence).daily("nightly", "2026-12-01", 3, "00:10", NEW_YORK)

    code, report = status_json(project, "2026-12-04T00:45")
    item = runbook(report, "nightly")
    assert code == 0
    assert item["status"] == "on_time"  # the 3 December run: 4 December's is not late yet
    assert item["scheduled"] == "2026-12-03T00:00:00-05:00"
    assert item["counts"]["due"] == 1

    watch = project.upkeep_in_process("watch", "--at", "2026-12-04T00:45")
    assert watch.code == 0
    assert "no run missed or overrunning" in watch.out

    code, report = status_json(project, "2026-12-04T01:01")
    assert code == 1
    assert runbook(report, "nightly")["missed"] == ["2026-12-04T00:00:00-05:00"]


def test_late_skipped_and_the_time_before_the_first_run(
    make_project: Callable[[str], Project],
) -> None:
    project = zoned_project(
        make_project,
        BERLIN,
        """\
        status:
          start_grace_minutes: 60
          runbooks:
            weekly-review: {start_grace_minutes: 1440}
        """,
    )
    project.add_runbook("nightly", [CHECK_OK], cadence="daily")
    project.add_runbook("weekly-review", [CHECK_OK], cadence="weekly")
    history = History(project.evidence)
    history.daily("nightly", "2026-11-10", 1, "00:20", BERLIN)
    history.daily("nightly", "2026-11-11", 1, "05:00", BERLIN)  # late
    history.daily("nightly", "2026-11-12", 1, "00:05", BERLIN, status=Status.SKIPPED)
    history.daily("nightly", "2026-11-13", 1, "00:05", BERLIN, status=Status.ERROR)
    # Added on a Wednesday afternoon: its first week counts from that run, and a run on the
    # Monday after at 20:00 is within its own 24-hour grace.
    history.daily("weekly-review", "2026-11-11", 1, "15:00", BERLIN)
    history.daily("weekly-review", "2026-11-16", 1, "20:00", BERLIN)

    code, report = status_json(project, "2026-11-17T12:00")

    nightly = runbook(report, "nightly")
    assert nightly["since"] == "2026-11-10T00:20:00+01:00"
    assert nightly["late"] == ["2026-11-11T00:00:00+01:00"]
    assert nightly["counts"]["skipped"] == 1
    assert nightly["counts"]["on_time"] == 2  # 10 November, and 13 November (it ran; in error)
    assert nightly["missed"] == [f"2026-11-{day}T00:00:00+01:00" for day in (14, 15, 16, 17)]
    review = runbook(report, "weekly-review")
    assert review["counts"] == {
        **{"on_time": 1, "late": 0, "skipped": 0, "missed": 0, "due": 0, "first_run": 1}
    }
    assert review["start_grace_minutes"] == 1440
    assert review["status"] == "on_time"
    assert code == 1


def test_a_runbook_that_never_ran_is_said_so_and_counts_nothing(project: Project) -> None:
    project.add_runbook("new-one", [CHECK_OK], cadence="daily")

    result = project.upkeep_in_process("status")

    assert result.code == 0
    assert "NEVER RUN" in result.out
    assert "never a missed run" in result.out


def test_a_first_run_months_after_its_scheduled_time_is_said_so_not_on_time(
    make_project: Callable[[str], Project],
) -> None:
    """A fresh yearly runbook's first run on 8 December: `status` showed ON TIME next to 1
    January. It is a first run, with no scheduled time beside it, and no alarm."""
    project = zoned_project(make_project, "UTC")
    project.add_runbook("compliance-audit", [CHECK_OK], cadence="yearly")
    History(project.evidence).daily("compliance-audit", "2026-12-08", 1, "01:32", "UTC")
    at = "2026-12-08T12:00"

    text = project.upkeep_in_process("status", "--at", at)
    code, report = status_json(project, at)
    watch = project.upkeep_in_process("watch", "--at", at)

    [row] = [line for line in text.out.splitlines() if line.startswith("compliance-audit")]
    assert text.code == 0
    assert row.split()[2:7] == ["FIRST", "RUN", "-", "2026-12-08", "01:32"]
    assert "ON TIME" not in text.out and "2026-01-01" not in text.out
    assert row.endswith("0 on time, 0 late, 0 missed, 0 skipped, first run")
    item = runbook(report, "compliance-audit")
    assert code == 0
    assert (item["status"], item["alarm"]) == ("first_run", False)
    assert item["counts"]["first_run"] == 1 and item["counts"]["on_time"] == 0
    assert item["late"] == [] and item["missed"] == []
    assert watch.code == 0 and "ALERT" not in watch.err


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("status: {start_grace_minutes: soon}", "status.start_grace_minutes: expected a number"),
        (
            "status: {run_grace_minutes: -5}",
            "status.run_grace_minutes: expected a number from 0 to 52704000",
        ),
        ("status: {grace: 5}", "status.grace: unknown key"),
        (
            "status: {runbooks: {nightlly: {start_grace_minutes: 5}}}",
            "status.runbooks.nightlly: no runbook is called 'nightlly'; expected one of nightly",
        ),
    ],
)
def test_bad_status_config_is_refused_with_exit_2(
    make_project: Callable[[str], Project], status: str, expected: str
) -> None:
    project = zoned_project(make_project, BERLIN, status)
    project.add_runbook("nightly", [CHECK_OK], cadence="daily")

    result = project.upkeep_in_process("status")

    assert result.code == 2
    assert expected in result.err


@pytest.mark.slow
def test_a_run_going_on_past_its_limit_and_run_grace_is_overrunning(project: Project) -> None:
    """A real run, its kernel sleeping: while it goes on, its staging folder is the trace of a
    run that started and has not finished; an `--at` past its limit plus the run grace makes
    it overrunning; once published, it is an on-time run."""
    sleep = ("code", "import time\ntime.sleep(6)")
    project.add_runbook("slow-one", [sleep, CHECK_OK], meta={"timeout_s": 60})
    runner = subprocess.Popen(
        [sys.executable, "-m", "upkeep.cli", "--config", str(project.config), "run", "slow-one"],
        cwd=project.root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        staging = project.evidence / ".staging"
        deadline = time.monotonic() + 60
        while not (staging.is_dir() and any(staging.iterdir())):
            assert runner.poll() is None and time.monotonic() < deadline, "no run staged"
            time.sleep(0.1)
        now = datetime.now(UTC)
        soon = (now + timedelta(seconds=30)).isoformat()
        later = (now + timedelta(minutes=20)).isoformat()  # 60 s limit + 15 min run grace

        code, report = status_json(project, soon)
        [going_on] = runbook(report, "slow-one")["going_on"]
        assert code == 0 and going_on["overrunning"] is False
        assert going_on["pid"] == runner.pid and going_on["limit_s"] == 60

        code, report = status_json(project, later)
        assert code == 1
        assert runbook(report, "slow-one")["status"] == "overrunning"
        watch = project.upkeep_in_process("watch", "--at", later)
        assert watch.code == 1
        assert "upkeep: ALERT: slow-one is OVERRUNNING: run " in watch.err
        assert "time limit 1m" in watch.err and "run grace 15m" in watch.err
    finally:
        assert runner.wait(timeout=120) == 0
    code, report = status_json(project, datetime.now(UTC).isoformat())
    assert code == 0
    assert runbook(report, "slow-one")["status"] == "on_time"
    assert runbook(report, "slow-one")["going_on"] == []


def test_upkeep_check_names_a_status_entry_for_no_runbook(
    make_project: Callable[[str], Project],
) -> None:
    project = zoned_project(
        make_project, BERLIN, "status: {runbooks: {nightlly: {run_grace_minutes: 5}}}"
    )
    project.add_runbook("nightly", [CHECK_OK], cadence="daily")

    result = project.upkeep_in_process("check")

    assert result.code == 2
    assert "status.runbooks.nightlly: no runbook is called 'nightlly'" in result.err


def test_at_an_earlier_time_sees_only_the_runs_started_by_then(
    make_project: Callable[[str], Project],
) -> None:
    project = zoned_project(make_project, BERLIN, "status: {start_grace_minutes: 120}")
    project.add_runbook("nightly", [CHECK_OK], cadence="daily")
    History(project.evidence).daily("nightly", "2026-10-20", 5, "01:00", BERLIN)

    code, report = status_json(project, "2026-10-22T00:30")
    item = runbook(report, "nightly")
    assert code == 0
    assert item["counts"] == {
        **{"on_time": 2, "late": 0, "skipped": 0, "missed": 0, "due": 1, "first_run": 0}
    }
    assert item["started_at"] == "2026-10-21T01:00:00+02:00"

    code, report = status_json(project, "2026-10-19T12:00")
    assert code == 0
    assert runbook(report, "nightly")["status"] == "never_run"


def test_a_damaged_ledger_is_exit_3_naming_verify(project: Project) -> None:
    project.add_runbook("nightly", [CHECK_OK], cadence="daily")
    History(project.evidence).daily("nightly", "2026-06-01", 2, "00:10", "UTC")
    with open(project.evidence / "ledger.jsonl", "a") as ledger:
        ledger.write("{not json}\n")

    result = project.upkeep_in_process("watch")

    assert result.code == 3
    assert "line 3 is damaged" in result.err and "upkeep verify" in result.err


def test_watch_with_no_evidence_at_all_alerts_rather_than_stays_silent(project: Project) -> None:
    project.add_runbook("nightly", [CHECK_OK], cadence="daily")

    watch = project.upkeep_in_process("watch")
    status = project.upkeep_in_process("status")

    assert watch.code == 1
    assert f"upkeep: ALERT: no evidence ledger at {project.evidence}" in watch.err
    assert status.code == 0 and "NEVER RUN" in status.out
