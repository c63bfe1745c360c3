"""Responsible for writing a review's trend plots as SVG files (`upkeep review --plots DIR`) from a
worker process started before the evidence is read: the worker imports matplotlib (about a second
of CPU, as long as reading a quarter of evidence) on another core meanwhile, then draws the series
it is sent as JSON on its stdin. It ends when its stdin closes, so it never outlives the command;
when it cannot start or fails, the plots are drawn in this process, as they were before."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from upkeep.review.trends import Series, trend_svg


class PlotWriter:
    """Start it before reading the evidence (`with PlotWriter() as plots:`); `write` the plots
    once the review is known, or `send` them and `collect` them later (the site build does
    other work between the two)."""

    def __init__(self) -> None:
        self._worker: subprocess.Popen[bytes] | None = None
        self._asked: tuple[Path, dict[str, tuple[str, list[Series]]]] | None = None
        if not sys.executable:  # an embedded interpreter: nothing to start
            return
        # One BLAS thread: numpy starts one per core otherwise, for nothing a plot computes.
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
        # -P: the working directory is not searched for modules. Its own session: Ctrl-C stops
        # the command, which closes the worker's stdin. One that cannot start: drawn here.
        with contextlib.suppress(OSError):
            self._worker = subprocess.Popen(
                [sys.executable, "-P", "-m", __name__],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                env=env,
            )

    def write(self, folder: Path, trends: dict[str, list[Series]]) -> list[Path]:
        """Write `folder`/<metric>.svg for each metric that has a series; the paths written."""
        return self.draw(folder, {metric: (metric, s) for metric, s in trends.items() if s})

    def draw(self, folder: Path, plots: dict[str, tuple[str, list[Series]]]) -> list[Path]:
        """Write `folder`/<name>.svg of each `name: (metric, series)`; the paths written, in
        order. Once: the worker draws one batch, then ends."""
        self.send(folder, plots)
        return self.collect()

    def send(self, folder: Path, plots: dict[str, tuple[str, list[Series]]]) -> None:
        """Hand the worker what `draw` would (once), without waiting for it: `collect` does."""
        if self._asked is not None:
            raise RuntimeError("a PlotWriter draws one batch of plots")
        self._asked = (folder, plots)
        if self._worker is not None and self._worker.stdin is not None:
            request = {"folder": str(folder), "plots": _plots_to_json(plots)}
            # It ended before reading (a broken pipe): `collect` draws them here.
            with contextlib.suppress(OSError):
                self._worker.stdin.write(json.dumps(request).encode("utf-8"))
            with contextlib.suppress(OSError):
                self._worker.stdin.close()

    def collect(self) -> list[Path]:
        """The plots `send` asked for, drawn: waits for the worker; draws them here when it
        failed or left any of them out. Their paths, in order."""
        if self._asked is None:
            raise RuntimeError("collect() before send()")
        folder, plots = self._asked
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.wait()
            written = [_svg_path(folder, name) for name in plots]
            # Its exit status alone is not trusted: every file it was asked for must be there.
            if worker.returncode == 0 and all(path.is_file() for path in written):
                return written
        # Drawn here: the same plots, and any error (a folder that cannot be written) raised here.
        return draw_svgs(folder, plots)

    def close(self) -> None:
        """Stop the worker if its plots were never asked for or never collected."""
        if self._worker is not None:
            self._worker.kill()
            self._worker.wait()
            if self._worker.stdin is not None:
                with contextlib.suppress(OSError):
                    self._worker.stdin.close()
            self._worker = None

    def __enter__(self) -> PlotWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def draw_svgs(folder: Path, plots: dict[str, tuple[str, list[Series]]]) -> list[Path]:
    """Draw each `name: (metric, series)` and write it as `folder`/<name>.svg; the paths
    written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (metric, series) in plots.items():
        path = _svg_path(folder, name)
        path.write_text(trend_svg(metric, series), encoding="utf-8")
        written.append(path)
    return written


def _svg_path(folder: Path, name: str) -> Path:
    return folder / f"{name}.svg"


def _plots_to_json(plots: dict[str, tuple[str, list[Series]]]) -> dict[str, Any]:
    return {
        name: [
            metric,
            [
                {
                    "metric": line.metric,
                    "runbook": line.runbook,
                    "labels": [list(label) for label in line.labels],
                    "unit": line.unit,
                    "points": [[at.isoformat(), value] for at, value in line.points],
                }
                for line in series
            ],
        ]
        for name, (metric, series) in plots.items()
    }


def _plots_from_json(value: dict[str, Any]) -> dict[str, tuple[str, list[Series]]]:
    return {
        name: (
            metric,
            [
                Series(
                    line["metric"],
                    line["runbook"],
                    tuple((label, text) for label, text in line["labels"]),
                    line["unit"],
                    tuple((datetime.fromisoformat(at), number) for at, number in line["points"]),
                )
                for line in series
            ],
        )
        for name, (metric, series) in value.items()
    }


def _worker() -> int:
    """The worker: import matplotlib while the command reads the evidence, then draw what it
    sends; nothing sent (the command ended first) is nothing to draw."""
    import matplotlib.backends.backend_svg  # noqa: F401
    import matplotlib.figure  # noqa: F401

    request = sys.stdin.buffer.read()
    if not request:
        return 0
    value = json.loads(request)
    draw_svgs(Path(value["folder"]), _plots_from_json(value["plots"]))
    return 0


if __name__ == "__main__":
    sys.exit(_worker())
