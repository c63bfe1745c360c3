"""The trend plots of the reviews (upkeep.review.trends): real SVGs drawn by matplotlib."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from upkeep.review.trends import MARKED_POINTS, Series, trend_svg

START = datetime(2026, 10, 1, 3, tzinfo=UTC)
# A point's marker is defined once (<path id="m...">) and placed at each point with a filled
# <use>; tick marks are unfilled <use>s, glyphs of text drawn as paths <use>s of "#DejaVu...".
MARKER_USE = re.compile(r'<use xlink:href="#m[0-9a-f]+" x="[^"]*" y="[^"]*" style="fill: ')


def _series(runbook: str, count: int) -> Series:
    points = tuple((START + timedelta(days=day), 40.0 + day % 7) for day in range(count))
    return Series("disk_used_percent", runbook, (("mount", "/"),), "%", points)


def test_a_long_line_is_drawn_without_a_marker_per_point_a_short_one_with() -> None:
    svg = trend_svg("disk_used_percent", [_series("weekly", 13), _series("daily", 92)])
    # The weekly line: one marker per point, and one in its legend entry; the daily line none.
    assert len(MARKER_USE.findall(svg)) == 13 + 1
    assert 13 <= MARKED_POINTS < 92
