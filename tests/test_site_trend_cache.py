"""The site's trend plots are drawn again only when what they show changed, by the plot worker;
otherwise an earlier build's SVG is used. Real SVGs drawn by matplotlib under tmp_path."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from upkeep.review import plot_files, trends
from upkeep.review.plot_files import PlotWriter
from upkeep.review.trends import Series
from upkeep.site.trend_cache import CACHE_DIR, DRAWING_DIR, SitePlots, TrendPlot

START = datetime(2026, 11, 1, 3, tzinfo=UTC)
METRIC = "disk_used_percent"


def _series(values: list[float]) -> list[Series]:
    points = tuple((START + timedelta(days=day), value) for day, value in enumerate(values))
    return [Series(METRIC, "health-check", (("mount", "/"),), "%", points)]


def _plot(page: str, values: list[float]) -> TrendPlot:
    return TrendPlot(page, METRIC, _series(values), f"{page}/{METRIC}.svg")


def _not_here(folder: Path, plots: dict[str, tuple[str, list[Series]]]) -> list[Path]:
    raise AssertionError("drawn in the build's process, not the worker")


def _build(state_dir: Path, plots: list[TrendPlot]) -> tuple[int, list[str]]:
    """What a site build does with its plots: how many it drew, and each one's SVG."""
    site_plots = SitePlots(state_dir, plots, PlotWriter())
    try:
        sources = [site_plots.source(plot) for plot in plots]
        site_plots.finish()
        svgs = [s if isinstance(s, str) else s.read_text(encoding="utf-8") for s in sources]
    finally:
        site_plots.close()
    return site_plots.drawn, svgs


def test_a_plot_is_drawn_by_the_worker_once_and_again_only_when_a_point_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plot_files, "draw_svgs", _not_here)
    drawn, [first] = _build(tmp_path, [_plot("review", [40, 41, 43])])
    assert drawn == 1
    assert first.startswith("<?xml") and first == trends.trend_svg(METRIC, _series([40, 41, 43]))

    assert _build(tmp_path, [_plot("review", [40, 41, 43])]) == (0, [first])

    drawn, [changed] = _build(tmp_path, [_plot("review", [40, 41, 44])])
    assert drawn == 1 and changed != first
    # One cached plot per page and metric: the old one was replaced, not kept beside it.
    assert len(list((tmp_path / CACHE_DIR).glob("*.svg"))) == 1
    both = [_plot("review", [40, 41, 44]), _plot("quarter", [40, 41, 44])]
    assert _build(tmp_path, both) == (1, [changed, changed])
    assert len(list((tmp_path / CACHE_DIR).glob("*.svg"))) == 2


def test_the_drawn_files_are_removed_once_the_build_is_done(tmp_path: Path) -> None:
    site_plots = SitePlots(tmp_path, [_plot("review", [1, 2])], PlotWriter())
    source = site_plots.source(_plot("review", [1, 2]))
    assert isinstance(source, Path)
    assert source.parent.parent == tmp_path / DRAWING_DIR  # under state_dir, not /tmp
    assert source.parent.name.startswith(f"{os.getpid()}-")
    site_plots.finish()
    assert source.is_file()
    site_plots.close()
    assert not source.parent.exists()


def test_a_killed_builds_drawn_files_are_removed_by_the_next_build_once_it_is_gone(
    tmp_path: Path,
) -> None:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead = tmp_path / DRAWING_DIR / f"{int(gone.stdout)}-abc123"
    running = tmp_path / DRAWING_DIR / "1-def456"  # pid 1 runs: a build still drawing
    other = tmp_path / DRAWING_DIR / "notes"  # not a build's folder
    huge = tmp_path / DRAWING_DIR / f"{10**30}-x"  # no process id: left alone, no crash
    digits = tmp_path / DRAWING_DIR / "\u00b2\u00b3-x"  # digits to isdigit(), not to int()
    for folder in (dead, running, other, huge, digits):
        folder.mkdir(parents=True)
        (folder / "x.svg").write_text("<svg/>")

    assert _build(tmp_path, [_plot("review", [1, 2])])[0] == 1

    assert not dead.exists()
    assert (running / "x.svg").is_file() and (other / "x.svg").is_file()
    kept = {"1-def456", "notes", huge.name, digits.name}
    assert {p.name for p in (tmp_path / DRAWING_DIR).iterdir()} == kept


def test_a_build_that_fails_before_its_plots_are_collected_stops_the_worker(
    tmp_path: Path,
) -> None:
    writer = PlotWriter()
    worker = writer._worker
    assert worker is not None
    site_plots = SitePlots(tmp_path, [_plot("review", [1, 2])], writer)
    site_plots.close()  # the build failed: on_build_error
    assert worker.poll() is not None
    assert not list(tmp_path.glob(f"{CACHE_DIR}/*.svg"))


def test_a_cache_that_cannot_be_written_still_gives_the_plot(tmp_path: Path) -> None:
    (tmp_path / "site").write_text("a file where the cache's folder would be")
    assert _build(tmp_path, [_plot("review", [1, 2])]) == (
        1,
        [trends.trend_svg(METRIC, _series([1, 2]))],
    )
    assert _build(tmp_path, [_plot("review", [1, 2])])[0] == 1  # drawn again: nothing kept
