"""Responsible for what the review suggests to the documentation review: runbooks whose checks
failed in `recurring_runs` or more consecutive runs on one unchanged runbook version (the steps
did not help, or nobody changed them), and the docs pages that failing runbooks reference."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from upkeep.records import Status
from upkeep.review.streaks import CheckStreak


@dataclass(frozen=True)
class DocsSuggestion:
    subject: str  # a runbook name or a docs page
    reason: str


def suggest(
    streaks: Iterable[CheckStreak], references: Mapping[str, tuple[str, ...]], recurring_runs: int
) -> list[DocsSuggestion]:
    """Suggestions from the month's check streaks; `references` maps runbook names to the docs
    pages their metadata references."""
    suggestions: list[DocsSuggestion] = []
    failing: dict[str, list[str]] = {}
    for streak in streaks:
        if streak.worst is not Status.FAIL:
            continue
        failing.setdefault(streak.runbook, []).append(streak.check)
        if streak.runs >= recurring_runs and len(streak.runbook_versions) == 1:
            suggestions.append(
                DocsSuggestion(
                    streak.runbook,
                    f"check {streak.check} failed in {streak.runs} runs in a row since "
                    f"{streak.since:%Y-%m-%d} without a change to the runbook "
                    f"(version {next(iter(streak.runbook_versions))[:12] or 'unknown'}): "
                    "review its steps and triage table",
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
