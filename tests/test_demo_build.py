"""Tests for upkeep.demo.build: building a real demo tree under a staging folder, the marker, and
what a killed or repeated build leaves behind."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest
from helpers.demo import load_demo_config

from upkeep.config import Config, load_config
from upkeep.demo import (
    DEFECTS,
    DEMO_VERSION,
    MARKER,
    SEED,
    DemoError,
    build,
    build_demo,
    demo_is_built,
)


def config_at(directory: Path) -> Config:
    directory.mkdir(parents=True, exist_ok=True)
    return load_demo_config(directory, 8765)


def test_data_is_deterministic_across_builds(tmp_path: Path) -> None:
    first = build_demo(config_at(tmp_path / "a"))
    second = build_demo(config_at(tmp_path / "b"))
    query = "SELECT id, customer_id, status, total_cents FROM orders ORDER BY id"
    rows = [sqlite3.connect(root / "app.db").execute(query).fetchall() for root in (first, second)]
    assert rows[0] == rows[1]
    # Log lines equal once the build-time-relative timestamp (first 23 characters) is cut off.
    messages = [
        [line[23:] for line in (root / "logs/app.log").read_text().splitlines()]
        for root in (first, second)
    ]
    assert messages[0] == messages[1]


def test_marker_says_version_seed_and_defects(tmp_path: Path) -> None:
    root = build_demo(config_at(tmp_path))
    marker = json.loads((root / MARKER).read_text())
    assert (marker["version"], marker["seed"]) == (DEMO_VERSION, SEED)
    assert marker["defects"] == {defect.key: defect.count for defect in DEFECTS}
    assert marker["built_at"].endswith("+00:00")


def test_build_is_skipped_when_built_and_redone_with_force(tmp_path: Path) -> None:
    config = config_at(tmp_path)
    assert not demo_is_built(config)
    root = build_demo(config)
    assert demo_is_built(config)
    (root / "sentinel").write_text("kept")
    build_demo(config)
    assert (root / "sentinel").exists()
    build_demo(config, force=True)
    assert not (root / "sentinel").exists() and demo_is_built(config)
    assert [p.name for p in root.parent.iterdir() if p.name.startswith(".demo.")] == [".demo.lock"]


def test_half_built_root_is_not_built_and_gets_replaced(tmp_path: Path) -> None:
    config = config_at(tmp_path)
    root = tmp_path / "var/demo"
    (root / "logs").mkdir(parents=True)
    (root / "app.db").write_bytes(b"half")
    assert not demo_is_built(config)
    build_demo(config)
    assert demo_is_built(config)
    assert sqlite3.connect(root / "app.db").execute("SELECT count(*) FROM orders").fetchone()[0]


def test_interrupted_build_keeps_the_previous_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = config_at(tmp_path)
    root = build_demo(config)
    (root / "sentinel").write_text("previous build")

    def killed(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(build, "build_file_trees", killed)
    with pytest.raises(KeyboardInterrupt):
        build_demo(config, force=True)
    assert (root / "sentinel").read_text() == "previous build"
    assert demo_is_built(config)
    assert not list(root.parent.glob(".demo.building-*"))


def test_leftovers_of_a_killed_build_are_removed(tmp_path: Path) -> None:
    config = config_at(tmp_path)
    leftover = tmp_path / "var/.demo.building-dead"
    (leftover / "logs").mkdir(parents=True)
    build_demo(config)
    assert not leftover.exists()


def test_config_without_demo_section_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "upkeep.yml").write_text("version: 1\n")
    with pytest.raises(DemoError, match="no `demo:` section"):
        build_demo(load_config(tmp_path / "upkeep.yml"))


def test_built_demo_files_are_readable_by_others(tmp_path: Path) -> None:
    built = build_demo(config_at(tmp_path))
    assert built.stat().st_mode & 0o755 == 0o755
    assert os.access(built / "logs/app.log", os.R_OK)
