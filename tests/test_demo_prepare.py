"""Tests for upkeep.demo.prepare: the demo built and served for the duration of a run, or left
alone when the config points at a real system."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.demo import load_demo_config

from upkeep.config import Config, load_config
from upkeep.demo import MARKER, build_demo, demo_is_built, free_port, health_answers, prepared


def config_at(directory: Path, port: int) -> Config:
    return load_demo_config(directory, port)


def test_builds_the_demo_saying_so_and_serves_it_for_the_block(tmp_path: Path) -> None:
    port = free_port()
    config = config_at(tmp_path, port)
    said: list[str] = []
    with prepared(config, start_service=True, notify=said.append):
        assert demo_is_built(config)
        assert health_answers("127.0.0.1", port)
    assert said == [f"building the demo system under {tmp_path / 'var' / 'demo'} ..."]
    assert not health_answers("127.0.0.1", port)


def test_a_built_demo_is_kept_and_without_service_nothing_listens(tmp_path: Path) -> None:
    port = free_port()
    config = config_at(tmp_path, port)
    root = build_demo(config)
    built_at = json.loads((root / MARKER).read_text())["built_at"]
    (root / "sentinel").write_text("kept")
    said: list[str] = []
    with prepared(config, start_service=False, notify=said.append):
        assert not health_answers("127.0.0.1", port)
    assert said == []
    assert (root / "sentinel").read_text() == "kept"
    assert json.loads((root / MARKER).read_text())["built_at"] == built_at


def test_the_service_stops_when_the_block_raises(tmp_path: Path) -> None:
    port = free_port()
    config = config_at(tmp_path, port)
    with (
        pytest.raises(KeyboardInterrupt),
        prepared(config, start_service=True, notify=lambda text: None),
    ):
        assert health_answers("127.0.0.1", port)
        raise KeyboardInterrupt
    assert not health_answers("127.0.0.1", port)


def test_without_a_demo_section_nothing_is_built_or_served(tmp_path: Path) -> None:
    (tmp_path / "upkeep.yml").write_text("version: 1\n")
    config = load_config(tmp_path / "upkeep.yml")
    said: list[str] = []
    ran = False
    with prepared(config, start_service=True, notify=said.append):
        ran = True
    assert ran and said == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["upkeep.yml"]
