"""Responsible for `upkeep review`: the month's maintenance review printed from the evidence (the
same review the monthly runbook records), or with `--quarter` the quarterly review (the same the
quarterly runbook records), and its trend plots written as SVG files on request."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from upkeep.cli.console import print_out
from upkeep.cli.options import GlobalOptions, NonEmptyPath, parse_at

if TYPE_CHECKING:
    from upkeep.config import Config
    from upkeep.review.trends import Series


@click.command("review")
@click.option("--at", metavar="ISO-TIME", help="Review the window ending at this time, not now.")
@click.option(
    "--quarter",
    is_flag=True,
    help="The quarterly review: the three months before the time, the monthly reviews' figures, "
    "the backlog's flow, drills, restore times and proposed changes to the plan.",
)
@click.option(
    "--plots",
    type=NonEmptyPath(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Also write each trend plot as DIR/<metric>.svg.",
)
@click.pass_obj
def review_command(
    options: GlobalOptions, at: str | None, quarter: bool, plots: Path | None
) -> int:
    """Print the maintenance review of the last `maintenance_review.window_days` days: runs and
    missed runs, checks that stayed failed, time to clear, the backlog, docs suggestions and the
    maintenance log. Read-only: it records nothing (run the maintenance-review runbook for that,
    or quarterly-review for `--quarter`)."""
    config = options.load_config()
    moment = parse_at(at, config)
    if plots is None:
        print_out(_reviewed(config, moment, quarter)[0])
        return 0
    from upkeep.review.plot_files import PlotWriter

    # Started first: its worker imports matplotlib while the evidence is read here.
    with PlotWriter() as plot_writer:
        text, trends = _reviewed(config, moment, quarter)
        print_out(text)
        plot_writer.write(plots, trends)
    return 0


def _reviewed(
    config: Config, moment: datetime, quarter: bool
) -> tuple[str, dict[str, list[Series]]]:
    """The review's text and its trend series: the quarter's, or the month's."""
    if quarter:
        from upkeep.procedures import quarterly_review
        from upkeep.review.quarter_text import quarter_text

        reviewed = quarterly_review.review(config, moment)
        return quarter_text(reviewed, config.tz), reviewed.trends
    from upkeep.procedures.maintenance_review import review
    from upkeep.review.text import month_text

    month = review(config, moment)
    return month_text(month, config.tz), month.trends
