"""Proof that the exported schedules agree with upkeep's own: for every runbook, the next 1,000
fire times from upkeep's schedule (cronsim, in the config's zone) and from each export — the
systemd timer by `systemd-analyze calendar`, the crontab line and the CronJob by croniter (a
second cron implementation), the GitHub Actions crons by croniter in UTC — are identical, across
the daylight-saving changes of Europe/Berlin and America/New_York; and what cannot agree is
refused rather than exported."""

from __future__ import annotations

import os
import textwrap
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from helpers.project import CHECK_OK, Project
from helpers.schedules import (
    SYSTEMD_ANALYZE,
    croniter_fires,
    cronjobs,
    crontab_jobs,
    github_crons,
    systemd_fires,
    timer_specs,
    upkeep_fires,
)

from upkeep.schedule_export.calendar import on_calendar
from upkeep.schedule_export.fields import parse_fields

FIRES = 1000
DST_ZONES = ("Europe/Berlin", "America/New_York")
# Cadences that never fire in an hour the clocks skip or repeat in either zone: exported.
EXPORTABLE = {
    "nightly": "daily",
    "weekly-review": "weekly",
    "monthly-review": "monthly",
    "yearly-drill": "yearly",
    "weekday-morning": "15 3 * * 1-5",
    "office-hours": "*/20 9-17 * * *",
    "twice-monthly": "0 6 1,15 * *",
    "first-or-sunday": "30 4 1 * 0",  # cron's OR of the day fields: two OnCalendar= lines
    "weekend-evening": "45 23 * * 6,7",
    "quarterly": "0 5 1 1,4,7,10 *",
}
# Cadences that fire in such an hour (02:00-03:00 on the change's day): refused.
AMBIGUOUS = {
    "half-past-two": "30 2 * * *",
    "hourly": "0 * * * *",
    "sunday-two": "0 2 * * 0",
}
# Before the spring change of 2027 in both zones, so the 1,000 fires cross several changes
# (office-hours, firing 27 times a day, crosses March's).
START = datetime(2027, 3, 1)
SYSTEMD_LAST = datetime(2199, 12, 31, 0, 0, tzinfo=ZoneInfo("UTC"))

# Under CI a missing systemd-analyze fails these tests (never skips them).
pytestmark = pytest.mark.skipif(
    SYSTEMD_ANALYZE is None and not os.environ.get("CI"),
    reason="systemd-analyze is not installed (Debian package systemd)",
)


def make(root: Path, zone: str, cadences: dict[str, str]) -> Project:
    root.mkdir()
    (root / "upkeep.yml").write_text(
        textwrap.dedent(f"""\
        version: 1
        timezone: {zone}
        evidence_dir: evidence
        state_dir: state
        runbooks_dir: runbooks
        schedule:
          kubernetes:
            image: registry.example.org/upkeep:1
            evidence_claim: upkeep-evidence
        """)
    )
    project = Project(root)
    for name, cadence in cadences.items():
        project.add_runbook(name, [CHECK_OK], cadence=cadence)
    return project


def exported(project: Project, target: str, out: Path) -> tuple[int, str]:
    result = project.upkeep_in_process("schedule", "export", target, "--output", str(out))
    return result.code, result.err


