"""The site's trend plots are drawn again only when what they show changed; otherwise the last
build's SVG is used. Real SVGs drawn by matplotlib under tmp_path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from upkeep.review import plot_files, trends
from upkeep.review.plot_files import PlotWriter
from upkeep.review.trends import Series
from upkeep.site.trend_cache import CACHE_DIR, draw_missing, trend_svg_cached

START = datetime(2026, 11, 1, 3, tzinfo=UTC)


def _series(values: list[float]) -> list[Series]:
    points = tuple((START + timedelta(days=day), value) for day, value in enumerate(values))
    return [Series("disk_used_percent", "health-check", (("mount", "/"),), "%", points)]


def _no_drawing(metric: str, series: list[Series]) -> str:
    raise AssertionError("drawn again although nothing it shows changed")


def test_a_plot_is_drawn_once_and_again_only_when_a_point_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = trend_svg_cached(tmp_path, "review", "disk_used_percent", _series([40, 41, 43]))
    assert first.startswith("<?xml") and first == trends.trend_svg(
        "disk_used_percent", _series([40, 41, 43])
    )
    monkeypatch.setattr(trends, "trend_svg", _no_drawing)
    assert trend_svg_cached(tmp_path, "review", "disk_used_percent", _series([40, 41, 43])) == first
    monkeypatch.undo()

    changed = trend_svg_cached(tmp_path, "review", "disk_used_percent", _series([40, 41, 44]))
    assert changed != first
    # One cached plot per page and metric: the old one was replaced, not kept beside it.
    assert len(list((tmp_path / CACHE_DIR).glob("*.svg"))) == 1
    other_page = trend_svg_cached(tmp_path, "quarter", "disk_used_percent", _series([40, 41, 44]))
    assert other_page == changed
    assert len(list((tmp_path / CACHE_DIR).glob("*.svg"))) == 2


def test_a_cache_that_cannot_be_written_still_gives_the_plot(tmp_path: Path) -> None:
    (tmp_path / "site").write_text("a file where the cache's folder would be")
    svg = trend_svg_cached(tmp_path, "review", "disk_used_percent", _series([1, 2]))
    assert svg == trends.trend_svg("disk_used_percent", _series([1, 2]))


def test_the_plots_whose_data_changed_are_drawn_by_the_worker_and_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = trend_svg_cached(tmp_path, "review", "disk_used_percent", _series([40, 41]))
    wanted = [
        ("review", "disk_used_percent", _series([40, 41])),  # unchanged: not drawn again
        ("quarter", "disk_used_percent", _series([40, 41, 42])),
        ("quarter", "load", []),  # nothing to plot
    ]

    def _not_here(folder: Path, plots: dict[str, tuple[str, list[Series]]]) -> list[Path]:
        raise AssertionError("drawn in the build's process, not the worker")

    monkeypatch.setattr(plot_files, "draw_svgs", _not_here)
    with PlotWriter() as writer:
        assert draw_missing(tmp_path, wanted, writer) == 1
    monkeypatch.setattr(trends, "trend_svg", _no_drawing)
    assert trend_svg_cached(tmp_path, "review", "disk_used_percent", _series([40, 41])) == kept
    drawn = trend_svg_cached(tmp_path, "quarter", "disk_used_percent", _series([40, 41, 42]))
    monkeypatch.undo()
    assert drawn == trends.trend_svg("disk_used_percent", _series([40, 41, 42]))
    with PlotWriter() as writer:
        assert draw_missing(tmp_path, wanted, writer) == 0
