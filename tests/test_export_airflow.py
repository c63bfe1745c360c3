"""`upkeep export airflow`: the DAG file written for a fleet, read back with `ast` (valid
Python, importing nothing from upkeep, the right DAGs, tasks, schedules and settings) without
Airflow; tests/test_export_airflow_dags.py runs it in a real Airflow."""

from __future__ import annotations

import ast
import shlex
from pathlib import Path
from typing import Any

from helpers.fleet import SimulatedHost, make_fleet
from helpers.project import Result

from upkeep.schedule_export.fleet_tasks import SKIPPED_EXIT_CODE


def _export(fleet: Path, *args: str) -> Result:
    from click.testing import CliRunner

    from upkeep.cli import main

    result = CliRunner().invoke(main, ["export", "airflow", "--fleet", str(fleet), *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Result(result.exit_code, result.stdout, result.stderr)


def _dags(source: str) -> dict[str, dict[str, Any]]:
    """DAG id -> its keyword arguments and its operators' (kind, keyword arguments)."""
    dags: dict[str, dict[str, Any]] = {}
    for node in ast.parse(source).body:
        if not isinstance(node, ast.With):
            continue
        call = node.items[0].context_expr
        assert isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
        assert call.func.id == "DAG"
        kwargs = {kw.arg: kw.value for kw in call.keywords}
        tasks = {}
        for statement in node.body:
            assert isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call)
            task = {kw.arg: kw.value for kw in statement.value.keywords}
            tasks[ast.literal_eval(task["task_id"])] = (statement.value.func.id, task)  # type: ignore[attr-defined]
        dags[ast.literal_eval(kwargs["dag_id"])] = {"kwargs": kwargs, "tasks": tasks}
    return dags


def _literal(node: ast.expr) -> Any:
    return ast.literal_eval(node)


def _two_hosts(tmp_path: Path) -> Path:
    return make_fleet(
        tmp_path,
        [
            SimulatedHost(
                "db-1",
                {"probe": ("daily", "ok"), "disk": ("weekly", "ok")},
                fleet_entry="queue: db-workers\n",
                timezone="Europe/Paris",
            ),
            SimulatedHost(
                "web-2",
                {"probe": ("daily", "ok"), "disk": ("weekly", "fail"), "extra": ("daily", "ok")},
                fleet_entry="ssh_conn_id: ssh_web_2\nrunbooks: [probe, disk]\n",
                timezone="Europe/Paris",
            ),
        ],
    )


def test_the_dag_file_has_one_dag_per_cadence_and_one_task_per_host_and_runbook(
    tmp_path: Path,
) -> None:
    fleet = _two_hosts(tmp_path)
    result = _export(fleet)
    assert result.code == 0, result.err
    dags = _dags(result.out)
    assert set(dags) == {"upkeep_daily", "upkeep_weekly"}
    assert set(dags["upkeep_daily"]["tasks"]) == {"db-1--probe", "web-2--probe"}
    assert set(dags["upkeep_weekly"]["tasks"]) == {"db-1--disk", "web-2--disk"}  # not "extra"
    daily = dags["upkeep_daily"]["kwargs"]
    assert _literal(daily["schedule"]) == "0 0 * * *"
    assert _literal(daily["catchup"]) is False and _literal(daily["max_active_runs"]) == 1
    start = daily["start_date"]
    assert isinstance(start, ast.Call) and ast.unparse(start.func) == "pendulum.datetime"
    assert _literal(start.keywords[0].value) == "Europe/Paris"
    assert _literal(dags["upkeep_weekly"]["kwargs"]["schedule"]) == "0 0 * * 1"


def test_each_task_runs_upkeep_run_on_its_host_through_its_queue_or_ssh(tmp_path: Path) -> None:
    fleet = _two_hosts(tmp_path)
    dags = _dags(_export(fleet).out)
    kind, task = dags["upkeep_daily"]["tasks"]["db-1--probe"]
    assert kind == "BashOperator" and _literal(task["queue"]) == "db-workers"
    argv = shlex.split(_literal(task["bash_command"]))
    assert argv[1:] == [
        "--config",
        str(tmp_path / "db-1" / "upkeep.yml"),
        "run",
        "--trigger",
        "schedule",
        "--host",
        "db-1",
        "--exit-skipped",
        str(SKIPPED_EXIT_CODE),
        "probe",
    ]
    assert ast.unparse(task["skip_on_exit_code"]) == "SKIPPED_EXIT_CODE"
    kind, task = dags["upkeep_weekly"]["tasks"]["web-2--disk"]
    assert kind == "SSHOperator" and _literal(task["ssh_conn_id"]) == "ssh_web_2"
    assert "queue" not in task and _literal(task["cmd_timeout"]) is None
    assert shlex.split(_literal(task["command"]))[-3:] == ["--exit-skipped", "99", "disk"]


def test_the_dag_file_imports_nothing_from_upkeep_and_airflow_never_retries(
    tmp_path: Path,
) -> None:
    source = _export(_two_hosts(tmp_path)).out
    tree = ast.parse(source)
    imported = {
        name
        for node in ast.walk(tree)
        for name in (
            [alias.name for alias in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else []
        )
    }
    assert not any(name.split(".")[0] == "upkeep" for name in imported)
    assert "airflow.providers.ssh.operators.ssh" in imported  # a host runs over SSH
    constants = {
        target.id: node.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    assert _literal(constants["SKIPPED_EXIT_CODE"]) == SKIPPED_EXIT_CODE == 99
    assert _literal(constants["DEFAULT_ARGS"])["retries"] == 0
    assert "upkeep's retry policy applies" in source


def test_without_ssh_hosts_the_ssh_provider_is_not_needed(tmp_path: Path) -> None:
    fleet = make_fleet(tmp_path, [SimulatedHost("db-1", {"probe": ("daily", "ok")})])
    source = _export(fleet).out
    assert "SSHOperator" not in source and "queue=" not in source


def test_a_dst_hour_is_refused_named_on_stderr_and_left_out(tmp_path: Path) -> None:
    fleet = make_fleet(
        tmp_path,
        [
            SimulatedHost(
                "db-1",
                {"probe": ("daily", "ok"), "night": ("30 2 * * *", "ok")},
                timezone="Europe/Paris",
            )
        ],
    )
    output = tmp_path / "dags" / "upkeep_fleet.py"
    result = _export(fleet, "-o", str(output))
    assert result.code == 1
    assert "refused: db-1/night: not exported to airflow" in result.err
    dags = _dags(output.read_text())
    assert set(dags) == {"upkeep_daily"}  # the 02:30 one is named in a comment only
    assert "#   db-1/night:" in output.read_text()
    assert output.stat().st_mode & 0o777 == 0o644


def test_a_runbook_a_host_does_not_have_is_bad_input_and_nothing_is_written(
    tmp_path: Path,
) -> None:
    fleet = make_fleet(
        tmp_path,
        [SimulatedHost("db-1", {"probe": ("daily", "ok")}, fleet_entry="runbooks: [prob]\n")],
    )
    output = tmp_path / "dag.py"
    result = _export(fleet, "-o", str(output))
    assert result.code == 2
    assert "hosts[0].runbooks: 'prob' is not a runbook of host 'db-1'" in result.err
    assert "expected one of probe" in result.err
    assert not output.exists()


def test_hosts_in_two_time_zones_get_a_dag_each(tmp_path: Path) -> None:
    fleet = make_fleet(
        tmp_path,
        [
            SimulatedHost("db-1", {"probe": ("daily", "ok")}, timezone="Europe/Paris"),
            SimulatedHost("db-2", {"probe": ("daily", "ok")}, timezone="America/New_York"),
        ],
    )
    dags = _dags(_export(fleet).out)
    assert set(dags) == {"upkeep_daily_europe_paris", "upkeep_daily_america_new_york"}
    assert set(dags["upkeep_daily_america_new_york"]["tasks"]) == {"db-2--probe"}


def test_numbered_dag_ids_never_take_another_cadences_id() -> None:
    # "*/7 * * * *" and "7 * * * *" both slug to upkeep_7; the second became upkeep_7_2, the
    # id "7 2 * * *" has of its own, and Airflow kept one of the two DAGs.
    from upkeep.schedule_export.fleet_tasks import FleetSchedule, _check_unique

    schedules = [
        FleetSchedule("upkeep_7", "*/7 * * * *", "*/7 * * * *", "UTC", ()),
        FleetSchedule("upkeep_7", "7 * * * *", "7 * * * *", "UTC", ()),
        FleetSchedule("upkeep_7_2", "7 2 * * *", "7 2 * * *", "UTC", ()),
    ]
    _check_unique(schedules)
    names = [schedule.name for schedule in schedules]
    assert len(set(names)) == 3 and names[0] == "upkeep_7"


def test_an_ssh_tasks_command_is_taken_as_it_is_by_jinja() -> None:
    # SSHOperator templates `command` as BashOperator does `bash_command`: a config path with
    # "{{x}}" in it was rendered to another path (only the BashOperator's had {% raw %}); a path
    # holding "{% endraw %}" closed the raw block early.
    for config in ("/srv/odd{{x}}/upkeep.yml", "/srv/a{% endraw %}{{ x }}/upkeep.yml"):
        _renders_back(("upkeep", "--config", config, "run", "probe"))


def _renders_back(argv: tuple[str, ...]) -> None:
    import ast

    import jinja2

    from upkeep.schedule_export.airflow import _task
    from upkeep.schedule_export.fleet_tasks import FleetTask

    for ssh in ("ssh_web", None):
        lines = _task(FleetTask("web-1", "probe", "Probe", argv, None, ssh))
        field = "command=" if ssh else "bash_command="
        [line] = [line for line in lines if line.strip().startswith(field)]
        template = ast.literal_eval(line.strip().removeprefix(field).rstrip(","))
        assert jinja2.Template(template).render(x="ELSEWHERE") == shlex.join(argv)


def test_a_stepped_day_field_croniter_reads_otherwise_is_refused_for_airflow() -> None:
    from upkeep.schedule_export.fields import parse_fields, star_step_refusal

    fields = parse_fields("0 0 */1 * 1")  # cronsim: Mondays; croniter: every day
    assert star_step_refusal(fields, "Kubernetes' cron") is None  # robfig keeps */1 a star
    assert star_step_refusal(fields, "Airflow's croniter", star_one=False) is not None
