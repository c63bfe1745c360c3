"""Responsible for the site's trend plots of one build, kept between builds: a plot is drawn again
only when what it shows changed (its metric, every point of every series, upkeep's and
matplotlib's versions). Otherwise the SVG drawn by an earlier build, kept under state_dir beside
the key it was drawn from, is used as it is, and the build's process never imports matplotlib.

The plots that did change are handed in one batch to a `PlotWriter` worker, which imported
matplotlib on another core while the build read the evidence, and drawn while the build turns
its pages' Markdown into HTML: `SitePlots.source` gives the file each one is being drawn to, and
`finish` (before MkDocs copies the site's files) waits for them and keeps them in the cache. A
cache that cannot be read or written only costs the drawing.

The files are drawn into a folder of the build's own under state_dir (`DRAWING_DIR`, named
after the build's process id), removed when the build ends; a build that was killed leaves its
folder there, and the next build removes it once no process of that id runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from importlib import metadata
from pathlib import Path
from typing import NamedTuple

from upkeep import __version__, atomic
from upkeep.review.plot_files import PlotWriter
from upkeep.review.trends import Series

CACHE_DIR = "site/trends"  # under state_dir: never in the evidence, never published
DRAWING_DIR = "site/trends-drawing"  # under state_dir: <pid>-<random>/ of each build drawing


class TrendPlot(NamedTuple):
    """One plot of a page: `page` and `metric` name it among the site's (one cached plot per
    page and metric), `uri` is where the site has it."""

    page: str
    metric: str
    series: list[Series]
    uri: str


def trend_plots(page: str, folder: str, trends: dict[str, list[Series]]) -> list[TrendPlot]:
    """A page's plots: one per metric of `trends` that has a series, as `folder`/<metric>.svg."""
    return [
        TrendPlot(page, metric, series, f"{folder}/{metric}.svg")
        for metric, series in trends.items()
        if series
    ]


class SitePlots:
    """The build's trend plots: each one's SVG from the cache, or the file a worker draws it to.

    Made once the evidence is read, with the `PlotWriter` started before; `finish` once the
    drawn files are needed, `close` in any case (it stops a worker not waited for and removes
    the files it drew, kept in the cache by then)."""

    def __init__(self, state_dir: Path, plots: list[TrendPlot], writer: PlotWriter) -> None:
        self.state_dir = state_dir
        self.plots = plots
        self._writer = writer
        self._cached: dict[str, str] = {}  # slot: the SVG
        self._missing: dict[str, tuple[str, TrendPlot]] = {}  # slot: (its key, the plot)
        for plot in plots:
            key, slot = _key(plot.metric, plot.series), _slot(plot.page, plot.metric)
            svg = _cached(state_dir, slot, key)
            if svg is not None:
                self._cached[slot] = svg
            else:
                self._missing[slot] = (key, plot)
        self._folder: Path | None = None
        if self._missing:
            self._folder = _drawing_folder(state_dir)
            writer.send(
                self._folder,
                {slot: (plot.metric, plot.series) for slot, (_, plot) in self._missing.items()},
            )
        else:
            writer.close()  # nothing to draw: the worker is not needed

    @property
    def drawn(self) -> int:
        """How many plots this build draws (their data changed since they were kept)."""
        return len(self._missing)

    def source(self, plot: TrendPlot) -> str | Path:
        """The plot's SVG when it was kept, else the file it is being drawn to."""
        slot = _slot(plot.page, plot.metric)
        if slot in self._cached:
            return self._cached[slot]
        assert self._folder is not None and slot in self._missing, "not a plot of this build"
        return self._folder / f"{slot}.svg"

    def finish(self) -> None:
        """Wait for the plots being drawn (drawn here when the worker failed) and keep them."""
        if not self._missing:
            return
        for path in self._writer.collect():
            key, _ = self._missing[path.stem]
            _keep(self.state_dir, path.stem, key, path.read_text(encoding="utf-8"))

    def close(self) -> None:
        self._writer.close()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None


def _drawing_folder(state_dir: Path) -> Path:
    """A new private folder for this build's drawn plots: under state_dir, where the folders of
    builds whose process is gone are removed first; under the system's temporary folder when
    state_dir cannot take it."""
    parent = state_dir / DRAWING_DIR
    try:
        parent.mkdir(parents=True, exist_ok=True)
        for left in parent.iterdir():
            pid = left.name.partition("-")[0]
            if pid.isascii() and pid.isdigit() and not _running(int(pid)):
                shutil.rmtree(left, ignore_errors=True)  # never follows a link
        return Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=parent))
    except OSError:
        return Path(tempfile.mkdtemp(prefix="upkeep-trends-"))


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # another user's process; a number no process has: not ours to remove
    return True


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
