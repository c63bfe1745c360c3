"""Responsible for what the review suggests to the documentation review: runbooks whose checks
failed in `recurring_runs` or more consecutive runs on one unchanged runbook version while none
of the docs pages it references changed either (the steps did not help, or nobody changed them),
and the docs pages that failing runbooks reference."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from upkeep.records import Status
from upkeep.review.streaks import CheckStreak


@dataclass(frozen=True)
class DocsSuggestion:
    subject: str  # a runbook name or a docs page
    reason: str


def suggest(
    streaks: Iterable[CheckStreak],
    references: Mapping[str, tuple[str, ...]],
    recurring_runs: int,
    page_changed: Callable[[str], datetime | None] = lambda page: None,
) -> list[DocsSuggestion]:
    """Suggestions from the month's check streaks; `references` maps runbook names to the docs
    pages their metadata references, `page_changed` says when a page last changed (None: not
    known)."""
    suggestions: list[DocsSuggestion] = []
    failing: dict[str, list[str]] = {}
    for streak in streaks:
        if streak.worst is not Status.FAIL:
            continue
        failing.setdefault(streak.runbook, []).append(streak.check)
        if streak.runs < recurring_runs or len(streak.runbook_versions) != 1:
            continue
        pages = references.get(streak.runbook, ())
        changes = {page: page_changed(page) for page in pages}
        if any(when is not None and when > streak.since for when in changes.values()):
            continue  # its docs changed since it began failing: give the change a chance
        unknown = sorted(page for page, when in changes.items() if when is None)
        docs = (
            f"; whether {', '.join(unknown)} changed is not known (no git history)"
            if unknown
            else (f" or to {', '.join(pages)}" if pages else "")
        )
        version = next(iter(streak.runbook_versions))[:12] or "unknown"
        suggestions.append(
            DocsSuggestion(
                streak.runbook,
                f"check {streak.check} failed in {streak.runs} runs in a row since "
                f"{streak.since:%Y-%m-%d} without a change to the runbook (version {version})"
                f"{docs}: review its steps and triage table",
            )
        )
    pages: dict[str, list[str]] = {}
    for runbook in sorted(failing):
        for page in references.get(runbook, ()):
            pages.setdefault(page, []).append(runbook)
    for page, runbooks in sorted(pages.items()):
        suggestions.append(
            DocsSuggestion(page, f"referenced by failing runbook(s) {', '.join(runbooks)}")
        )
    return suggestions
