"""Responsible for keeping the site's trend plots between builds: a plot is drawn again only when
what it shows changed (its metric, every point of every series, upkeep's and matplotlib's
versions). Otherwise the SVG drawn by the last build, kept under state_dir beside the key it was
drawn from, is used as it is, and a nightly build whose plots did not change does not import
matplotlib at all. A cache that cannot be read or written only costs the drawing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from importlib import metadata
from pathlib import Path

from upkeep import __version__, atomic
from upkeep.review.trends import Series

CACHE_DIR = "site/trends"  # under state_dir: never in the evidence, never published


def trend_svg_cached(state_dir: Path, page: str, metric: str, series: list[Series]) -> str:
    """`trends.trend_svg(metric, series)`, from the cache when it was drawn from the same data;
    `page` names the plot among the site's (one cached plot per page and metric)."""
    key = _key(metric, series)
    slot = hashlib.sha256(f"{page}\0{metric}".encode()).hexdigest()[:24]
    svg_path = state_dir / CACHE_DIR / f"{slot}.svg"
    key_path = state_dir / CACHE_DIR / f"{slot}.key"
    with contextlib.suppress(OSError, UnicodeDecodeError):
        if key_path.read_text(encoding="ascii") == key:
            return svg_path.read_text(encoding="utf-8")
    from upkeep.review.trends import trend_svg

    svg = trend_svg(metric, series)
    with contextlib.suppress(OSError):
        # The SVG first: a crash between the two leaves an old key, so it is drawn again.
        atomic.write_bytes(svg_path, svg.encode("utf-8"))
        atomic.write_bytes(key_path, key.encode("ascii"))
    return svg


def _key(metric: str, series: list[Series]) -> str:
    try:
        drawn_by = metadata.version("matplotlib")
    except metadata.PackageNotFoundError:
        drawn_by = ""
    shown = [
        [s.metric, s.runbook, s.labels, s.unit, [[t.isoformat(), v] for t, v in s.points]]
        for s in series
    ]
    data = json.dumps([__version__, drawn_by, metric, shown], default=str).encode()
    return hashlib.sha256(data).hexdigest()
