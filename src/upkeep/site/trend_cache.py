"""Responsible for keeping the site's trend plots between builds: a plot is drawn again only when
what it shows changed (its metric, every point of every series, upkeep's and matplotlib's
versions). Otherwise the SVG drawn by the last build, kept under state_dir beside the key it was
drawn from, is used as it is, and the build's process never imports matplotlib. The plots that
did change are drawn together by a `PlotWriter` worker (`draw_missing`), which imported
matplotlib on another core while the build read the evidence. A cache that cannot be read or
written only costs the drawing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import tempfile
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from upkeep import __version__, atomic
from upkeep.review.plot_files import PlotWriter
from upkeep.review.trends import Series

CACHE_DIR = "site/trends"  # under state_dir: never in the evidence, never published


def trend_svg_cached(state_dir: Path, page: str, metric: str, series: list[Series]) -> str:
    """`trends.trend_svg(metric, series)`, from the cache when it was drawn from the same data;
    `page` names the plot among the site's (one cached plot per page and metric)."""
    key, slot = _key(metric, series), _slot(page, metric)
    svg = _cached(state_dir, slot, key)
    if svg is not None:
        return svg
    from upkeep.review.trends import trend_svg

    svg = trend_svg(metric, series)
    _keep(state_dir, slot, key, svg)
    return svg


def draw_missing(
    state_dir: Path, plots: Iterable[tuple[str, str, list[Series]]], writer: PlotWriter
) -> int:
    """Draw, in one batch on `writer`, each (page, metric, series) of `plots` that the cache
    does not hold as it is, and keep it in the cache; how many were drawn. `trend_svg_cached`
    then finds them there (or draws one itself, when the cache could not be written)."""
    missing: dict[str, tuple[str, str, list[Series]]] = {}
    for page, metric, series in plots:
        key, slot = _key(metric, series), _slot(page, metric)
        if series and _cached(state_dir, slot, key) is None:
            missing[slot] = (key, metric, series)
    if not missing:
        return 0
    with tempfile.TemporaryDirectory(prefix="upkeep-trends-") as folder:
        drawn = writer.draw(
            Path(folder), {slot: (metric, series) for slot, (_, metric, series) in missing.items()}
        )
        for path in drawn:
            _keep(state_dir, path.stem, missing[path.stem][0], path.read_text(encoding="utf-8"))
    return len(missing)


def _slot(page: str, metric: str) -> str:
    return hashlib.sha256(f"{page}\0{metric}".encode()).hexdigest()[:24]


def _cached(state_dir: Path, slot: str, key: str) -> str | None:
    with contextlib.suppress(OSError, UnicodeDecodeError):
        if (state_dir / CACHE_DIR / f"{slot}.key").read_text(encoding="ascii") == key:
            return (state_dir / CACHE_DIR / f"{slot}.svg").read_text(encoding="utf-8")
    return None


def _keep(state_dir: Path, slot: str, key: str, svg: str) -> None:
    with contextlib.suppress(OSError):
        # The SVG first: a crash between the two leaves an old key, so it is drawn again.
        atomic.write_bytes(state_dir / CACHE_DIR / f"{slot}.svg", svg.encode("utf-8"))
        atomic.write_bytes(state_dir / CACHE_DIR / f"{slot}.key", key.encode("ascii"))


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
