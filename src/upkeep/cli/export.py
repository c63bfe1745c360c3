"""Responsible for `upkeep export`: what upkeep hands to other tools. `prometheus-rules` writes
the alerting rules derived from the plan; `textfile` writes the Prometheus textfile now (a run
writes it anyway when `metrics.textfile` is set); `airflow` writes a fleet's DAG file and
`kubernetes` a fleet's CronJobs, one file per host group.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from upkeep.cli.console import print_err
from upkeep.cli.options import GlobalOptions, refuse_unless_regular
from upkeep.errors import ConfigError, ParameterError, RunbookError

if TYPE_CHECKING:
    from upkeep.config import Config

EXPORTED_FILE_MODE = 0o644  # a scheduler reads it; it holds paths, ids and names, never a secret


@click.group("export")
def export_group() -> None:
    """Export what other tools read: Prometheus alerting rules, the metrics textfile, a fleet's
    Airflow DAG file or Kubernetes CronJobs."""


@export_group.command("prometheus-rules")
@click.option(
    "--output",
    "-o",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    callback=lambda ctx, param, value: _given(value, "a file name"),
    help="Write the rules to FILE (replaced whole) instead of stdout.",
)
@click.pass_obj
def prometheus_rules_command(options: GlobalOptions, output: Path | None) -> int:
    """Write Prometheus alerting rules derived from the plan.

    \b
    Per runbook: not succeeded within its cadence + the status: grace periods + its time
    limit, never succeeded; a check failing; a run in error; backups older than upkeep.yml's
    limits; the textfile not rewritten. Check them with `promtool check rules FILE`.
    """
    return export_rules(options.load_config(), output)


def export_rules(config: Config, output: Path | None) -> int:
    """Write the rules; RunbookError (exit 2, nothing written) when a runbook is invalid, since
    its rules would be missing without a word."""
    from upkeep import registry
    from upkeep.atomic import file_mode, write_text
    from upkeep.metrics.rules import rules_yaml

    runbooks = registry.discover(config.runbooks_dir, config.root)
    if runbooks.invalid:
        listed = "; ".join(item.message for item in runbooks.invalid.values())
        raise RunbookError(f"{listed} (fix it first: its alerting rules would be missing)")
    _check_output(output, config)
    text = rules_yaml(config, runbooks.values())
    if output is None:
        click.echo(text, nl=False)
    else:
        write_text(output, text, mode=file_mode())
        print_err(f"upkeep: wrote alerting rules for {len(runbooks)} runbooks to {output}")
    return 0


@export_group.command("textfile")
@click.option(
    "--output",
    "-o",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    callback=lambda ctx, param, value: _given(value, "a file name"),
    help="Write it to FILE instead of metrics.textfile.",
)
@click.pass_obj
def textfile_command(options: GlobalOptions, output: Path | None) -> int:
    """Write the Prometheus textfile now, from the evidence and the backup store."""
    from upkeep.metrics.textfile import write_textfile

    config = options.load_config()
    if output is None and config.metrics.textfile is None:
        raise ConfigError(
            f"{config.path}: metrics.textfile: not set; set it (e.g. var/metrics/upkeep.prom) "
            "or give --output FILE"
        )
    _check_output(output, config, own="metrics.textfile")
    if output is None and config.metrics.textfile is not None:
        refuse_unless_regular(config.metrics.textfile, "metrics.textfile")
    written = write_textfile(config, output)
    print_err(f"upkeep: wrote {written}")
    return 0


def _given(value: str | None, expected: str) -> Path | None:
    """An `--output` as a path; an empty one (which would be the current folder) is a usage
    error."""
    if value is None:
        return None
    if not value.strip():
        raise click.BadParameter(f"expected {expected}, got an empty one")
    return Path(value)


def _check_output(
    output: Path | None, *configs: Config, own: str | None = None, fleet: Path | None = None
) -> None:
    """An `--output` that would replace something kept (the fleet file, a config, the ledger,
    a file a config names other than `own`) is refused, as is an empty one: ParameterError,
    exit 2, nothing written."""
    from upkeep.config.cleanup import replaces_kept

    if output is None:
        return
    refuse_unless_regular(output)
    if fleet is not None and output.resolve() == fleet.resolve():
        raise ParameterError(f"--output: {output} is the fleet file; expected a file of its own")
    for config in configs:
        why = replaces_kept(output, config, leave=(own,) if own else ())
        if why is not None:
            raise ParameterError(f"--output: {why}; expected a file of the export's own")


FLEET_OPTION = click.option(
    "--fleet",
    "fleet_path",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    callback=lambda ctx, param, value: _given(value, "a file name"),
    default="fleet.yml",
    envvar="UPKEEP_FLEET",
    show_default=True,
    help="The fleet file: the hosts, their configs and runbooks [$UPKEEP_FLEET].",
)


@export_group.command("airflow")
@FLEET_OPTION
@click.option(
    "--output",
    "-o",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    callback=lambda ctx, param, value: _given(value, "a file name"),
    help="Write the DAG file to FILE (replaced whole; e.g. into the dags folder) instead of "
    "stdout.",
)
def airflow_command(fleet_path: Path, output: Path | None) -> int:
    """Write an Airflow DAG file for a fleet: one DAG per cadence, one task per host and
    runbook, each running `upkeep run --host ID` on its host (its worker queue, or over its
    SSH connection). A task Airflow cannot run at exactly upkeep's own times is left out,
    named on stderr with the reason, and the exit code is 1.

    \b
    Example:
      upkeep export airflow --fleet fleet.yml -o $AIRFLOW_HOME/dags/upkeep_fleet.py
    """
    return export_airflow(fleet_path, output)


def export_airflow(fleet_path: Path, output: Path | None) -> int:
    """Read the fleet and every host's config (ConfigError, exit 2, nothing written, on the
    first problem), then write the DAG file; 1 when some task was refused."""
    from datetime import UTC, datetime

    from upkeep.atomic import write_text
    from upkeep.config.fleet import load_fleet_hosts, read_fleet
    from upkeep.schedule_export.airflow import dag_file
    from upkeep.schedule_export.fleet_tasks import fleet_schedules

    fleet = read_fleet(fleet_path)
    hosts = load_fleet_hosts(fleet)
    _check_output(output, *(loaded.config for loaded in hosts), fleet=fleet_path)
    schedules, refused = fleet_schedules(fleet, hosts, datetime.now(UTC))
    text = dag_file(schedules, refused, fleet.path)
    if output is None:
        click.echo(text, nl=False)
    else:
        write_text(output, text, mode=EXPORTED_FILE_MODE)
        tasks = sum(len(schedule.tasks) for schedule in schedules)
        print_err(f"upkeep: wrote {len(schedules)} DAG(s), {tasks} task(s) to {output}")
    for refusal in refused:
        print_err(f"upkeep: refused: {refusal.runbook}: not exported to airflow: {refusal.reason}")
    return 1 if refused else 0


@export_group.command("kubernetes")
@FLEET_OPTION
@click.option(
    "--output",
    "-o",
    metavar="DIR",
    type=click.Path(file_okay=False),
    callback=lambda ctx, param, value: _given(value, "a folder name"),
    help="Write the files into DIR (made if missing) instead of printing them.",
)
def kubernetes_command(fleet_path: Path, output: Path | None) -> int:
    """Write a fleet's Kubernetes CronJobs: one file per host group (upkeep-GROUP.yaml), a
    CronJob per host and runbook running `upkeep run --host ID` with that host's config, image
    and evidence claim (`schedule.kubernetes` of its upkeep.yml). A runbook Kubernetes cannot
    run at exactly upkeep's own times is left out, named on stderr, and the exit code is 1.
    For one machine's runbooks: `upkeep schedule export kubernetes`.

    \b
    Example:
      upkeep export kubernetes --fleet fleet.yml -o k8s/   then: kubectl apply -f k8s/
    """
    from datetime import UTC, datetime

    from upkeep.atomic import write_text
    from upkeep.config.fleet import load_fleet_hosts, read_fleet
    from upkeep.schedule_export.fleet_tasks import host_jobs
    from upkeep.schedule_export.kubernetes import fleet_files

    fleet = read_fleet(fleet_path)
    hosts = load_fleet_hosts(fleet)
    jobs, refused = host_jobs(fleet, hosts, datetime.now(UTC))
    files, not_named = fleet_files(jobs)
    refused += not_named
    if output is not None:
        for name in files:
            _check_output(output / name, *(loaded.config for loaded in hosts), fleet=fleet_path)
    if output is None:
        click.echo("---\n".join(files.values()), nl=False)
    else:
        output.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            write_text(output / name, text, mode=EXPORTED_FILE_MODE)
        print_err(f"upkeep: wrote {len(files)} file(s) to {output}")
    for refusal in refused:
        print_err(
            f"upkeep: refused: {refusal.runbook}: not exported to kubernetes: {refusal.reason}"
        )
    return 1 if refused else 0
