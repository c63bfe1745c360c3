"""Tests for upkeep.demo.logs: the log files of a real demo build, and how the shipped thresholds
grade them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers.demo import load_demo_config
from helpers.project import REPO

from upkeep.config import load_config
from upkeep.demo import LOG_ERRORS, LOG_WARNINGS, build_demo
from upkeep.records import Status

ERROR_LINE = re.compile(r"\b(?:ERROR|CRITICAL|FATAL)\b")
WARNING_LINE = re.compile(r"\bWARN(?:ING)?\b")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One demo built for the read-only tests of this module."""
    directory = tmp_path_factory.mktemp("demo")
    return build_demo(load_demo_config(directory, 8765))


def test_log_error_and_warning_counts_are_as_declared(built: Path) -> None:
    for name in ("app", "worker"):
        lines = (built / "logs" / f"{name}.log").read_text().splitlines()
        assert sum(bool(ERROR_LINE.search(line)) for line in lines) == LOG_ERRORS[name]
        warnings = [line for line in lines if WARNING_LINE.search(line)]
        assert len(warnings) == LOG_WARNINGS[name]
    assert LOG_ERRORS == {"app": 14, "worker": 0}


def test_shipped_thresholds_grade_the_demo_logs_warn_not_fail() -> None:
    shipped = load_config(REPO / "upkeep.yml")
    grades = {
        name: shipped.thresholds.log_errors.grade(count) for name, count in LOG_ERRORS.items()
    }
    assert grades == {"app": Status.WARN, "worker": Status.OK}


def test_log_lines_are_timestamped_and_in_order(built: Path) -> None:
    stamp = re.compile(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3}) (DEBUG|INFO|WARNING|ERROR) ")
    stamps = [
        m.group(1)
        for line in (built / "logs/app.log").read_text().splitlines()
        if (m := stamp.match(line))
    ]
    assert len(stamps) > 1000
    assert stamps == sorted(stamps)


def test_repeating_errors_differ_only_in_numbers(built: Path) -> None:
    timeouts = [
        line
        for line in (built / "logs/app.log").read_text().splitlines()
        if "timeout after" in line
    ]
    assert len(timeouts) == 6
    assert len({re.sub(r"\d+", "N", line.split("ERROR", 1)[1]) for line in timeouts}) == 1
    assert len(set(timeouts)) == 6
