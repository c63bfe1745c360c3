"""Responsible for the maintenance review's pages: `maintenance-review.md` (the last month: runs,
missed runs, checks that stayed failed, time to clear, docs suggestions and the trend plots as SVG
files beside it), `backlog.md` (the improvement backlog, overdue first, each item's runs linked)
and `maintenance-log.md` (every review and every entry people added, newest first)."""

from __future__ import annotations

from upkeep.review.backlog import BacklogItem
from upkeep.review.maintenance_log import REVIEW_RUNBOOK, log_entries
from upkeep.site.markup import escape_html, frontmatter, table_cell, when
from upkeep.site.model import SiteModel
from upkeep.site.trend_cache import TrendPlot, trend_plots

REVIEW_PAGE = "maintenance-review.md"
BACKLOG_PAGE = "backlog.md"
LOG_PAGE = "maintenance-log.md"
TRENDS_DIR = "maintenance-review"


def _run_link(model: SiteModel, run_id: str, root: str) -> str:
    runs = {run.run_id: run for run in model.runs}
    run = runs.get(run_id)
    if run is None:
        return f"<code>{escape_html(run_id)}</code>"
    return f'<a href="{root}{run.relpath}/">{escape_html(run_id)}</a>'


def overdue_items(model: SiteModel) -> list[BacklogItem]:
    if model.review is None:
        return []
    return model.review.overdue()


def backlog_page(model: SiteModel) -> str:
    lines = [
        frontmatter("Backlog"),
        "# Improvement backlog\n",
        "Recurring findings: a finding reported in "
        f"{model.config.maintenance_review.recurring_runs} runs within "
        f"{model.config.maintenance_review.window_days} days opens one item, updated in place "
        "each time it is reported again. Change an item with "
        "`upkeep backlog set ID --state/--owner/--due --by NAME --reason ...` (on record on the "
        "[decisions](decisions.md) page).\n",
    ]
    items = model.review.backlog if model.review else ()
    if not items:
        return "\n".join([*lines, "The backlog is empty: no finding has recurred yet.\n"])
    today = model.built_at.date()
    lines += [
        "| Item | State | Runbook | Finding | Seen | First seen | Last seen | Owner | Due | Runs |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for item in items:
        state = item.state.word
        if item.overdue(today):
            state += " **overdue**"
        if item.flagged:
            state += f" **reopened ×{item.reopened}**"
        runs = " ".join(_run_link(model, o.run_id, "../") for o in item.occurrences[-5:])
        lines.append(
            f'| <span id="{item.id}">{item.id}</span> | {state} | {table_cell(item.runbook)} | '
            f"<code>{table_cell(item.key)}</code> {table_cell(item.message[:200])} | "
            f"{len(item.occurrences)} | {escape_html(when(item.first_seen, model))} | "
            f"{escape_html(when(item.last_seen, model))} | {table_cell(item.owner or '-')} | "
            f"{item.due} | {runs} |"
        )
    return "\n".join(lines) + "\n"


def maintenance_log_page(model: SiteModel) -> str:
    lines = [
        frontmatter("Maintenance log"),
        "# Maintenance log\n",
        "One entry per maintenance review, and what people did by hand "
        '(`upkeep log add "..." --run RUN_ID --by NAME`), kept in the evidence ledger.\n',
    ]
    events = [entry.decision for entry in model.decisions]
    entries = log_entries(events)
    reviews = [run for run in model.runs if run.runbook == REVIEW_RUNBOOK]
    rows = [(e.at, e.by, e.text, e.run_id) for e in entries]
    rows += [
        (
            r.started_at,
            REVIEW_RUNBOOK,
            (r.record.summary if r.record else "") or "review",
            r.run_id,
        )
        for r in reviews
    ]
    if not rows:
        return "\n".join([*lines, "The maintenance log is empty.\n"])
    lines += ["| When | Who | What | Run |", "|---|---|---|---|"]
    for at, by, text, run_id in sorted(rows, key=lambda row: row[0], reverse=True):
        lines.append(
            f"| {escape_html(when(at, model))} | {table_cell(by)} | {table_cell(text)} | "
            f"{_run_link(model, run_id, '../')} |"
        )
    return "\n".join(lines) + "\n"


def review_plots(model: SiteModel) -> list[TrendPlot]:
    """The review page's trend plots, one per metric with a series."""
    return trend_plots(REVIEW_PAGE, TRENDS_DIR, model.review.trends) if model.review else []


def review_pages(model: SiteModel) -> list[tuple[str, str]]:
    """The review page (its trend plots, `review_plots`, are the plugin's to add)."""
    review = model.review
    lines = [frontmatter("Maintenance review"), "# Maintenance review\n"]
    if review is None:
        return [(REVIEW_PAGE, "\n".join([*lines, "No evidence yet.\n"]))]
    lines.append(
        f"The last {model.config.maintenance_review.window_days} days, from "
        f"{escape_html(when(review.start, model))} to {escape_html(when(review.end, model))}: "
        f"{review.runs} runs, {review.missed} scheduled run(s) missed. The monthly "
        "`maintenance-review` runbook records the same review as evidence.\n"
    )
    lines += [
        "## Runs",
        "",
        "| Runbook | Runs by status | Scheduled runs | Missed |",
        "|---|---|---|---|",
    ]
    for item in review.runbooks:
        statuses = ", ".join(f"{n} {s.value}" for s, n in sorted(item.statuses.items())) or "-"
        outcomes = ", ".join(f"{n} {o.word}" for o, n in sorted(item.outcomes.items())) or "-"
        missed = ", ".join(escape_html(when(t, model)) for t in item.missed) or "-"
        lines.append(f"| {table_cell(item.runbook)} | {statuses} | {outcomes} | {missed} |")
    lines += ["", "## Checks that failed or warned", ""]
    if review.streaks:
        lines += [
            "| Runbook | Check | Worst | Runs | Since | Cleared |",
            "|---|---|---|---|---|---|",
        ]
        for s in review.streaks:
            cleared = escape_html(when(s.cleared_at, model)) if s.cleared_at else "not yet"
            lines.append(
                f"| {table_cell(s.runbook)} | <code>{table_cell(s.check)}</code> | "
                f"{s.worst.value} | {s.runs} | {escape_html(when(s.since, model))} | {cleared} |"
            )
    else:
        lines.append("None.")
    lines += ["", "## Time to clear", ""]
    if review.cleared:
        lines += ["| Runbook | Finding | Open for | Closed |", "|---|---|---|---|"]
        for state in review.cleared:
            assert state.closed is not None
            hours = (state.closed.at - state.first_seen).total_seconds() / 3600
            lines.append(
                f"| {table_cell(state.runbook)} | <code>{table_cell(state.key)}</code> | "
                f"{hours:.1f} h | {state.closed.how.value} |"
            )
    else:
        lines.append("No finding cleared in the window.")
    lines += ["", "## Suggestions for the documentation review", ""]
    lines += [f"- **{table_cell(s.subject)}**: {table_cell(s.reason)}" for s in review.suggestions]
    if not review.suggestions:
        lines.append("None.")
    lines += ["", "## Trends", ""]
    plots = review_plots(model)
    for plot in plots:
        lines.append(f'<img src="../{plot.uri}" alt="trend of {escape_html(plot.metric)}">\n')
    if not plots:
        lines.append("No trend metric has a value in the window yet.")
    lines.append(
        "\nSee also the [backlog](backlog.md) and the [maintenance log](maintenance-log.md)."
    )
    return [(REVIEW_PAGE, "\n".join(lines) + "\n")]
