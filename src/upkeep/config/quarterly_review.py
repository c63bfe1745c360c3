"""Responsible for the `quarterly_review:` section of `upkeep.yml`: who owns the maintenance plan
(the quarterly review's proposed changes to the plan become backlog items assigned to them) and
how much the restore time may grow over a quarter before the review proposes a change."""

from __future__ import annotations

from dataclasses import dataclass

from upkeep.config.reader import Section

__all__ = ["QuarterlyReview", "read_quarterly_review"]

DEFAULT_PLAN_OWNER = "oncall-lead"  # the plan's role that reviews the plan


@dataclass(frozen=True)
class QuarterlyReview:
    """Who receives the plan's proposed changes, and when a slower restore is one."""

    plan_owner: str = DEFAULT_PLAN_OWNER
    restore_growth_percent: int = 50  # the last month's median restore time over the first's


def read_quarterly_review(section: Section | None) -> QuarterlyReview:
    if section is None:
        return QuarterlyReview()
    review = QuarterlyReview(
        plan_owner=section.str("plan_owner", DEFAULT_PLAN_OWNER).strip(),
        restore_growth_percent=section.int("restore_growth_percent", 50, minimum=1),
    )
    section.done()
    return review
