"""The DAG file of `upkeep export airflow` run by a real Apache Airflow (`airflow dags test`,
SQLite, AIRFLOW_HOME in tmp) for two simulated hosts on this machine, each with its own config
and evidence folder: each task runs `upkeep run` on its host, a failing runbook fails its task,
a run that could not start (its lock held) is Airflow's skipped, and each host's evidence
verifies and names the host. Needs `nox -s airflow` ($UPKEEP_AIRFLOW: its `airflow`)."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import filelock
import pytest
from helpers.fleet import SimulatedHost, make_fleet
from helpers.project import Project

pytestmark = [pytest.mark.airflow, pytest.mark.slow]
LOGICAL_DATE = "2026-12-01T00:00:00+00:00"


class Airflow:
    """The `airflow` command of the Airflow virtualenv, with its home and SQLite in tmp."""

    def __init__(self, home: Path, dags: Path) -> None:
        self.executable = os.environ["UPKEEP_AIRFLOW"]
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("UPKEEP_", "AIRFLOW"))},
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        }

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.executable, *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=600,
            check=False,
        )

    def json(self, *args: str) -> Any:
        done = self(*args, "-o", "json")
        assert done.returncode == 0, done.stdout + done.stderr
        return json.loads(next(line for line in done.stdout.splitlines() if line[:1] in "[{"))

    def task_states(self, dag_id: str) -> dict[str, str]:
        rows = self.json("tasks", "states-for-dag-run", dag_id, LOGICAL_DATE)
        return {row["task_id"]: row["state"] for row in rows}


def _runs(root: Path, host: str) -> dict[str, dict[str, Any]]:
    return {record["runbook"]["name"]: record for record in Project(root / host).records()}


def test_airflow_runs_the_fleet_dag_and_each_host_keeps_its_own_evidence(tmp_path: Path) -> None:
    fleet = make_fleet(
        tmp_path,
        [
            SimulatedHost(
                "db-1",
                {"probe": ("daily", "ok"), "disk": ("weekly", "ok")},
                fleet_entry="queue: default\n",
                timezone="Europe/Paris",
            ),
            SimulatedHost(
                "web-2",
                {"probe": ("daily", "ok"), "disk": ("weekly", "fail")},
                timezone="Europe/Paris",
            ),
        ],
    )
    dags = tmp_path / "dags"
    exported = Project(tmp_path / "db-1").upkeep(
        "export", "airflow", "--fleet", str(fleet), "-o", str(dags / "upkeep_fleet.py")
    )
    assert exported.code == 0, exported.err
    airflow = Airflow(tmp_path / "airflow-home", dags)
    migrated = airflow("db", "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert airflow.json("dags", "list-import-errors") == []
    assert {dag["dag_id"] for dag in airflow.json("dags", "list")} == {
        "upkeep_daily",
        "upkeep_weekly",
    }

    # db-1's probe cannot start (a run of it "still going" holds its lock): skipped, not failed.
    lock = filelock.FileLock(tmp_path / "db-1" / "state" / "locks" / "probe.lock")
    (tmp_path / "db-1" / "state" / "locks").mkdir(parents=True)
    with lock:
        daily = airflow("dags", "test", "upkeep_daily", LOGICAL_DATE)
    assert daily.returncode == 0, daily.stdout[-3000:] + daily.stderr[-3000:]
    assert airflow.task_states("upkeep_daily") == {
        "db-1--probe": "skipped",
        "web-2--probe": "success",
    }

    weekly = airflow("dags", "test", "upkeep_weekly", LOGICAL_DATE)
    assert weekly.returncode != 0  # web-2's disk check fails: so do its task and the DAG run
    assert airflow.task_states("upkeep_weekly") == {
        "db-1--disk": "success",
        "web-2--disk": "failed",
    }

    expected = {
        "db-1": {"probe": "skipped", "disk": "ok"},
        "web-2": {"probe": "ok", "disk": "fail"},
    }
    for host, statuses in expected.items():
        runs = _runs(tmp_path, host)
        assert {name: run["status"] for name, run in runs.items()} == statuses
        assert {run["host"]["id"] for run in runs.values()} == {host}
        assert {run["trigger"] for run in runs.values()} == {"schedule"}
        verified = Project(tmp_path / host).upkeep("verify")
        assert verified.code == 0, verified.text
        assert "2 runs verified" in verified.out


def test_airflow_loads_a_dag_whose_host_runs_over_ssh(tmp_path: Path) -> None:
    """No SSH server here to run it: Airflow builds the SSHOperator (its arguments accepted)
    and lists its task beside a queued one; the DAG's next run is the latest midnight in the
    hosts' zone."""
    fleet = make_fleet(
        tmp_path,
        [
            SimulatedHost(
                "db-1", {"probe": ("daily", "ok")}, "queue: db\n", timezone="Europe/Paris"
            ),
            SimulatedHost(
                "web-2", {"probe": ("daily", "ok")}, "ssh_conn_id: ssh\n", timezone="Europe/Paris"
            ),
        ],
    )
    dags = tmp_path / "dags"
    exported = Project(tmp_path / "db-1").upkeep(
        "export", "airflow", "--fleet", str(fleet), "-o", str(dags / "upkeep_fleet.py")
    )
    assert exported.code == 0, exported.err
    airflow = Airflow(tmp_path / "airflow-home", dags)
    assert airflow("db", "migrate").returncode == 0
    assert airflow.json("dags", "list-import-errors") == []
    listed = airflow("tasks", "list", "upkeep_daily")
    assert listed.returncode == 0, listed.stderr
    assert {"db-1--probe", "web-2--probe"} <= set(listed.stdout.split())
    assert airflow("dags", "reserialize").returncode == 0  # as the scheduler stores them
    details = airflow.json("dags", "details", "upkeep_daily")
    (detail,) = details if isinstance(details, list) else [details]
    assert str(detail["max_active_runs"]) == "1", detail  # the CLI prints values as text
    # Midnight in Paris, and the latest period rather than the start date's (catchup=False).
    next_run = datetime.fromisoformat(detail["next_dagrun"]).astimezone(ZoneInfo("Europe/Paris"))
    assert (next_run.hour, next_run.minute) == (0, 0), detail
    assert datetime.now(UTC) - next_run < timedelta(days=2), detail
