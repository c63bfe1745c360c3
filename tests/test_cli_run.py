"""`upkeep run` as a command: bad input refused before anything runs, nothing due, the JSON
outcomes and the trigger recorded. What a run does is tested in test_run_workflow.py and
test_run_runner.py."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from helpers.project import CHECK_OK, Project

FAILING_CHECK = "from upkeep import report\nreport.check('disk', 'fail', message='full')"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run", "typed", "-p", "nope=1"], "unknown parameter 'nope'"),
        (["run", "typed", "-p", "count=abc"], "parameter count: expected an integer, got 'abc'"),
        (["run", "typed", "-p", "count=99"], "parameter count: expected a value <= 10"),
        (["run", "typed", "-p", "mode=loud"], "parameter mode: expected one of quiet, verbose"),
        (["run", "typed", "-p", "token=hunter2"], "parameter token: is secret"),
        (["run", "missing-one"], "no runbook named 'missing-one'"),
        (["run", "typed", "-p", "count"], "expected KEY=VALUE"),
        (["run", "typed", "-p", "count=1", "-p", "count=2"], "'count' is given twice"),
        (["run", "typed", "-p", "token:hunter2"], "expected KEY=VALUE"),
        (["run", "typed", "-p", "token=env:UNSET_IN_THIS_TEST"], "environment variable is not set"),
        (["run", "typed", "-p", "count=1", "--jobs", "0"], "Invalid value for '--jobs'"),
        (["run", "--due", "--at", "yesterday"], "expected an ISO time"),
        (["run", "typed", "--due"], "give runbook names or --due, not both"),
        (["run", "typed", "--at", "2026-12-01T03:00"], "--at only applies with --due"),
        (["run", "--due", "-p", "nope=1"], "-p nope: no runbook declares a parameter 'nope'"),
        (["run", "--due", "-p", "count=99"], "parameter count: expected a value <= 10"),
        (
            ["run", "typed", "-p", "databases=nope"],
            "parameter databases: upkeep.yml has no databases: entries, so there is no 'nope'",
        ),
        (
            ["run", "typed", "-p", "folder=not-here"],
            "parameter folder: {root}/not-here is not a folder; expected an existing folder",
        ),
        (
            ["run", "--due", "-p", "databases=app"],
            "parameter databases: upkeep.yml has no databases: entries, so there is no 'app'",
        ),
        (
            ["run", "typed", "--trigger", "cron"],
            "'cron' is not one of 'manual', 'schedule', 'ci'",
        ),
    ],
)
def test_bad_input_exits_2_and_runs_nothing(
    project: Project, args: list[str], expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.add_runbook(
        "typed",
        [CHECK_OK],
        params="""
        count: int = 3  # how many
        mode: str = "quiet"  # output mode
        token: str = "env:TOKEN"  # API token
        databases: str = ""  # comma-separated
        folder: str = ""  # a folder
    """,
        meta={
            "parameters": {
                "count": {"min": 1, "max": 10},
                "mode": {"choices": ["quiet", "verbose"]},
                "token": {"secret": True},
                "databases": {"names": "databases"},
                "folder": {"folder": True},
            }
        },
    )
    monkeypatch.chdir(project.root)
    result = project.upkeep_in_process(*args, env={"TOKEN": "a-token-that-resolves"})
    assert result.code == 2, result.text
    assert expected.format(root=project.root) in result.err
    assert "Traceback" not in result.text
    assert "hunter2" not in result.text  # a mistyped secret is not echoed
    assert not project.evidence.exists()


def test_nothing_due_is_said_on_stderr_and_is_an_empty_list_in_json(project: Project) -> None:
    result = project.upkeep("run", "--due", "--json")
    assert result.code == 0, result.text
    assert json.loads(result.out) == []
    assert "nothing is due" in result.err
    assert not project.evidence.exists()


def test_due_at_a_time_only_plans_it_runs_nothing(project: Project) -> None:
    """A run's time is when it ran: `--due --at` in the future (or the past) lists what would be
    due then, as `list` shows it, and records nothing that would hide tomorrow's real run."""
    project.add_runbook("every-day", [CHECK_OK])
    project.add_runbook("every-year", [CHECK_OK], cadence="yearly")
    later = (datetime.now(UTC) + timedelta(days=400)).isoformat()
    result = project.upkeep_in_process("run", "--due", "--at", later)
    assert result.code == 0, result.text
    header, *rows = result.out.splitlines()
    assert header.split() == ["NAME", "CADENCE", "LAST", "LAST", "RUN", "NEXT", "DUE"]
    assert [row.split()[:3] for row in rows] == [
        ["every-day", "daily", "never"],
        ["every-year", "yearly", "never"],
    ]
    assert "2 would be due, nothing was run" in result.err
    planned = project.upkeep_in_process("run", "--due", "--at", later, "--json")
    assert [(state["name"], state["due"]) for state in json.loads(planned.out)] == [
        ("every-day", True),
        ("every-year", True),
    ]
    assert not project.evidence.exists()


@pytest.mark.slow
def test_the_trigger_recorded_is_the_one_given_else_ci_else_schedule_or_manual(
    project: Project,
) -> None:
    project.add_runbook("probe", [CHECK_OK], cadence="yearly")
    runs = [
        (["run", "--due"], "", "probe"),
        (["run", "probe"], "", "probe"),
        (["run", "probe", "--trigger", "schedule"], "true", "probe"),
        (["run", "--due"], "true", "later"),  # probe ran this year: only `later` is due
    ]
    for args, ci, ran in runs:
        if ran == "later":
            project.add_runbook("later", [CHECK_OK], cadence="yearly")
        result = project.upkeep(*args, "--json", env={"CI": ci})
        assert result.code == 0, result.text
        assert [o["runbook"] for o in json.loads(result.out)] == [ran]
    triggers = [record["trigger"] for record in project.records()]
    assert triggers == ["schedule", "manual", "schedule", "ci"]