@pytest.mark.slow  # some 300 runs of systemd-analyze
@pytest.mark.parametrize("zone_name", DST_ZONES)
def test_every_export_fires_when_upkeep_does_across_dst(tmp_path: Path, zone_name: str) -> None:
    zone = ZoneInfo(zone_name)
    start = START.replace(tzinfo=zone)
    project = make(tmp_path / "p", zone_name, {**EXPORTABLE, **AMBIGUOUS})
    expected = {name: upkeep_fires(c, zone, start, FIRES) for name, c in EXPORTABLE.items()}
    # The horizon crosses daylight-saving changes for every cadence that fires daily or more.
    assert any(
        f.astimezone(zone).utcoffset() != expected["nightly"][0].astimezone(zone).utcoffset()
        for f in expected["nightly"]
    )

    code, err = exported(project, "systemd", tmp_path / "systemd")
    assert code == 1
    specs = timer_specs(tmp_path / "systemd")
    assert set(specs) == set(EXPORTABLE)
    assert len(specs["first-or-sunday"]) == 2
    for name, fires in expected.items():
        # systemd's calendar ends with the year 2199: the yearly and quarterly cadences are
        # compared up to there (172 and 691 fires), every other one 1,000 times.
        within = [f for f in fires if f < SYSTEMD_LAST]
        assert len(within) >= 170
        assert systemd_fires(specs[name], start, FIRES) == within, name

    code, err = exported(project, "cron", tmp_path / "cron")
    assert code == 1
    cron_zone, lines = crontab_jobs((tmp_path / "cron" / "upkeep.crontab").read_text())
    assert cron_zone == zone_name and set(lines) == set(EXPORTABLE)
    for name, fires in expected.items():
        assert croniter_fires(lines[name], ZoneInfo(cron_zone), start, FIRES) == fires, name

    code, err = exported(project, "kubernetes", tmp_path / "k8s")
    assert code == 1
    manifests = cronjobs(tmp_path / "k8s")
    assert set(manifests) == set(EXPORTABLE)
    for name, fires in expected.items():
        spec = manifests[name]["spec"]
        assert spec["timeZone"] == zone_name
        assert croniter_fires(spec["schedule"], ZoneInfo(spec["timeZone"]), start, FIRES) == fires

    for target in ("systemd", "cron", "kubernetes"):
        code, err = exported(project, target, tmp_path / f"again-{target}")
        for name in AMBIGUOUS:
            assert f"refused: {name}: not exported to {target}: it fires at " in err
        assert zone_name in err and ("skips" in err or "twice" in err)


@pytest.mark.parametrize("zone_name", DST_ZONES)
def test_a_refused_schedule_really_disagrees(zone_name: str) -> None:
    """Why refusing is right: at 02:30 on the spring change, upkeep's schedule (cronsim, as
    Debian's cron) runs the job at 03:00 while systemd skips the day."""
    zone = ZoneInfo(zone_name)
    start = START.replace(tzinfo=zone)
    ours = upkeep_fires(AMBIGUOUS["half-past-two"], zone, start, 60)
    theirs = systemd_fires(on_calendar(parse_fields("30 2 * * *"), zone_name), start, 60)
    assert ours != theirs
    missing = sorted(set(ours) - set(theirs))
    assert [m.astimezone(zone).strftime("%H:%M") for m in missing] == ["03:00"]


@pytest.mark.parametrize("zone_name", ("UTC", "Asia/Tokyo"))
def test_github_actions_crons_fire_when_upkeep_does(tmp_path: Path, zone_name: str) -> None:
    zone = ZoneInfo(zone_name)
    start = START.replace(tzinfo=zone)
    project = make(tmp_path / "p", zone_name, EXPORTABLE)
    code, err = exported(project, "github-actions", tmp_path / "gh")
    crons = github_crons((tmp_path / "gh" / "github-actions-schedule.yml").read_text())
    utc = ZoneInfo("UTC")
    for name, cadence in EXPORTABLE.items():
        if name not in crons:
            continue
        fires = sorted({f for c in crons[name] for f in croniter_fires(c, utc, start, FIRES)})
        assert fires[:FIRES] == upkeep_fires(cadence, zone, start, FIRES), name
    if zone_name == "UTC":
        assert code == 0 and set(crons) == set(EXPORTABLE)
    else:
        # 00:00 in Tokyo on the 1st is 15:00 UTC on the last day of the month before: no cron
        # can say that, so the monthly, yearly and dated ones are refused; the rest move a day.
        assert code == 1
        assert {"nightly", "weekly-review", "weekday-morning", "office-hours"} <= set(crons)
        assert crons["weekly-review"] == ["0 15 * * 0"]
        assert "refused: monthly-review: not exported to github-actions" in err


@pytest.mark.parametrize("zone_name", DST_ZONES)
def test_github_actions_refuses_a_zone_with_daylight_saving(tmp_path: Path, zone_name: str) -> None:
    project = make(tmp_path / "p", zone_name, {"nightly": "daily"})
    code, err = exported(project, "github-actions", tmp_path / "gh")
    assert code == 1
    assert not (tmp_path / "gh" / "github-actions-schedule.yml").exists()
    assert (
        f"refused: nightly: not exported to github-actions: {zone_name} changes its UTC offset"
        in err
    )
