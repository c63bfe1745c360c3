"""Responsible for `upkeep review`: the month's maintenance review printed from the evidence (the
same review the monthly runbook records), or with `--quarter` the quarterly review (the same the
quarterly runbook records), and its trend plots written as SVG files on request."""

from __future__ import annotations

from pathlib import Path

import click

from upkeep.cli.console import print_out
from upkeep.cli.options import GlobalOptions, parse_at


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
    type=click.Path(file_okay=False, path_type=Path),
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
    from upkeep.review.trends import Series, trend_svg

    config = options.load_config()
    moment = parse_at(at, config)
    trends: dict[str, list[Series]]
    if quarter:
        from upkeep.procedures import quarterly_review
        from upkeep.review.quarter_text import quarter_text

        reviewed = quarterly_review.review(config, moment)
        print_out(quarter_text(reviewed, config.tz))
        trends = reviewed.trends
    else:
        from upkeep.procedures.maintenance_review import review
        from upkeep.review.text import month_text

        month = review(config, moment)
        print_out(month_text(month, config.tz))
        trends = month.trends
    if plots is not None:
        plots.mkdir(parents=True, exist_ok=True)
        for metric, series in trends.items():
            if series:
                (plots / f"{metric}.svg").write_text(trend_svg(metric, series), encoding="utf-8")
    return 0
