"""Responsible for the `maintenance_review:` section of `upkeep.yml`: the window the monthly
review looks back over, how many runs make a finding recurring (and open a backlog item), how long
a new backlog item has until it is due, and which metrics get a trend plot."""

from __future__ import annotations

import re
from dataclasses import dataclass

from upkeep.config.reader import Section

__all__ = ["MaintenanceReview", "read_maintenance_review"]

DEFAULT_TREND_METRICS = (
    "disk_used_percent",
    "log_error_lines",
    "backup_size_bytes",
    "backup_duration_seconds",
    "backup_restore_seconds",
    "load_per_cpu",
)
# A trend metric's name is also the name of its plot's file (`<name>.svg`, in the site and in
# `upkeep review --plots DIR`): no separator, no leading dot.
MAX_WINDOW_DAYS = 3660  # ten years: the evidence a review can be asked to read
_TREND_METRIC = re.compile(r"[A-Za-z0-9_:][A-Za-z0-9_.:-]*")


@dataclass(frozen=True)
class MaintenanceReview:
    """What the maintenance review looks at, and when a finding becomes a backlog item."""

    window_days: int = 30
    recurring_runs: int = 3  # runs reporting one fingerprint within the window
    backlog_due_days: int = 30  # a new backlog item is due this long after it opened
    trend_metrics: tuple[str, ...] = DEFAULT_TREND_METRICS


def read_maintenance_review(section: Section | None) -> MaintenanceReview:
    if section is None:
        return MaintenanceReview()
    review = MaintenanceReview(
        window_days=section.int("window_days", 30, minimum=1, maximum=MAX_WINDOW_DAYS),
        recurring_runs=section.int("recurring_runs", 3, minimum=2),
        backlog_due_days=section.int("backlog_due_days", 30, minimum=1),
        trend_metrics=_trend_metrics(section),
    )
    section.done()
    return review


def _trend_metrics(section: Section) -> tuple[str, ...]:
    names = section.strings("trend_metrics", DEFAULT_TREND_METRICS)
    for name in names:
        if not _TREND_METRIC.fullmatch(name):
            section.fail(
                "trend_metrics",
                "metric names (letters, digits, _ : . -; not starting with a dot)",
                name,
            )
    return names
