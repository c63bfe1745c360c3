"""Responsible for `upkeep review`: the month's maintenance review printed from the evidence (the
same review the monthly runbook records), and its trend plots written as SVG files on request."""

from __future__ import annotations

from pathlib import Path

import click

from upkeep.cli.console import print_out
from upkeep.cli.options import GlobalOptions, parse_at


@click.command("review")
@click.option("--at", metavar="ISO-TIME", help="Review the window ending at this time, not now.")
@click.option(
    "--plots",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Also write each trend plot as DIR/<metric>.svg.",
)
@click.pass_obj
def review_command(options: GlobalOptions, at: str | None, plots: Path | None) -> int:
    """Print the maintenance review of the last `maintenance_review.window_days` days: runs and
    missed runs, checks that stayed failed, time to clear, the backlog, docs suggestions and the
    maintenance log. Read-only: it records nothing (run the maintenance-review runbook for that)."""
    from upkeep.procedures.maintenance_review import review
    from upkeep.review.text import month_text
    from upkeep.review.trends import trend_svg

    config = options.load_config()
    month = review(config, parse_at(at, config))
    print_out(month_text(month, config.tz))
    if plots is not None:
        plots.mkdir(parents=True, exist_ok=True)
        for metric, series in month.trends.items():
            if series:
                (plots / f"{metric}.svg").write_text(trend_svg(metric, series), encoding="utf-8")
    return 0