def test_an_invalid_runbook_named_stops_the_run_before_anything_runs(project: Project) -> None:
    project.add_runbook("fine", [CHECK_OK])
    project.add_runbook("broken", [CHECK_OK], meta={"cadence": "fortnightly"})
    result = project.upkeep_in_process("run", "fine", "broken")
    assert result.code == 2, result.text
    assert result.err.startswith("upkeep: error: runbook broken (runbooks/daily/broken.ipynb): ")
    assert not project.evidence.exists()


@pytest.mark.slow
def test_an_invalid_runbook_does_not_stop_the_others(project: Project) -> None:
    """`run NAME` runs a valid runbook whatever the others are; `run --due` runs every valid
    runbook that is due, names each invalid one last, and exits 2."""
    project.add_runbook("counted", [CHECK_OK], params="n: int = None  # how many")
    project.add_runbook("papermill-style", [CHECK_OK], params="msg = None\npair = (1, 2)")
    project.add_runbook("broken", [CHECK_OK], meta={"cadence": "fortnightly"})
    due = project.upkeep("run", "--due", "--json")
    assert due.code == 2, due.text
    assert sorted(o["runbook"] for o in json.loads(due.out)) == ["counted", "papermill-style"]
    assert all(o["status"] == "ok" for o in json.loads(due.out))
    last_line = due.err.strip().splitlines()[-1]
    assert last_line.startswith("upkeep: error: runbook broken (runbooks/daily/broken.ipynb): ")
    assert last_line.endswith("(not run)")
    named = project.upkeep("run", "counted", "--json")
    assert named.code == 0, named.text
    parameters = {r["runbook"]["name"]: r["parameters"] for r in project.records()}
    assert parameters["papermill-style"] == {"msg": None}  # the tuple stays the runbook's own


@pytest.mark.slow
def test_each_run_says_when_it_starts_and_in_one_line_what_it_did(project: Project) -> None:
    """Without a terminal (cron, CI): a line when each run starts; when it ends, the summary its
    runbook recorded (else its checks counted), then where its evidence is. `-p` with `--due`
    goes to the due runbooks that declare it. A kernel that dies is the run's error, not
    nbclient's log line."""
    project.add_runbook(
        "summarised",
        [
            (
                "code",
                "from upkeep import report\n"
                "report.check('total', 'ok', value=1_440_000, unit='B')\n"
                "report.summary(f'removed 3 entries, freeing 1.4 MiB (dry run: {dry_run})')",
            )
        ],
        params="dry_run: bool = None  # only report",
    )
    project.add_runbook("plain", [CHECK_OK])
    project.add_runbook(
        "crash", [CHECK_OK, ("code", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")]
    )
    result = project.upkeep("run", "--due", "--jobs", "1", "-p", "dry_run=true", "--json")
    assert result.code == 3, result.text
    lines = result.err.splitlines()
    for name in ("summarised", "plain", "crash"):
        assert any(re.fullmatch(rf"started {name} \(run \d of 3\)", line) for line in lines)
    [done] = [line for line in lines if line.startswith("[") and " summarised (" in line]
    assert re.fullmatch(
        r"\[\d/3\] OK      summarised \(\d+\.\d s\): "
        r"removed 3 entries, freeing 1\.4 MiB \(dry run: True\)",
        done,
    )
    assert lines[lines.index(done) + 1].startswith("      evidence: ")
    assert any(
        re.fullmatch(r"\[\d/3\] OK      plain \(\d+\.\d s\): 1 check: 1 ok", x) for x in lines
    )
    assert "DeadKernelError: Kernel died" in result.err  # the run's error, said once
    assert "while waiting for execute reply" not in result.err  # nbclient's stray log line
    outcomes = {o["runbook"]: o for o in json.loads(result.out)}
    assert outcomes["summarised"]["summary"].startswith("removed 3 entries")
    records = {r["runbook"]["name"]: r for r in project.records()}
    assert records["summarised"]["summary"] == "removed 3 entries, freeing 1.4 MiB (dry run: True)"
    assert records["summarised"]["parameters"] == {"dry_run": True}
    assert records["plain"]["parameters"] == {} and records["plain"]["summary"] == ""


@pytest.mark.slow
def test_a_closed_stderr_ends_the_messages_not_the_run(make_project: Any) -> None:
    # `upkeep run ... 2>&1 | head -2`: the progress line after the reader left raised a broken
    # pipe that ended upkeep before the metrics and alerts, with exit code 141 for a failed run.
    project = make_project("""\
        version: 1
        evidence_dir: evidence
        state_dir: state
        metrics: {textfile: metrics/upkeep.prom}
    """)
    project.add_runbook("failing", [("code", FAILING_CHECK)])
    reader, writer = os.pipe()
    os.close(reader)  # the reader has gone before the first line
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "upkeep.cli", "--config", str(project.config), "run", "failing"],
            cwd=project.root, stdout=subprocess.PIPE, stderr=writer, timeout=180,
        )  # fmt: skip
    finally:
        os.close(writer)
    assert proc.returncode == 1  # the run's own: a check failed
    [record] = project.records()
    assert record["status"] == "fail"
    metrics = (project.root / "metrics" / "upkeep.prom").read_text()  # written after the run
    assert 'upkeep_runbook_last_run_timestamp_seconds{runbook="failing"}' in metrics
