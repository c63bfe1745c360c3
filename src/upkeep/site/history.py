"""Responsible for the run history: the index of months, and one page per month listing every
run with its status (a dry run marked) and summary (what search finds: run pages themselves stay
out of search). The month's table is put in after Markdown (`month_table`), as plain HTML.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from upkeep.site.dashboard import verification_banner
from upkeep.site.markup import (
    badge,
    escape_html,
    frontmatter,
    md_link,
    run_status,
    run_summary,
    when,
)
from upkeep.site.model import SiteModel

LATE_MARKER = "<!-- upkeep: run list -->"  # replaced after Markdown by `month_table`


def _month_title(month: str) -> str:
    return datetime.strptime(month, "%Y/%m").strftime("%B %Y")


def runs_index(model: SiteModel) -> str:
    lines = [frontmatter("Run history"), "# Run history\n"]
    lines.append(verification_banner(model, "../") + "\n")
    if not model.by_month:
        return "\n".join(lines + ["No runs yet.\n"])
    lines += ["| Month | Runs | Statuses | Evidence |", "|---|---|---|---|"]
    for month, runs in sorted(model.by_month.items(), reverse=True):
        counts = Counter(run.status for run in runs)
        worst_first = sorted(counts, key=lambda status: -status.rank)
        statuses = " ".join(f"{badge(status)} {counts[status]}" for status in worst_first)
        bad = sum(not run.verified for run in runs)
        evidence_text = (
            f'<strong class="uk-bad">{bad} DO NOT VERIFY</strong>' if bad else "verifies"
        )
        lines.append(
            f"| [{_month_title(month)}]({month}.md) | {len(runs)} | {statuses} | {evidence_text} |"
        )
    return "\n".join(lines) + "\n"


def month_page(model: SiteModel, month: str, neighbours: tuple[str | None, str | None]) -> str:
    """`runs/YYYY/MM.md`: every run of the month with its summary (what search finds)."""
    runs = model.by_month[month]
    src = f"runs/{month}.md"
    lines = [frontmatter(f"Runs of {_month_title(month)}"), f"# Runs of {_month_title(month)}\n"]
    links = [
        f"[← {_month_title(m)}]({md_link(src, f'runs/{m}.md')})"
        if i == 0
        else f"[{_month_title(m)} →]({md_link(src, f'runs/{m}.md')})"
        for i, m in enumerate(neighbours)
        if m
    ]
    lines.append(" · ".join(links + ["[All months](../index.md)"]) + "\n")
    bad = [run for run in runs if not run.verified]
    if bad:
        lines.append(
            f'<p class="uk-alert"><strong>{len(bad)} run(s) of this month do NOT verify.</strong>'
            "</p>\n"
        )
    lines.append(LATE_MARKER + "\n")
    return "\n".join(lines)


def month_table(model: SiteModel, month: str) -> str:
    """The month's runs as HTML, put in after Markdown: thousands of rows a year are plain HTML,
    and Markdown's raw-HTML handling would only cost time. Lean markup: search parses it."""
    rows = []
    for run in model.by_month[month]:
        flag = "" if run.verified else ' <strong class="uk-bad">DOES NOT VERIFY</strong>'
        started = escape_html(when(run.started_at, model))
        rows.append(
            # The run page stays in its UTC month's folder; the month is the configured zone's.
            f'<tr><td><a href="../../../{escape_html(run.relpath)}/">{started}</a></td>'
            f"<td>{escape_html(run.runbook)}</td><td>{run_status(run)}{flag}</td>"
            f"<td>{escape_html(run_summary(run))}</td></tr>"
        )
    return (
        '<table class="uk-table"><thead><tr><th>Started</th><th>Runbook</th><th>Status</th>'
        f"<th>Summary</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
