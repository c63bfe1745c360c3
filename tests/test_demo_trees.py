"""Tests for upkeep.demo.trees: the temp and cache trees of a real demo build."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from helpers.demo import load_demo_config

from upkeep.demo import FRESH_FILES, OLD_FILE_AGE_DAYS, OLD_FILES, build_demo

DAY = 86_400


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One demo built for the read-only tests of this module."""
    directory = tmp_path_factory.mktemp("demo")
    return build_demo(load_demo_config(directory, 8765))


def test_tmp_and_cache_hold_old_and_fresh_files(built: Path) -> None:
    now = time.time()
    for tree in ("tmp", "cache"):
        ages = [(now - p.stat().st_mtime) / DAY for p in (built / tree).rglob("*") if p.is_file()]
        assert sum(age > OLD_FILE_AGE_DAYS for age in ages) == OLD_FILES[tree]
        assert sum(age < 3 for age in ages) == FRESH_FILES[tree]
    assert (built / "tmp/exports/2025").is_dir()
    empty = built / "tmp/exports/2024-q3"
    assert not any(empty.iterdir()) and (now - empty.stat().st_mtime) / DAY > 365


def test_a_directory_is_as_old_as_its_newest_entry(built: Path) -> None:
    directories = [p for tree in ("tmp", "cache") for p in (built / tree).rglob("*") if p.is_dir()]
    assert len(directories) > 10
    for directory in directories:
        entries = list(directory.iterdir())
        if entries:
            newest = max(entry.stat().st_mtime for entry in entries)
            assert directory.stat().st_mtime == newest, directory
