"""benchmarks/fleet_scale.py: the fleet it generates is real evidence that `upkeep verify --fleet`
and `sha256sum --check` accept, host by host, and refuse when one file changed; the options and
the fitted line its extrapolation rests on. No timing is asserted."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from evidence_sums import sha256sum_check  # noqa: E402
from fleet_scale import add_hosts, fitted_line, fleet_sums, host_counts  # noqa: E402

from upkeep.records import RunbookRef, RunRecord, Status  # noqa: E402

# One weekly, one monthly and one yearly runbook of site_build.RUNBOOKS. The year ends on
# 2026-11-01 00:00: 52 Mondays, the firsts of December to October, January the first.
RUNBOOKS = ("weekly-updates", "monthly-audit", "yearly-drill")
RUNS_A_YEAR = 52 + 11 + 1


def _reals() -> dict[str, dict[str, Any]]:
    """What `site_build.real_runs` returns, without running a kernel: per runbook a run.json
    and its artifact bytes."""
    started = datetime(2026, 1, 1, 3, tzinfo=UTC)
    return {
        name: {
            "record": RunRecord(
                f"real-{name}",
                RunbookRef(name),
                Status.OK,
                started,
                started + timedelta(seconds=3),
                started,
            ).to_json(),
            "files": {"report.html": f"<html><p>{name}</p></html>".encode()},
        }
        for name in RUNBOOKS
    }


def _verify(fleet: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "upkeep.cli", "verify", "--fleet", "fleet.yml", "--json"],
        cwd=fleet,
        capture_output=True,
        text=True,
    )


def test_the_generated_fleet_verifies_host_by_host_and_a_changed_file_is_caught(
    tmp_path: Path,
) -> None:
    fleet = tmp_path / "fleet"
    assert add_hosts(fleet, _reals(), 1, 1) == RUNS_A_YEAR
    assert add_hosts(fleet, _reals(), 2, 2) == RUNS_A_YEAR  # a size added to the one before
    proc = _verify(fleet)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    hosts = json.loads(proc.stdout)["hosts"]
    assert [(h["host"], h["ok"], h["runs_checked"]) for h in hosts] == [
        ("host-001", True, RUNS_A_YEAR),
        ("host-002", True, RUNS_A_YEAR),
    ]
    for host in ("host-001", "host-002"):
        named = {
            json.loads(path.read_text())["host"]["id"]
            for path in (fleet / host / "evidence" / "runs").rglob("run.json")
        }
        assert named == {host}

    size = fleet_sums(fleet, 2, tmp_path)
    assert (size.hosts, size.runs, size.files) == (2, 2 * RUNS_A_YEAR, 2 * 2 * RUNS_A_YEAR)
    assert size.ledger_lines == 2 * RUNS_A_YEAR
    sums = subprocess.run(sha256sum_check(tmp_path), cwd=fleet, capture_output=True, text=True)
    assert sums.returncode == 0, sums.stdout + sums.stderr

    report = next((fleet / "host-002" / "evidence" / "runs").rglob("report.html"))
    report.write_bytes(report.read_bytes() + b"changed")
    proc = _verify(fleet)
    assert proc.returncode == 1
    assert [h["host"] for h in json.loads(proc.stdout)["hosts"] if not h["ok"]] == ["host-002"]
    sums = subprocess.run(sha256sum_check(tmp_path), cwd=fleet, capture_output=True, text=True)
    assert sums.returncode == 1 and "host-002/evidence/runs/" in sums.stdout


def test_host_counts_are_sorted_once_each_and_bad_ones_named() -> None:
    assert host_counts("8,2,4,2") == [2, 4, 8]
    with pytest.raises(argparse.ArgumentTypeError, match="at least 1, not 0"):
        host_counts("0,2")
    with pytest.raises(argparse.ArgumentTypeError, match="separated by commas"):
        host_counts("2;4")


def test_the_fitted_line_is_least_squares_and_through_the_origin_for_one_point() -> None:
    assert fitted_line([(1, 3.0), (2, 5.0), (3, 7.0)]) == pytest.approx((1.0, 2.0))
    assert fitted_line([(2, 1.0), (4, 2.5), (8, 4.0)]) == pytest.approx((0.25, 27 / 56))
    assert fitted_line([(4, 2.0)]) == pytest.approx((0.0, 0.5))
