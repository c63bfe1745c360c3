"""The trend plots `upkeep review --plots` writes (upkeep.review.plot_files): drawn by a worker
process, byte for byte the plots drawn in this one, and drawn here when the worker cannot run."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from upkeep.review import plot_files
from upkeep.review.plot_files import PlotWriter
from upkeep.review.trends import Series, trend_svg

START = datetime(2026, 10, 1, 3, tzinfo=UTC)


def _trends() -> dict[str, list[Series]]:
    def line(runbook: str, labels: tuple[tuple[str, str], ...], base: float) -> Series:
        points = tuple((START + timedelta(days=day), base + day % 5 + 0.25) for day in range(60))
        return Series("disk_used_percent", runbook, labels, "%", points)

    restores = tuple((START + timedelta(days=7 * week), 40 + 3 * week) for week in range(13))
    return {
        "disk_used_percent": [
            line("health-check", (("mount", "/"),), 40),
            line("health-check", (("mount", "/data"),), 70),
        ],
        "backup_restore_seconds": [
            Series("backup_restore_seconds", "backup-verify", (), "s", restores)
        ],
        "review_runs": [],
    }


def _no_drawing_here(folder: Path, plots: dict[str, tuple[str, list[Series]]]) -> list[Path]:
    raise AssertionError("drawn in the command's process, not the worker")


def test_the_worker_writes_the_plots_this_process_would_draw(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trends = _trends()
    monkeypatch.setattr(plot_files, "draw_svgs", _no_drawing_here)
    with PlotWriter() as writer:
        written = writer.write(tmp_path / "plots", trends)
    assert [path.name for path in written] == [
        "disk_used_percent.svg",
        "backup_restore_seconds.svg",
    ]
    for path in written:
        metric = path.stem
        assert path.read_text(encoding="utf-8") == trend_svg(metric, trends[metric])
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == sorted(p.name for p in written)


def test_without_a_worker_the_plots_are_drawn_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trends = _trends()
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
    with PlotWriter() as writer:
        written = writer.write(tmp_path / "plots", trends)
    assert [path.name for path in written] == [
        "disk_used_percent.svg",
        "backup_restore_seconds.svg",
    ]
    metric = "backup_restore_seconds"
    assert (tmp_path / "plots" / f"{metric}.svg").read_text() == trend_svg(metric, trends[metric])


def test_plots_of_one_metric_under_two_names_are_drawn_by_the_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    disk = _trends()["disk_used_percent"]
    plots = {"month": ("disk_used_percent", disk[:1]), "quarter": ("disk_used_percent", disk)}
    monkeypatch.setattr(plot_files, "draw_svgs", _no_drawing_here)
    with PlotWriter() as writer:
        written = writer.draw(tmp_path, plots)
    assert [path.name for path in written] == ["month.svg", "quarter.svg"]
    assert (tmp_path / "month.svg").read_text() == trend_svg("disk_used_percent", disk[:1])
    assert (tmp_path / "quarter.svg").read_text() == trend_svg("disk_used_percent", disk)


def test_a_worker_that_exits_0_without_writing_them_leaves_the_plots_to_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stand-in for the worker: reads its request, writes nothing, exits 0.
    silent = tmp_path / "silent-python"
    silent.write_text("#!/bin/sh\ncat > /dev/null\nexit 0\n")
    silent.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(silent))
    trends = _trends()
    with PlotWriter() as writer:
        assert writer._worker is not None
        written = writer.write(tmp_path / "plots", trends)
    metric = "disk_used_percent"
    assert [path.name for path in written] == [f"{metric}.svg", "backup_restore_seconds.svg"]
    assert (tmp_path / "plots" / f"{metric}.svg").read_text() == trend_svg(metric, trends[metric])


def test_a_failing_worker_leaves_the_error_to_this_process(tmp_path: Path) -> None:
    taken = tmp_path / "plots"
    taken.write_text("a file where the folder should be")
    with PlotWriter() as writer, pytest.raises(FileExistsError):
        writer.write(taken, _trends())


def test_the_worker_ends_with_the_command_when_no_plot_is_asked_for() -> None:
    with PlotWriter() as writer:
        worker = writer._worker
        assert worker is not None and worker.poll() is None
    assert worker.wait(timeout=30) is not None and writer._worker is None


def test_the_worker_imports_no_evidence_reading() -> None:
    # It starts beside the command while the command reads the evidence: every module it
    # imports beyond matplotlib is CPU taken from that read.
    code = (
        "import json, sys, upkeep.review.plot_files; "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('upkeep'))))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(proc.stdout) == [
        "upkeep",
        "upkeep.review",
        "upkeep.review.plot_files",
        "upkeep.review.trends",
    ]
