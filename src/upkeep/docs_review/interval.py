"""Responsible for a review interval as written in front matter and runbook metadata: `<N>d`,
a whole number of days, e.g. `"365d"`."""

from __future__ import annotations

import re
from datetime import timedelta

_DAYS = re.compile(r"([1-9][0-9]{0,4})d")


def parse_review_every(value: object) -> timedelta:
    """`"365d"` as 365 days; ValueError saying what was expected."""
    match = _DAYS.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f'expected a number of days such as "365d", got {value!r}')
    return timedelta(days=int(match.group(1)))


def format_review_every(interval: timedelta) -> str:
    return f"{interval.days}d"
