"""Responsible for the quarterly review's page, `quarterly-review.md`: the three months before the
build, as the quarterly-review runbook sees them (the monthly reviews drawn on, each linked to its
run page; runbooks month by month; the backlog's flow; SLA; drills; restore times; the proposed
changes to the plan), and the trend plots as SVG files beside it."""

from __future__ import annotations

from upkeep.review.backlog import BacklogItem
from upkeep.review.quarter import QuarterReview
from upkeep.review.quarter_text import month_label
from upkeep.site.markup import escape_html, frontmatter, run_href, table_cell, when
from upkeep.site.model import SiteModel
from upkeep.site.trend_cache import TrendPlot, trend_plots

PAGE = "quarterly-review.md"
TRENDS_DIR = "quarterly-review"
ROOT = "../"  # from the page's URL, quarterly-review/, to the site's root


def quarter_pages(model: SiteModel) -> list[tuple[str, str]]:
    """The page (its trend plots, `quarter_plots`, are the plugin's to add)."""
    lines = [frontmatter("Quarterly review"), "# Quarterly review\n"]
    quarter = model.quarter
    if quarter is None:
        return [(PAGE, "\n".join([*lines, "No evidence yet.\n"]))]
    lines.append(
        f"The three months from {escape_html(when(quarter.start, model))} to "
        f"{escape_html(when(quarter.end, model))}: {quarter.runs} runs. The quarterly "
        "`quarterly-review` runbook records the same review as evidence, on the first day of "
        "each quarter; its proposals are on the [backlog](backlog.md).\n"
    )
    lines += _monthly_reviews(model, quarter)
    lines += _runbooks(model, quarter)
    lines += _flow(quarter)
    lines += ["", "## SLA attainment per severity", "", f"{escape_html(quarter.sla).capitalize()}."]
    lines += _recovery(model, quarter)
    lines += ["", "## Proposed changes to the plan", ""]
    lines += [
        f"- <code>{table_cell(p.key)}</code>: {table_cell(p.message)}" for p in quarter.proposals
    ]
    if not quarter.proposals:
        lines.append("None.")
    lines += ["", "## Trends", ""]
    lines += [
        f'<img src="../{plot.uri}" alt="trend of {escape_html(plot.metric)}">\n'
        for plot in quarter_plots(model)
    ] or ["No trend metric has a value in the quarter yet."]
    return [(PAGE, "\n".join(lines) + "\n")]


def _monthly_reviews(model: SiteModel, quarter: QuarterReview) -> list[str]:
    runs = {run.run_id: run for run in model.runs}
    lines = ["## Monthly reviews drawn on", ""]
    for monthly in quarter.monthly_reviews:
        run = runs.get(monthly.run_id)
        name = escape_html(monthly.run_id)
        link = f'<a href="{run_href(run, ROOT)}">{name}</a>' if run else f"<code>{name}</code>"
        lines.append(f"- {link}: {table_cell(monthly.summary or monthly.status.value)}")
    if not quarter.monthly_reviews:
        lines.append("No monthly maintenance review ran in the quarter.")
    return lines


def _runbooks(model: SiteModel, quarter: QuarterReview) -> list[str]:
    tz = model.config.tz
    months = [month_label(a.astimezone(tz), b.astimezone(tz)) for a, b in quarter.months]
    lines = ["", "## Runbooks month by month", ""]
    lines += [f"| Runbook | {' | '.join(months)} |", "|---" * (len(months) + 1) + "|"]
    for item in quarter.runbooks:
        cells = []
        for statuses, missed in zip(item.statuses, item.missed, strict=True):
            text = ", ".join(f"{n} {s.value}" for s, n in sorted(statuses.items())) or "-"
            cells.append(text + (f", **{missed} missed**" if missed else ""))
        lines.append(f"| {table_cell(item.runbook)} | {' | '.join(cells)} |")
    never = ", ".join(table_cell(i.runbook) for i in quarter.never_failed) or "none"
    always = ", ".join(table_cell(i.runbook) for i in quarter.failed_every_month) or "none"
    lines += [
        "",
        f"**Never warned or failed** (ran every month: are their checks meaningful?): {never}.",
        "",
        f"**Failed every month** (is the runbook or the system wrong?): {always}.",
    ]
    return lines


def _items(items: tuple[BacklogItem, ...]) -> str:
    return ", ".join(f"[{item.id}](backlog.md#{item.id})" for item in items) or "-"


def _flow(quarter: QuarterReview) -> list[str]:
    flow = quarter.flow
    return [
        "",
        "## The backlog's flow",
        "",
        "| | Items | Which |",
        "|---|---|---|",
        f"| opened | {len(flow.opened)} | {_items(flow.opened)} |",
        f"| closed | {len(flow.closed)} | {_items(flow.closed)} |",
        f"| reopened | {len(flow.reopened)} | {_items(flow.reopened)} |",
        f"| overdue at the end | {len(flow.overdue)} | {_items(flow.overdue)} |",
        f"| active at the end | {flow.active} | |",
    ]


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:g} s"


def _recovery(model: SiteModel, quarter: QuarterReview) -> list[str]:
    runs = {run.run_id: run for run in model.runs}
    lines = ["", "## Disaster drills: RTO and RPO", ""]
    if quarter.drills:
        lines += ["| Run | Runbook | RTO | RPO |", "|---|---|---|---|"]
    for drill in quarter.drills:
        run = runs.get(drill.run_id)
        name = escape_html(drill.run_id)
        link = f'<a href="{run_href(run, ROOT)}">{name}</a>' if run else name
        lines.append(
            f"| {link} | {table_cell(drill.runbook)} | {_seconds(drill.rto_seconds)} | "
            f"{_seconds(drill.rpo_seconds)} |"
        )
    if not quarter.drills:
        lines.append("No drill this quarter.")
    lines += ["", "## Restore time, monthly median", ""]
    for trend in quarter.restore:
        medians = ", ".join(_seconds(value) for value in trend.medians)
        lines.append(f"- {table_cell(trend.series.name)}: {medians}")
    if not quarter.restore:
        lines.append("No restore measured this quarter.")
    return lines


def quarter_plots(model: SiteModel) -> list[TrendPlot]:
    """The page's trend plots, one per metric with a series."""
    return trend_plots(TRENDS_DIR, TRENDS_DIR, model.quarter.trends) if model.quarter else []
