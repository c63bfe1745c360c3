"""`upkeep schedule export`: cron fields taken apart, systemd calendar events, the hours a
daylight-saving change skips or repeats, the GitHub Actions UTC cron, the `schedule:` config
section, and the command itself (files, stdout, refusals and exit codes)."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from helpers.project import CHECK_OK, Project

from upkeep.schedule_export.calendar import on_calendar
from upkeep.schedule_export.dst import first_ambiguous_fire, transitions
from upkeep.schedule_export.fields import parse_fields
from upkeep.schedule_export.github_actions import utc_expression

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2027, 1, 1, tzinfo=UTC)


def project_with(tmp_path: Path, zone: str, cadences: dict[str, str], extra: str = "") -> Project:
    (tmp_path / "upkeep.yml").write_text(
        f"version: 1\ntimezone: {zone}\nrunbooks_dir: runbooks\n" + textwrap.dedent(extra)
    )
    project = Project(tmp_path)
    for name, cadence in cadences.items():
        project.add_runbook(name, [CHECK_OK], cadence=cadence)
    return project


# --- cron fields and systemd calendar events ------------------------------------------------


def test_fields_fold_sunday_and_know_and_from_or() -> None:
    fields = parse_fields("30 4 1,15 * 7")
    assert fields.weekdays == {0} and fields.days == {1, 15} and not fields.day_and
    assert parse_fields("0 0 * * 1").day_and


def test_fields_refuse_what_only_cronsim_reads() -> None:
    for expression in ("0 0 L * *", "0 0 * * 5L", "0 0 * * 1#2"):
        with pytest.raises(ValueError, match="L, W or #"):
            parse_fields(expression)


@pytest.mark.parametrize(
    ("expression", "events"),
    [
        ("0 0 * * *", ["*-*-* 00:00:00 Europe/Berlin"]),
        ("0 0 * * 1", ["Mon *-*-* 00:00:00 Europe/Berlin"]),
        ("0 0 1 * *", ["*-*-01 00:00:00 Europe/Berlin"]),
        ("0 0 1 1 *", ["*-01-01 00:00:00 Europe/Berlin"]),
        ("*/20 9-17 * * 1-5", ["Mon..Fri *-*-* 09..17:00,20,40:00 Europe/Berlin"]),
        ("45 23 * * 6,0", ["Sat..Sun *-*-* 23:45:00 Europe/Berlin"]),
        (
            "30 4 1 * 0",
            ["*-*-01 04:30:00 Europe/Berlin", "Sun *-*-* 04:30:00 Europe/Berlin"],
        ),
        ("* * * * *", ["*-*-* *:*:00 Europe/Berlin"]),
        # Either day field matching will do, and one covers every day: every day (was Mondays,
        # and the 1st only)
        ("0 4 1-31 * 1", ["*-*-* 04:00:00 Europe/Berlin"]),
        ("0 4 1 * 0-6", ["*-*-* 04:00:00 Europe/Berlin"]),
    ],
)
def test_on_calendar(expression: str, events: list[str]) -> None:
    assert on_calendar(parse_fields(expression), "Europe/Berlin") == events


# --- daylight saving ------------------------------------------------------------------------


def test_transitions_of_berlin_in_2027() -> None:
    changes = transitions(BERLIN, NOW, years=1)
    assert [(c.at, c.skips) for c in changes] == [
        (datetime(2027, 3, 28, 1, 0, tzinfo=UTC), True),
        (datetime(2027, 10, 31, 1, 0, tzinfo=UTC), False),
    ]
    assert changes[0].local_window() == (datetime(2027, 3, 28, 2), datetime(2027, 3, 28, 3))
    assert transitions(ZoneInfo("UTC"), NOW) == []


@pytest.mark.parametrize(
    ("expression", "zone", "first"),
    [
        ("30 2 * * *", "Europe/Berlin", datetime(2027, 3, 28, 2, 30)),
        ("0 * * * *", "Europe/Berlin", datetime(2027, 3, 28, 2, 0)),
        ("0 2 * * 0", "America/New_York", datetime(2027, 3, 14, 2, 0)),
        # Chile's clocks change at midnight: even a daily runbook at 00:00 meets the change.
        ("0 0 * * *", "America/Santiago", None),
        ("0 0 * * *", "Europe/Berlin", None),
        ("59 1 * * *", "Europe/Berlin", None),
        ("0 3 * * *", "Europe/Berlin", None),
        ("30 2 * * 1-5", "Europe/Berlin", None),  # the changes fall on Sundays
    ],
)
def test_first_ambiguous_fire(expression: str, zone: str, first: datetime | None) -> None:
    found = first_ambiguous_fire(expression, ZoneInfo(zone), NOW)
    if zone == "America/Santiago":
        assert found is not None and found[0].time().hour == 0
    else:
        assert (found[0] if found else None) == first


# --- GitHub Actions' UTC cron ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "zone", "utc"),
    [
        ("0 0 * * *", "UTC", "0 0 * * *"),
        ("0 0 * * *", "Asia/Tokyo", "0 15 * * *"),
        ("0 0 * * 1", "Asia/Tokyo", "0 15 * * 0"),
        ("30 10 * * 1-5", "Asia/Kolkata", "0 5 * * 1,2,3,4,5"),
        ("0 1 * * 0", "Asia/Kolkata", "30 19 * * 6"),
        ("0 0 1 * *", "Asia/Tokyo", None),  # the day before the 1st
        ("0 0,12 * * *", "Asia/Tokyo", None),  # 15:00 the day before, 03:00 the same day
        ("0 0 * * *", "Europe/Berlin", None),  # daylight saving
        ("0 4 * * 7", "UTC", "0 4 * * 0"),  # GitHub's cron takes weekdays 0-6 only
        ("0 4 * * 1-7", "UTC", "0 4 * * 0,1,2,3,4,5,6"),
        ("0 4 * * 1/2", "UTC", "0 4 * * 0,1,3,5"),  # Sunday reached by a step, as 7
        ("0 4 * * MON/2", "UTC", "0 4 * * 0,1,3,5"),
    ],
)
def test_utc_expression(expression: str, zone: str, utc: str | None) -> None:
    got, why = utc_expression(parse_fields(expression), ZoneInfo(zone), NOW)
    assert got == utc
    assert (why is None) == (utc is not None)


# --- the command ----------------------------------------------------------------------------


def test_crontab_to_stdout_runs_each_runbook_in_the_zone(tmp_path: Path) -> None:
    project = project_with(
        tmp_path,
        "Europe/Berlin",
        {"nightly": "daily", "workday": "15 6 * * 1-5"},
        extra="schedule:\n  command: /opt/upkeep 100%/bin/upkeep\n",
    )
    result = project.upkeep_in_process("schedule", "export", "cron")
    assert result.code == 0, result.err
    lines = [line for line in result.out.splitlines() if line and not line.startswith("#")]
    run = f"'/opt/upkeep 100\\%/bin/upkeep' --config {project.config} run --trigger schedule"
    assert lines == [
        "CRON_TZ=Europe/Berlin",
        f"0 0 * * * {run} nightly",
        f"15 6 * * 1-5 {run} workday",
    ]


def test_a_unit_file_that_is_a_symlink_is_refused_and_nothing_written(tmp_path: Path) -> None:
    # `systemctl link` leaves unit files that are symlinks to a copy kept elsewhere: the
    # export replaced the link with a file of its own, the copy never seeing the change.
    project = project_with(tmp_path, "UTC", {"nightly": "daily", "weekly": "weekly"})
    out, kept = tmp_path / "units", tmp_path / "kept.service"
    out.mkdir()
    kept.write_text("[Unit]\n")
    (out / "upkeep-weekly.service").symlink_to(kept)

    result = project.upkeep_in_process("schedule", "export", "systemd", "--output", str(out))

    assert result.code == 2, result.text
    assert f"--output: {out}/upkeep-weekly.service is a symlink; expected" in result.err
    assert sorted(p.name for p in out.iterdir()) == ["upkeep-weekly.service"]  # nothing else
    assert (out / "upkeep-weekly.service").is_symlink() and kept.read_text() == "[Unit]\n"


def test_systemd_units_verify_and_carry_the_settings(tmp_path: Path) -> None:
    upkeep = Path(shutil.which("upkeep") or Path(sys.executable).parent / "upkeep")
    project = project_with(
        tmp_path,
        "America/New_York",
        {"nightly": "daily", "first-or-sunday": "30 4 1 * 0"},
        extra=f"schedule:\n  command: {upkeep}\n"
        "  systemd:\n    randomized_delay_s: 600\n    user: ops\n",
    )
    out = tmp_path / "units"
    result = project.upkeep_in_process("schedule", "export", "systemd", "--output", str(out))
    assert result.code == 0, result.err
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "upkeep-first-or-sunday.service",
        "upkeep-first-or-sunday.timer",
        "upkeep-nightly.service",
        "upkeep-nightly.timer",
    ]
    assert all(stat.S_IMODE((out / n).stat().st_mode) == 0o644 for n in names)
    timer = (out / "upkeep-first-or-sunday.timer").read_text()
    assert "OnCalendar=*-*-01 04:30:00 America/New_York\n" in timer
    assert "OnCalendar=Sun *-*-* 04:30:00 America/New_York\n" in timer
    assert "Persistent=true\nRandomizedDelaySec=600\n" in timer
    service = (out / "upkeep-nightly.service").read_text()
    assert (
        f"ExecStart={upkeep} --config {project.config} run --trigger schedule nightly\n" in service
    )
    assert "Type=oneshot\nUser=ops\n" in service
    analyze = shutil.which("systemd-analyze")
    if analyze is None and not os.environ.get("CI"):
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    assert analyze is not None
    verified = subprocess.run(
        [analyze, "verify", "--man=no", *(str(out / n) for n in names)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=out,
    )
    assert verified.returncode == 0 and verified.stderr == "", verified.stderr


def test_refusals_are_named_exit_1_and_the_rest_exported(tmp_path: Path) -> None:
    project = project_with(
        tmp_path,
        "Europe/Berlin",
        {"nightly": "daily", "half-past-two": "30 2 * * *", "last-day": "0 1 L * *"},
    )
    out = tmp_path / "cron"
    result = project.upkeep_in_process("schedule", "export", "cron", "-o", str(out))
    assert result.code == 1
    assert re.search(
        r"upkeep: refused: half-past-two: not exported to cron: it fires at \d{4}-\d\d-\d\d "
        r"02:30, a local time Europe/Berlin (skips|has twice)",
        result.err,
    )
    assert (
        "upkeep: refused: last-day: not exported to cron: '0 1 L * *' uses L, W or #" in result.err
    )
    crontab = (out / "upkeep.crontab").read_text()
    assert "run --trigger schedule nightly" in crontab
    assert "# NOT SCHEDULED: half-past-two:" in crontab
    assert "run --trigger schedule half-past-two" not in crontab


def test_an_invalid_runbook_is_refused_by_name(tmp_path: Path) -> None:
    project = project_with(tmp_path, "UTC", {"nightly": "daily"})
    broken = project.root / "runbooks" / "daily" / "broken.ipynb"
    broken.write_text("{not json")
    result = project.upkeep_in_process("schedule", "export", "github-actions")
    assert result.code == 1
    assert "refused: broken: not exported to github-actions: it cannot be loaded" in result.err
    assert '- cron: "0 0 * * *"  # nightly' in result.out


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            "schedule:\n  systemd:\n    randomized_delay_s: -5\n",
            "schedule.systemd.randomized_delay_s: expected an integer from 0 to 86400, got -5",
        ),
        ("schedule:\n  sytemd: {}\n", "schedule.sytemd: unknown key"),
        (
            "schedule:\n  kubernetes:\n    namespace: Ops_Team\n",
            "schedule.kubernetes.namespace: expected a Kubernetes name",
        ),
        (
            'schedule:\n  kubernetes:\n    namespace: "ops\\n"\n',
            "schedule.kubernetes.namespace: expected a Kubernetes name",
        ),
        (
            "schedule:\n  kubernetes:\n    config_path: upkeep.yml\n",
            "schedule.kubernetes.config_path: expected an absolute path",
        ),
        (
            "schedule:\n  kubernetes:\n    starting_deadline_s: 0\n",
            "schedule.kubernetes.starting_deadline_s: expected an integer >= 1",
        ),
        # a line break would add a cron job or a unit directive of its own
        (
            'schedule:\n  command: "/opt/upkeep\\n* * * * * root /bin/echo injected"\n',
            "schedule.command: expected one line of text without control characters",
        ),
        (
            'schedule:\n  systemd: {user: "upkeep\\nExecStartPre=/bin/echo injected"}\n',
            "schedule.systemd.user: expected one line of text without control characters",
        ),
        (
            "schedule:\n  systemd: {randomized_delay_s: 99999999999999}\n",
            "schedule.systemd.randomized_delay_s: expected an integer from 0 to 86400",
        ),
    ],
)
def test_a_bad_schedule_section_is_bad_input(tmp_path: Path, section: str, message: str) -> None:
    project = project_with(tmp_path, "UTC", {"nightly": "daily"}, extra=section)
    out = tmp_path / "out"
    result = project.upkeep_in_process("schedule", "export", "cron", "-o", str(out))
    assert result.code == 2
    assert message in result.err
    assert not out.exists()


def test_an_unknown_target_is_a_usage_error(tmp_path: Path) -> None:
    project = project_with(tmp_path, "UTC", {"nightly": "daily"})
    result = project.upkeep_in_process("schedule", "export", "airflow")
    assert result.code == 2
    assert "'airflow' is not one of 'cron', 'systemd', 'kubernetes', 'github-actions'" in result.err


@pytest.mark.slow  # a real kernel runs the runbook
def test_an_exported_crontab_line_runs_the_runbook_as_a_scheduled_run(tmp_path: Path) -> None:
    """The line is what cron runs (`/bin/sh -c`, with `\\%` read back as `%`): it must run the
    runbook for real and record that a schedule started it."""
    project = project_with(tmp_path, "Europe/Berlin", {"nightly": "daily"})
    result = project.upkeep("schedule", "export", "cron")  # the real command line, as a process
    assert result.code == 0, result.err
    (line,) = [x for x in result.out.splitlines() if x.startswith("0 0 * * * ")]
    command = line.removeprefix("0 0 * * * ").replace("\\%", "%")
    ran = subprocess.run(
        ["/bin/sh", "-c", command],
        capture_output=True,
        text=True,
        timeout=180,
        cwd="/",
        env={"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root")},  # as cron's
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    (record,) = project.records()
    assert record["runbook"]["name"] == "nightly"
    assert record["trigger"] == "schedule"
    assert record["status"] == "ok"


KUBERNETES = """\
schedule:
  kubernetes: {image: "upkeep:1", evidence_claim: upkeep-evidence}
