"""Responsible for the month's review as text a person reads (in the run report, where the
sanitizer shows Markdown as text, and from `upkeep review`): plain tables, times in the
configured time zone."""

from __future__ import annotations

from datetime import timedelta, tzinfo

from upkeep.review.evidence_pass import SHOWN_PROBLEMS
from upkeep.review.month import MonthReview


def _span(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:.1f} d" if hours >= 48 else f"{hours:.1f} h"


def evidence_lines(problems: tuple[str, ...] | None, unverified: int) -> list[str]:
    """What verifying the evidence found, under a review's first line: nothing when it
    verifies, else the problems (the first few) and the runs left uncounted."""
    if not problems:
        return []
    lines = [
        "",
        f"The evidence does not verify: {len(problems)} problem(s), `upkeep verify` names them"
        f" all. {unverified} run(s) here are shown as 'not verified', under no status:",
    ]
    lines += [f"  {message}" for message in problems[:SHOWN_PROBLEMS]]
    if len(problems) > SHOWN_PROBLEMS:
        lines.append(f"  ... and {len(problems) - SHOWN_PROBLEMS} more")
    return lines


def month_text(review: MonthReview, tz: tzinfo) -> str:
    """The whole review as text: runs, coverage, checks, findings, backlog, suggestions, log."""
    day = "%Y-%m-%d"
    start, end = review.start.astimezone(tz), review.end.astimezone(tz)
    lines = [
        f"Maintenance review {start:{day}} to {end:{day}}: "
        f"{review.runs} runs, {review.missed} scheduled run(s) missed",
        *evidence_lines(review.problems, review.unverified),
        "",
        "Runs per runbook (statuses) | scheduled runs (outcomes) | missed",
    ]
    for item in review.runbooks:
        counted = [f"{n} {s.value}" for s, n in sorted(item.statuses.items())]
        counted += [f"{item.unverified} not verified"] if item.unverified else []
        statuses = ", ".join(counted) or "none"
        outcomes = ", ".join(f"{n} {o.word}" for o, n in sorted(item.outcomes.items())) or "none"
        missed = ", ".join(f"{t:%m-%d %H:%M}" for t in item.missed) or "-"
        lines.append(f"  {item.runbook}: {statuses} | {outcomes} | {missed}")
    lines += ["", f"SLA attainment per severity: {review.sla}"]
    lines += ["", "Checks that failed or warned (how long they stayed so):"]
    for streak in review.streaks:
        until = (
            "still"
            if streak.cleared_at is None
            else f"cleared {streak.cleared_at.astimezone(tz):{day}}"
        )
        lines.append(
            f"  {streak.runbook} {streak.check}: {streak.worst.value} in {streak.runs} run(s) "
            f"since {streak.since.astimezone(tz):{day}}, {_span(streak.lasted)}, {until}"
        )
    if not review.streaks:
        lines.append("  none")
    lines += ["", "Findings cleared (time to clear):"]
    for state in review.cleared:
        assert state.closed is not None
        lines.append(
            f"  {state.runbook} {state.key}: {_span(state.closed.at - state.first_seen)} "
            f"({state.closed.how.value} by {state.closed.by})"
        )
    if not review.cleared:
        lines.append("  none")
    lines += ["", "Improvement backlog:"]
    for item in review.backlog:
        flags = " OVERDUE" if item.overdue(review.end.date()) else ""
        flags += f" REOPENED x{item.reopened}" if item.flagged else ""
        lines.append(
            f"  {item.id} [{item.state.word}] {item.runbook} {item.key}: {len(item.occurrences)} "
            f"occurrence(s) {item.first_seen.astimezone(tz):{day}}.."
            f"{item.last_seen.astimezone(tz):{day}}, "
            f"owner {item.owner or '-'}, due {item.due}{flags}"
        )
    if not review.backlog:
        lines.append("  empty")
    lines += ["", "Suggestions for the documentation review:"]
    lines += [f"  {s.subject}: {s.reason}" for s in review.suggestions] or ["  none"]
    lines += ["", "Maintenance log (this window):"]
    lines += [
        f"  {e.at.astimezone(tz):%Y-%m-%d %H:%M} {e.by} ({e.run_id}): {e.text}" for e in review.log
    ] or ["  no entry"]
    return "\n".join(lines)
