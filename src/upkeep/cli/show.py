"""Responsible for `upkeep show NAME`: a runbook's metadata and parameters, as text or JSON, with
the timeout a run of it gets and the output it keeps (its own, else `defaults.timeout_s` and
`defaults.max_output_bytes`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from upkeep.cli.console import print_json, print_out
from upkeep.cli.options import GlobalOptions
from upkeep.units import human_size

if TYPE_CHECKING:
    from upkeep.config import Config


@click.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_obj
def show_command(options: GlobalOptions, name: str, as_json: bool) -> int:
    """Show a runbook's metadata and parameters."""
    return show_runbook(options.load_config(), name, as_json=as_json)


def show_runbook(config: Config, name: str, *, as_json: bool) -> int:
    """Print the runbook called `name`; RunbookError when there is none or it is invalid
    (whatever the other runbooks are). Exit code 0."""
    from upkeep import registry

    runbook = registry.discover(config.runbooks_dir, config.root).require(name)
    timeout_s = runbook.timeout_s or config.timeout_s
    max_output = runbook.max_output_bytes or config.max_output_bytes
    if as_json:
        # timeout_s and max_output_bytes are what a run gets; declared_* what the runbook says.
        print_json(
            {
                **runbook.to_json(),
                "timeout_s": timeout_s,
                "declared_timeout_s": runbook.timeout_s,
                "max_output_bytes": max_output,
                "declared_max_output_bytes": runbook.max_output_bytes,
            }
        )
        return 0
    print_out(f"{runbook.name} — {runbook.title}", bold=True)
    print_out(runbook.summary)
    for label, value in (
        ("path", runbook.relpath),
        ("cadence", runbook.cadence),
        ("category", runbook.category),
        ("owner", runbook.owner),
        ("timeout", f"{timeout_s} s" + ("" if runbook.timeout_s else " (defaults.timeout_s)")),
        (
            "output kept",
            human_size(max_output)
            + ("" if runbook.max_output_bytes else " (defaults.max_output_bytes)"),
        ),
        ("destructive", "yes" if runbook.destructive else "no"),
        ("after", ", ".join(runbook.after) or "-"),
        ("references", ", ".join(runbook.references) or "-"),
        ("sha256", runbook.sha256),
    ):
        print_out(f"  {label:<12}{value}")
    print_out("parameters:" if runbook.params else "parameters: none")
    for param in runbook.params:
        constraints = param.describe_constraints()
        print_out(
            f"  {param.name}: {param.type_label} = {param.default_label}"
            + (f"  [{constraints}]" if constraints else "")
        )
        if param.help:
            print_out(f"      {param.help}")
    for note in runbook.param_notes:
        print_out(f"  note: {note}")
    print_out(
        f"run it: upkeep run {runbook.name}"
        + "".join(f" -p {param.name}=..." for param in runbook.params[:1])
    )
    return 0
