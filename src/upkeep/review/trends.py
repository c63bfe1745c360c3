"""Responsible for the trend plots of the maintenance review: the values a metric took over the
window, one line per runbook and label set, drawn by matplotlib's SVG backend with its text as
paths (no font to fetch, no script: readable anywhere), and as PNG where only a bitmap is shown
(the run report keeps images, never SVG markup). A plot draws at most MAX_LINES lines."""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the plot worker imports this module and draws, never reads the evidence
    from upkeep.findings import RunEvent


@dataclass(frozen=True)
class Series:
    """One line of a trend plot: a metric of one runbook with one label set, oldest first."""

    metric: str
    runbook: str
    labels: tuple[tuple[str, str], ...]
    unit: str
    points: tuple[tuple[datetime, float], ...]

    @property
    def name(self) -> str:
        labels = ",".join(f"{k}={v}" for k, v in self.labels)
        return f"{self.runbook} {labels}".strip()


def collect_series(
    runs: Iterable[RunEvent], metrics: Iterable[str], start: datetime, end: datetime
) -> dict[str, list[Series]]:
    """The series of each metric in `metrics` from the runs that started in [start, end)."""
    wanted = set(metrics)
    points: dict[tuple[str, str, tuple[tuple[str, str], ...]], list[tuple[datetime, float]]] = {}
    units: dict[str, str] = {}
    for run in runs:
        if not start <= run.at < end:
            continue
        for metric in run.record.metrics:
            if metric.name in wanted:
                where = (metric.name, run.runbook, tuple(sorted(metric.labels.items())))
                points.setdefault(where, []).append((run.at, metric.value))
                units.setdefault(metric.name, metric.unit)
    series: dict[str, list[Series]] = {name: [] for name in metrics}
    for (name, runbook, labels), values in sorted(points.items()):
        series[name].append(Series(name, runbook, labels, units[name], tuple(sorted(values))))
    return series


MAX_LINES = 8  # more lines than this are unreadable: the ones highest at the end are drawn
# A line of more points than this is drawn without a marker on each: the points are too close
# to tell apart, and every marker is an element of its own in the SVG (half its bytes, and
# time to write them, for a quarter of daily runs).
MARKED_POINTS = 45


def drawn(series: list[Series]) -> list[Series]:
    """The series a plot draws: at most MAX_LINES, the highest last values first."""
    if len(series) <= MAX_LINES:
        return series
    return sorted(series, key=lambda line: -line.points[-1][1])[:MAX_LINES]


def _figure(metric: str, series: list[Series]):  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 2.6), dpi=96)
    axes = figure.add_subplot()
    for line in drawn(series):
        marker = "." if len(line.points) <= MARKED_POINTS else None
        axes.plot(
            [t for t, _ in line.points], [v for _, v in line.points], marker=marker, label=line.name
        )
    unit = series[0].unit if series else ""
    shown = "" if len(series) <= MAX_LINES else f", the {MAX_LINES} highest of {len(series)}"
    axes.set_title(metric + (f" ({unit})" if unit else "") + shown, fontsize=10)
    locator = AutoDateLocator()
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    axes.grid(True, alpha=0.3)
    if series:
        axes.legend(fontsize=7, loc="upper left")
    # Fixed margins: tight_layout would draw the figure once more just to measure it.
    figure.subplots_adjust(left=0.09, right=0.98, top=0.88, bottom=0.16)
    return figure


def trend_svg(metric: str, series: list[Series]) -> str:
    """The trend plot of `metric` as a standalone SVG document, text drawn as paths."""
    import matplotlib

    figure = _figure(metric, series)
    out = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": "upkeep"}):
        figure.savefig(out, format="svg", metadata={"Date": None})
    return out.getvalue()


def trend_png(metric: str, series: list[Series]) -> bytes:
    """The same plot as PNG, for the run report."""
    out = io.BytesIO()
    _figure(metric, series).savefig(out, format="png")
    return out.getvalue()
