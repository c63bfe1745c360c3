"""Responsible for `upkeep export`: what upkeep hands to other tools. `prometheus-rules` writes
the alerting rules derived from the plan; `textfile` writes the Prometheus textfile now (a run
writes it anyway when `metrics.textfile` is set).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from upkeep.cli.console import print_err
from upkeep.cli.options import GlobalOptions
from upkeep.errors import ConfigError, RunbookError

if TYPE_CHECKING:
    from upkeep.config import Config


@click.group("export")
def export_group() -> None:
    """Export what other tools read: Prometheus alerting rules, the metrics textfile."""


@export_group.command("prometheus-rules")
@click.option(
    "--output",
    "-o",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
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
    type=click.Path(dir_okay=False, path_type=Path),
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
    written = write_textfile(config, output)
    print_err(f"upkeep: wrote {written}")
    return 0
