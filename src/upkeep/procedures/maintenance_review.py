"""Responsible for what the maintenance-review runbook does: read the evidence once, review the
month, show it (text and trend plots), and record the checks, metrics and summary."""

from __future__ import annotations

from datetime import UTC, datetime

from upkeep import registry, report
from upkeep.config import Config
from upkeep.evidence import EvidenceStore
from upkeep.records import Status
from upkeep.review.evidence_pass import EVIDENCE_CHECK, read_evidence, verification_check
from upkeep.review.month import MonthReview, review_month
from upkeep.review.text import month_text
from upkeep.review.trends import trend_png
from upkeep.units import counted


def review(config: Config, at: datetime | None = None) -> MonthReview:
    """The month before `at` (now by default) from the evidence under `config.evidence_dir`,
    verified as it is read (with the site build's caches under `config.state_dir`)."""
    moment = at or datetime.now(UTC)
    runbooks = registry.discover(config.runbooks_dir, config.root)
    store = EvidenceStore(config.evidence_dir)
    evidence = read_evidence(store, config.state_dir)
    return review_month(evidence, runbooks, config, moment)


def show(month: MonthReview, config: Config) -> None:
    print(month_text(month, config.tz))


def show_trends(month: MonthReview) -> int:
    """Display a PNG trend plot per metric that has values; returns how many."""
    from IPython.display import Image, display

    shown = 0
    for metric, series in month.trends.items():
        if series:
            display(Image(data=trend_png(metric, series), format="png"))
            shown += 1
    if not shown:
        print("no trend metric has a value in the window yet")
    return shown


def record(month: MonthReview, config: Config) -> None:
    """The review's checks, metrics and one-line summary (its day in the configured time zone,
    as the review's text shows its window)."""
    today = month.end.astimezone(config.tz).date()
    status, message = verification_check(month.problems)
    problems = len(month.problems or ())
    report.check(EVIDENCE_CHECK, status, value=problems, limit=0, message=message)
    missed = month.missed
    report.check(
        "maintenance-review:coverage",
        Status.WARN if missed else Status.OK,
        value=missed,
        limit=0,
        message=f"{missed} scheduled run(s) missed in the window"
        if missed
        else "every scheduled run accounted for",
    )
    overdue = month.overdue()
    report.check(
        "maintenance-review:backlog-overdue",
        Status.WARN if overdue else Status.OK,
        value=len(overdue),
        limit=0,
        message=", ".join(item.id for item in overdue) or "no backlog item is overdue",
    )
    reopened = [item for item in month.backlog if item.flagged and item.state.active]
    report.check(
        "maintenance-review:reopened",
        Status.WARN if reopened else Status.OK,
        value=len(reopened),
        limit=0,
        message=", ".join(f"{item.id} came back after done" for item in reopened)
        or "nothing marked done came back",
    )
    active = [item for item in month.backlog if item.state.active]
    report.metric("review_runs", month.runs)
    report.metric("review_missed_runs", missed)
    report.metric("review_backlog_active", len(active))
    report.metric("review_backlog_overdue", len(overdue))
    report.metric("review_findings_cleared", len(month.cleared))
    if month.cleared:
        hours = [
            (s.closed.at - s.first_seen).total_seconds() / 3600 for s in month.cleared if s.closed
        ]
        report.metric(
            "review_time_to_clear_hours_median", round(sorted(hours)[len(hours) // 2], 2), unit="h"
        )
    doubted = f", {month.unverified} whose evidence does not verify" if problems else ""
    report.summary(
        f"reviewed {month.runs} runs ({missed} missed{doubted}), "
        f"{counted(len(active), 'active backlog item')} "
        f"({len(overdue)} overdue), {counted(len(month.suggestions), 'docs suggestion')} "
        f"as of {today}"
    )
