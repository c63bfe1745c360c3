"""upkeep.metrics.rules and `upkeep export prometheus-rules`: alerting rules derived from the
plan, checked with Prometheus' own `promtool` (`check rules`, and `test rules` on series that
should and should not fire). Under CI=true promtool must be there: .ci/run installs it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
import zoneinfo
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers.project import CHECK_OK, Project

from upkeep.metrics.rules import longest_gap

# tiny: daily in Europe/Berlin (25 hours the night the clocks go back) + its start grace (1h,
# status:) + its time limit (60 s, the test runbooks' own) + its run grace (5 min).
TINY_LIMIT_S = 25 * 3600 + 3600 + 60 + 300


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing under CI=true: .ci/run installs Debian's prometheus")
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    return path


@pytest.fixture
def planned(make_project: Callable[[str], Project]) -> Project:
    project = make_project("""\
        version: 1
        timezone: Europe/Berlin
        state_dir: state
        defaults: {timeout_s: 120}
        databases: [{name: app, engine: sqlite, path: app.db}]
        backup: {dir: backups, max_full_age_days: 2}
        backup_verification: {max_verified_age_days: 3}
        metrics: {textfile: metrics/upkeep.prom}
        status:
          start_grace_minutes: 60
          run_grace_minutes: 5
          runbooks: {weekdays: {start_grace_minutes: 120, run_grace_minutes: 0}}
    """)
    project.add_runbook("tiny", [CHECK_OK])
    project.add_runbook("weekdays", [CHECK_OK], cadence="0 3 * * 1-5", meta={"timeout_s": 600})
    return project


@pytest.mark.parametrize(
    ("cadence", "gap"),
    [
        ("daily", timedelta(days=1, hours=1)),  # the night the clocks go back is 25 hours
        ("weekly", timedelta(days=7, hours=1)),
        ("monthly", timedelta(days=31, hours=1)),
        ("0 3 * * 1-5", timedelta(days=3, hours=1)),  # Friday to Monday
        ("*/15 * * * *", timedelta(minutes=15)),
    ],
)
def test_the_longest_gap_of_a_cadence_covers_its_quietest_stretch(
    cadence: str, gap: timedelta
) -> None:
    assert longest_gap(cadence, zoneinfo.ZoneInfo("Europe/Berlin")) == gap


def test_each_runbook_gets_a_rule_with_its_cadence_time_limit_and_grace(planned: Project) -> None:
    result = planned.upkeep_in_process("export", "prometheus-rules")
    assert result.code == 0, result.err
    rules = yaml.safe_load(result.out)["groups"][0]["rules"]
    stale = {r["labels"]["runbook"]: r for r in rules if r["alert"] == "UpkeepRunbookNotSucceeded"}
    assert set(stale) == {"tiny", "weekdays"}
    tiny = TINY_LIMIT_S
    weekdays = (3 * 86400 + 3600) + 7200 + 600  # its own grace: 2 h to start, none to run
    assert stale["tiny"]["expr"].endswith(f'{{runbook="tiny"}} > {tiny}')
    assert stale["weekdays"]["expr"].endswith(f'{{runbook="weekdays"}} > {weekdays}')
    alerts = {r["alert"] for r in rules}
    assert {
        "UpkeepRunbookNeverSucceeded",
        "UpkeepCheckFailing",
        "UpkeepRunErrored",
        "UpkeepBackupTooOld",
        "UpkeepVerifiedBackupTooOld",
        "UpkeepBackupMissing",
        "UpkeepTextfileStale",
    } <= alerts
    too_old = next(r for r in rules if r["alert"] == "UpkeepBackupTooOld")
    assert too_old["expr"].endswith(f"> {2 * 86400}")


def test_rules_written_to_a_file_pass_promtool(planned: Project) -> None:
    output = planned.root / "rules/upkeep.rules.yml"
    output.parent.mkdir()
    result = planned.upkeep_in_process("export", "prometheus-rules", "--output", str(output))
    assert result.code == 0, result.err
    assert "alerting rules for 2 runbooks" in result.err
    checked = subprocess.run(
        [promtool(), "check", "rules", str(output)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: " in checked.stdout


def test_the_rules_fire_on_stale_and_failing_series_and_not_on_fresh_ones(planned: Project) -> None:
    rules = planned.root / "upkeep.rules.yml"
    assert planned.upkeep_in_process("export", "prometheus-rules", "-o", str(rules)).code == 0
    limit_minutes = TINY_LIMIT_S // 60
    stale = "UpkeepRunbookNotSucceeded"
    # promtool's clock starts at 0: a success at t=0 is as old as the evaluation time.
    tests = {
        "rule_files": [rules.name],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {
                        "series": 'upkeep_runbook_last_success_timestamp_seconds{runbook="tiny"}',
                        "values": f"0x{limit_minutes + 30}",
                    },
                    {
                        "series": 'upkeep_runbook_checks{runbook="tiny",status="fail"}',
                        "values": "0x10 2x10",
                    },
                ],
                "alert_rule_test": [
                    {"eval_time": f"{limit_minutes - 5}m", "alertname": stale},
                    {
                        "eval_time": f"{limit_minutes + 5}m",
                        "alertname": stale,
                        "exp_alerts": [
                            {
                                "exp_labels": {"severity": "warning", "runbook": "tiny"},
                                "exp_annotations": _annotations(rules, "tiny", stale),
                            }
                        ],
                    },
                    {"eval_time": "5m", "alertname": "UpkeepCheckFailing"},
                    {
                        "eval_time": "15m",
                        "alertname": "UpkeepCheckFailing",
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    "severity": "critical",
                                    "runbook": "tiny",
                                    "status": "fail",
                                },
                                "exp_annotations": {
                                    "summary": "tiny: 2 check(s) failing",
                                    "description": _annotations(rules, None, "UpkeepCheckFailing")[
                                        "description"
                                    ].replace("{{ $labels.runbook }}", "tiny"),
                                },
                            }
                        ],
                    },
                ],
            }
        ],
    }
    _promtool_test(planned.root, tests)


def _annotations(rules: Path, runbook: str | None, alert: str) -> dict[str, str]:
    """The annotations of the rule as exported, with its templates filled in as Prometheus
    fills them for the test's series."""
    for rule in yaml.safe_load(rules.read_text())["groups"][0]["rules"]:
        if rule["alert"] == alert and rule["labels"].get("runbook") == runbook:
            found = dict(rule["annotations"])
            if "humanizeDuration" in found["description"]:
                seconds = TINY_LIMIT_S + 5 * 60
                hours, minutes = divmod(seconds // 60, 60)
                found["description"] = found["description"].replace(
                    "{{ $value | humanizeDuration }}", f"1d {hours - 24}h {minutes}m 0s"
                )
            return found
    raise AssertionError(f"no rule {alert} for {runbook}")


def test_an_invalid_runbook_stops_the_export_with_exit_2(planned: Project) -> None:
    broken = planned.root / "runbooks/daily/broken.ipynb"
    broken.write_text("{ not a notebook")
    output = planned.root / "rules.yml"
    result = planned.upkeep_in_process("export", "prometheus-rules", "-o", str(output))
    assert result.code == 2
    assert "broken" in result.err and "its alerting rules would be missing" in result.err
    assert not output.exists()


def test_export_textfile_needs_a_path(project: Project) -> None:
    result = project.upkeep_in_process("export", "textfile")
    assert result.code == 2
    assert "metrics.textfile: not set" in result.err
    written = project.root / "out/upkeep.prom"
    result = project.upkeep_in_process("export", "textfile", "--output", str(written))
    assert result.code == 0, result.err
    assert written.read_text() != ""  # the families are declared even with no evidence yet


def test_the_rules_say_nothing_of_backups_when_none_are_taken(project: Project) -> None:
    project.add_runbook("tiny", [CHECK_OK])
    result = project.upkeep_in_process("export", "prometheus-rules")
    alerts = {r["alert"] for r in yaml.safe_load(result.out)["groups"][0]["rules"]}
    assert alerts == {
        "UpkeepRunbookNotSucceeded",
        "UpkeepRunbookNeverSucceeded",
        "UpkeepCheckFailing",
        "UpkeepRunErrored",
    }
    assert textwrap.dedent(result.out).startswith("# Alerting rules for upkeep")


@pytest.mark.parametrize("name", ["up+k(1).prom", 'a"b [x].prom'])
def test_the_textfile_rule_matches_a_file_name_with_regex_characters(
    make_project: Callable[[str], Project], name: str
) -> None:
    # The name went into the regex as it was: `+` and `(` made it never match (the staleness
    # alert could never fire) and a `"` made a rules file promtool refused.
    project = make_project(
        f"version: 1\nstate_dir: state\nmetrics: {{textfile: {json.dumps('metrics/' + name)}}}\n"
    )
    project.add_runbook("tiny", [CHECK_OK])
    rules = project.root / "upkeep.rules.yml"
    assert project.upkeep_in_process("export", "prometheus-rules", "-o", str(rules)).code == 0
    [stale] = [
        rule
        for rule in yaml.safe_load(rules.read_text())["groups"][0]["rules"]
        if rule["alert"] == "UpkeepTextfileStale"
    ]
    limit_minutes = int(stale["expr"].rsplit(">", 1)[1]) // 60
    quoted = json.dumps(f"/var/lib/node/{name}")
    series = f"node_textfile_mtime_seconds{{file={quoted}}}"
    tests = {
        "rule_files": [rules.name],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": series, "values": f"0x{limit_minutes + 10}"}],
                "alert_rule_test": [
                    {"eval_time": f"{limit_minutes - 5}m", "alertname": "UpkeepTextfileStale"},
                    {
                        "eval_time": f"{limit_minutes + 5}m",
                        "alertname": "UpkeepTextfileStale",
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    "severity": "warning",
                                    "file": f"/var/lib/node/{name}",
                                },
                                "exp_annotations": stale["annotations"],
                            }
                        ],
                    },
                ],
            }
        ],
    }
    _promtool_test(project.root, tests)


def _promtool_test(root: Path, tests: dict[str, Any]) -> None:
    """`promtool test rules` on `tests` (its rule files relative to `root`): they must pass."""
    test_file = root / "rules.test.yml"
    test_file.write_text(yaml.safe_dump(tests, sort_keys=False))
    tested = subprocess.run(
        [promtool(), "test", "rules", test_file.name], capture_output=True, text=True, cwd=root
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
