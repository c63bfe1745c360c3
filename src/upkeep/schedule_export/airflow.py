"""Responsible for the Airflow export: a fleet's schedules written as one DAG file, one DAG per
cadence and time zone, one task per host × runbook running `upkeep run` on that host (a
BashOperator routed to the host's worker queue, or an SSHOperator over its SSH connection).
Upkeep's schedule is kept: the cadence's cron in the host's zone, `catchup=False` and
`max_active_runs=1` (a missed period is not replayed: upkeep's `run --due` catches up once);
its exit codes become task states (1 and 3 fail the task, 99 — every run skipped — skips it);
Airflow does not retry (`retries=0`): upkeep's policy applies, a failed run is evidence and
the next period runs the runbook again. The file imports nothing from upkeep: it runs on the
Airflow scheduler.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from pathlib import Path

from upkeep.schedule_export import Refusal
from upkeep.schedule_export.fleet_tasks import SKIPPED_EXIT_CODE, FleetSchedule, FleetTask

__all__ = ["NAME", "dag_file"]

NAME = "airflow"
# Any past day: with catchup=False, Airflow starts at the latest period, not there.
_START = "2024, 1, 1"

_HEADER = '''\
"""upkeep's fleet schedule for Airflow, written by `upkeep export airflow` from
{fleet}.
Do not edit: change the fleet file or the runbooks and export again.

Each task runs `upkeep run` on one host, so evidence, redaction, locking and time limits are
upkeep's. Exit codes: 0 ok or warn (success); 1 a check failed, 2 bad input, 3 a run ended in
error (the task fails); {skipped} every run was skipped, e.g. locked by a run still going (the
task is skipped). retries=0: upkeep's retry policy applies, not Airflow's on top of it: a
failed run is evidence and is not repeated blindly; the next period runs the runbook again.
catchup=False and max_active_runs=1: a missed period is not replayed and runs never overlap,
as with upkeep's own schedule.
"""

from __future__ import annotations

import pendulum

try:  # Airflow 3
    from airflow.providers.standard.operators.bash import BashOperator
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG
    from airflow.operators.bash import BashOperator
'''

_SSH_IMPORT = """\
from airflow.providers.ssh.operators.ssh import SSHOperator
"""

_CONSTANTS = """
SKIPPED_EXIT_CODE = {skipped}  # `upkeep run --exit-skipped`: every run was skipped
DEFAULT_ARGS = {{
    "owner": "upkeep",
    "retries": 0,  # upkeep's retry policy applies, not Airflow's on top of it
    "depends_on_past": False,
}}
"""


def dag_file(
    schedules: Sequence[FleetSchedule], refused: Sequence[Refusal], fleet_path: Path
) -> str:
    """The text of the DAG file: valid Python for Airflow 2.6+ and 3."""
    uses_ssh = any(task.ssh_conn_id for schedule in schedules for task in schedule.tasks)
    parts = [_HEADER.format(fleet=fleet_path, skipped=SKIPPED_EXIT_CODE)]
    if uses_ssh:
        parts.append(_SSH_IMPORT)
    parts.append(_CONSTANTS.format(skipped=SKIPPED_EXIT_CODE))
    parts.extend(_dag(schedule) for schedule in schedules)
    if refused:
        parts.append("\n# NOT SCHEDULED (host/runbook: why):\n")
        parts.extend(f"#   {refusal.runbook}: {_one_line(refusal.reason)}\n" for refusal in refused)
    return "".join(parts)


def _dag(schedule: FleetSchedule) -> str:
    hosts = sorted({task.host for task in schedule.tasks})
    lines = [
        "",
        "",
        f"# {schedule.name}: cadence {schedule.cadence} ({schedule.expression}) "
        f"in {schedule.zone}; hosts: {', '.join(hosts)}",
        "with DAG(",
        f"    dag_id={schedule.name!r},",
        f"    schedule={schedule.expression!r},",
        f"    start_date=pendulum.datetime({_START}, tz={schedule.zone!r}),",
        "    catchup=False,",
        "    max_active_runs=1,",
        "    default_args=DEFAULT_ARGS,",
        f"    tags=['upkeep', {schedule.cadence!r}],",
        f"    doc_md={_doc(schedule)!r},",
        f") as {schedule.name}:",
    ]
    for task in schedule.tasks:
        lines.extend(_task(task))
    return "\n".join(lines) + "\n"


def _task(task: FleetTask) -> list[str]:
    command = shlex.join(task.argv)
    if task.ssh_conn_id:
        lines = [
            "    SSHOperator(",
            f"        task_id={task.task_id!r},",
            f"        ssh_conn_id={task.ssh_conn_id!r},",
            # `command` is a template field of SSHOperator too: taken as it is.
            f"        command={_raw(command)!r},",
            "        cmd_timeout=None,  # upkeep's own time limit applies",
        ]
    else:
        lines = [
            "    BashOperator(",
            f"        task_id={task.task_id!r},",
            # Jinja would read "{{" in a path: the command is taken as it is.
            f"        bash_command={_raw(command)!r},",
        ]
    if task.queue:
        lines.append(f"        queue={task.queue!r},")
    lines += [
        "        skip_on_exit_code=SKIPPED_EXIT_CODE,",
        f"        doc_md={f'{task.title} on host {task.host}'!r},",
        "    )",
    ]
    return lines


def _raw(command: str) -> str:
    """`command` as Jinja renders it back to itself: in a raw block, or (when it holds an
    `endraw` of its own, which would close the block) as a Jinja string expression."""
    if "{{" in command or "{%" in command or "{#" in command:
        if "endraw" in command:
            return "{{ " + json.dumps(command, ensure_ascii=False) + " }}"
        return "{% raw %}" + command + "{% endraw %}"
    return command


def _doc(schedule: FleetSchedule) -> str:
    return (
        f"upkeep runbooks of cadence {schedule.cadence}, each run by `upkeep run` on its host; "
        "the evidence stays in each host's evidence folder (`upkeep verify` there)."
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())
