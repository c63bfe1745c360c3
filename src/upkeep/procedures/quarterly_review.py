"""Responsible for what the quarterly-review runbook does: read the evidence once, review the
quarter, show it (text, links to the monthly reviews it drew on, trend plots), and record its
checks, metrics, summary and the proposed changes to the plan (findings keyed `plan:...`, which
the backlog turns into items for the plan's owner)."""

from __future__ import annotations

from datetime import UTC, datetime

from upkeep import registry
from upkeep.config import Config
from upkeep.evidence import EvidenceStore, run_relpath
from upkeep.records import Severity, Status
from upkeep.review.evidence_pass import EVIDENCE_CHECK, read_evidence, verification_check
from upkeep.review.quarter import QuarterReview, review_quarter
from upkeep.review.quarter_text import quarter_text
from upkeep.review.trends import trend_png
from upkeep.units import counted


def review(config: Config, at: datetime | None = None) -> QuarterReview:
    """The three months before `at` (now by default) from the evidence under
    `config.evidence_dir`, verified as it is read (with the site build's caches under
    `config.state_dir`)."""
    moment = at or datetime.now(UTC)
    runbooks = registry.discover(config.runbooks_dir, config.root)
    evidence = read_evidence(EvidenceStore(config.evidence_dir), config.state_dir)
    return review_quarter(evidence, runbooks, config, moment)


def show(quarter: QuarterReview, config: Config) -> None:
    print(quarter_text(quarter, config.tz))


def show_monthly_reviews(quarter: QuarterReview, config: Config) -> None:
    """Each monthly review the quarter draws on, with where its report is kept."""
    for monthly in quarter.monthly_reviews:
        folder = config.evidence_dir / run_relpath(monthly.run_id, monthly.at.isoformat())
        print(f"{monthly.run_id}: {monthly.summary or monthly.status.value}")
        print(f"  report: {folder / 'report.html'}")
    if not quarter.monthly_reviews:
        print("no monthly maintenance review ran in the quarter")


def show_trends(quarter: QuarterReview) -> int:
    """Display a PNG trend plot per metric that has values over the quarter; returns how many."""
    from IPython.display import Image, display

    shown = 0
    for metric, series in quarter.trends.items():
        if series:
            display(Image(data=trend_png(metric, series), format="png"))
            shown += 1
    if not shown:
        print("no trend metric has a value in the quarter yet")
    return shown


def record(quarter: QuarterReview) -> None:
    """The review's checks, metrics, proposals and one-line summary."""
    # Here: `upkeep review --quarter` records nothing, and upkeep.report pulls in the secret
    # scanner (detect_secrets, requests) for its masking.
    from upkeep import report

    status, message = verification_check(quarter.problems)
    problems = len(quarter.problems or ())
    report.check(EVIDENCE_CHECK, status, value=problems, limit=0, message=message)
    reviews = len(quarter.monthly_reviews)
    drawn_on = ", ".join(monthly.run_id for monthly in quarter.monthly_reviews)
    report.check(
        "quarterly-review:monthly-reviews",
        Status.OK if reviews >= 3 else Status.WARN,
        value=reviews,
        limit=3,
        message=f"{reviews} of 3 monthly maintenance reviews ran in the quarter"
        + (f": {drawn_on}" if drawn_on else ""),
    )
    failing = quarter.failed_every_month
    report.check(
        "quarterly-review:failed-every-month",
        Status.WARN if failing else Status.OK,
        value=len(failing),
        limit=0,
        message=", ".join(item.runbook for item in failing) or "no runbook failed every month",
    )
    flow = quarter.flow
    report.metric("quarter_runs", quarter.runs)
    report.metric("quarter_monthly_reviews", reviews)
    report.metric("quarter_backlog_opened", len(flow.opened))
    report.metric("quarter_backlog_closed", len(flow.closed))
    report.metric("quarter_backlog_reopened", len(flow.reopened))
    report.metric("quarter_backlog_overdue", len(flow.overdue))
    report.metric("quarter_runbooks_never_failed", len(quarter.never_failed))
    report.metric("quarter_runbooks_failed_every_month", len(failing))
    report.metric("quarter_plan_proposals", len(quarter.proposals))
    for proposal in quarter.proposals:
        report.finding(proposal.key, proposal.message, severity=Severity.INFO)
    drills = (
        "no drill this quarter" if not quarter.drills else counted(len(quarter.drills), "drill")
    )
    doubted = f" ({quarter.unverified} more whose evidence does not verify)" if problems else ""
    report.summary(
        f"reviewed {quarter.start:%Y-%m-%d} to {quarter.end:%Y-%m-%d}: {quarter.runs} runs"
        f"{doubted}, "
        f"{reviews} of 3 monthly reviews, backlog {len(flow.opened)} opened / "
        f"{len(flow.closed)} closed / {len(flow.overdue)} overdue, {drills}, "
        f"{counted(len(quarter.proposals), 'proposed change')} to the plan"
    )