"""


def test_a_step_from_a_start_is_written_as_every_cron_reads_it(tmp_path: Path) -> None:
    # `1/5` (cronsim: 1, 6, 11, ...) made cronie and Debian's cron refuse the whole crontab.
    project = project_with(
        tmp_path,
        "UTC",
        {"fifths": "0 4 1/5 * *", "odd": "*/15 2/3 * * *", "named": "0 4 * * MON/2"},
    )
    result = project.upkeep_in_process("schedule", "export", "cron")
    assert result.code == 0, result.text
    assert re.search(r"^0 4 1-31/5 \* \* .*fifths", result.out, re.M)
    assert re.search(r"^\*/15 2-23/3 \* \* \* .*odd", result.out, re.M)
    assert re.search(r"^0 4 \* \* 1,3,5,7 .*named", result.out, re.M)  # no step after a name


def test_kubernetes_refuses_a_stepped_day_field_it_reads_otherwise(tmp_path: Path) -> None:
    # robfig's cron reads `*/2` beside a weekday as either day matching; upkeep, both.
    project = project_with(
        tmp_path,
        "UTC",
        {"even-mondays": "0 4 */2 * 1", "sundays": "0 4 * * 7"},
        extra=KUBERNETES,
    )
    out = tmp_path / "out"
    result = project.upkeep_in_process("schedule", "export", "kubernetes", "-o", str(out))
    assert result.code == 1, result.text
    assert "even-mondays" in result.err and "reads as either day matching" in result.err
    assert "schedule: 0 4 * * 0\n" in (out / "upkeep-sundays.yaml").read_text()
    assert not (out / "upkeep-even-mondays.yaml").exists()


def test_github_export_of_a_cadence_rarer_than_its_comparison_window(tmp_path: Path) -> None:
    # Feb 29 on a Sunday: a thousand fire times run past the year 9999 (OverflowError, exit 3).
    project = project_with(tmp_path, "UTC", {"leap-sunday": "0 0 29 2 */7"})
    result = project.upkeep_in_process("schedule", "export", "github-actions")
    assert result.code == 0, result.text
    assert 'cron: "0 0 29 2 */7"' in result.out


def test_units_an_earlier_export_wrote_for_a_runbook_now_gone_are_named(tmp_path: Path) -> None:
    # They stayed in the folder (in /etc/systemd/system they keep firing) unmentioned.
    project = project_with(tmp_path, "UTC", {"kept": "daily", "gone": "weekly"})
    out = tmp_path / "units"
    assert project.upkeep_in_process("schedule", "export", "systemd", "-o", str(out)).code == 0
    (project.root / "runbooks" / "weekly" / "gone.ipynb").unlink()
    again = project.upkeep_in_process("schedule", "export", "systemd", "-o", str(out))
    assert again.code == 0, again.text
    for name in ("upkeep-gone.service", "upkeep-gone.timer"):
        assert f"upkeep: note: {out / name} was written by an earlier export" in again.err
    assert "upkeep-kept" not in again.err
    assert (out / "upkeep-gone.timer").exists()  # named, not removed
    # A unit of the same kind that no export wrote (the watch timer of the docs) is not named.
    (out / "upkeep-watch.timer").write_text("[Timer]\nOnCalendar=hourly\n")
    third = project.upkeep_in_process("schedule", "export", "systemd", "-o", str(out))
    assert "upkeep-watch" not in third.err
