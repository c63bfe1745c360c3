"""Responsible for the quarter's review as text a person reads (in the run report, where the
sanitizer shows Markdown as text): plain tables, times in the configured time zone."""

from __future__ import annotations

from datetime import datetime, tzinfo

from upkeep.review.quarter import MONTHLY_FIGURES, QuarterReview, RunbookQuarter
from upkeep.review.text import evidence_lines

_FIGURE_WORDS = {
    "review_runs": "runs",
    "review_missed_runs": "missed",
    "review_backlog_active": "backlog active",
    "review_backlog_overdue": "backlog overdue",
    "review_findings_cleared": "findings cleared",
    "review_time_to_clear_hours_median": "median time to clear (h)",
}


def month_label(start: datetime, end: datetime) -> str:
    """`2026-10` for a calendar month, `10-05..11-05` for a month that starts on another day."""
    if (start.day, start.hour, start.minute) == (1, 0, 0):
        return f"{start:%Y-%m}"
    return f"{start:%m-%d}..{end:%m-%d}"


def _month_cells(item: RunbookQuarter) -> str:
    cells = []
    unverified = item.unverified or (0,) * len(item.statuses)
    for statuses, missed, doubted in zip(item.statuses, item.missed, unverified, strict=True):
        counted = [f"{n} {s.value}" for s, n in sorted(statuses.items())]
        counted += [f"{doubted} not verified"] if doubted else []
        text = ", ".join(counted) or "no run"
        cells.append(text + (f", {missed} missed" if missed else ""))
    return " | ".join(cells)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:g} s"


def quarter_text(review: QuarterReview, tz: tzinfo) -> str:
    """The whole quarter as text: monthly reviews, runbooks by month, backlog flow, SLA,
    RTO/RPO, restore times and the proposed changes to the plan."""
    day = "%Y-%m-%d"
    months = [month_label(start.astimezone(tz), end.astimezone(tz)) for start, end in review.months]
    lines = [
        f"Quarterly review {review.start.astimezone(tz):{day}} to "
        f"{review.end.astimezone(tz):{day}}: {review.runs} runs, "
        f"{len(review.monthly_reviews)} of 3 monthly reviews",
        *evidence_lines(review.problems, review.unverified),
        "",
        "Monthly reviews drawn on (their recorded figures):",
    ]
    for monthly in review.monthly_reviews:
        figures = ", ".join(
            f"{_FIGURE_WORDS[name]} {monthly.figures[name]:g}"
            for name in MONTHLY_FIGURES
            if name in monthly.figures
        )
        lines.append(
            f"  {monthly.run_id} ({monthly.at.astimezone(tz):{day}}, {monthly.status.value}): "
            f"{figures or 'no figures recorded'}"
        )
    if not review.monthly_reviews:
        lines.append("  none: no monthly maintenance review ran in the quarter")
    lines += ["", f"Runbooks month by month ({' | '.join(months)}):"]
    lines += [f"  {item.runbook}: {_month_cells(item)}" for item in review.runbooks] or ["  none"]
    never = ", ".join(item.runbook for item in review.never_failed) or "none"
    always = ", ".join(item.runbook for item in review.failed_every_month) or "none"
    lines += [
        "",
        f"Never warned or failed (ran every month; are their checks meaningful?): {never}",
        f"Failed every month (is the runbook or the system wrong?): {always}",
        "",
        "Backlog flow over the quarter:",
    ]
    flow = review.flow
    for label, items in (
        ("opened", flow.opened),
        ("closed", flow.closed),
        ("reopened", flow.reopened),
        ("overdue at the end", flow.overdue),
    ):
        ids = ", ".join(item.id for item in items) or "-"
        lines.append(f"  {label}: {len(items)} ({ids})")
    lines.append(f"  active at the end: {flow.active}")
    lines += ["", f"SLA attainment per severity: {review.sla}", "", "Disaster drills (RTO/RPO):"]
    for drill in review.drills:
        lines.append(
            f"  {drill.run_id} ({drill.runbook}, {drill.at.astimezone(tz):{day}}): "
            f"RTO {_seconds(drill.rto_seconds)}, RPO {_seconds(drill.rpo_seconds)}"
        )
    if not review.drills:
        lines.append("  no drill this quarter")
    lines += ["", f"Restore time, monthly median ({' | '.join(months)}):"]
    for trend in review.restore:
        medians = " | ".join(_seconds(value) for value in trend.medians)
        lines.append(f"  {trend.series.name}: {medians}")
    if not review.restore:
        lines.append("  no restore measured this quarter")
    lines += ["", "Proposed changes to the plan (backlog items for the plan's owner):"]
    lines += [f"  {p.key}: {p.message}" for p in review.proposals] or ["  none"]
    return "\n".join(lines)
