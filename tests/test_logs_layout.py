"""Tests for upkeep.logs.layout: the names of rotated copies and of per-log state files, on
real directories."""

from __future__ import annotations

import gzip
import os
import stat
from pathlib import Path

import pytest
from helpers.vanishing import vanishing

from upkeep.config import LogSource
from upkeep.logs.layout import (
    ROTATION_STATE,
    SCAN_STATE,
    copies_in_directory,
    copy_path,
    recent_copies,
    state_path,
)


def test_copy_names_are_the_log_name_an_index_and_gz_when_compressed(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    assert copy_path(log, 1) == tmp_path / "app.log.1"
    assert copy_path(log, 12, compressed=True) == tmp_path / "app.log.12.gz"


def test_recent_copies_are_newest_first_up_to_the_first_gap(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    (tmp_path / "app.log.1").write_text("newest\n")
    (tmp_path / "app.log.2.gz").write_bytes(gzip.compress(b"older\n"))
    (tmp_path / "app.log.3").write_text("oldest\n")
    (tmp_path / "app.log.5").write_text("after a gap: not reached\n")
    copies = recent_copies(log, lookback=5)
    assert [(c.path.name, c.index, c.compressed) for c in copies] == [
        ("app.log.1", 1, False),
        ("app.log.2.gz", 2, True),
        ("app.log.3", 3, False),
    ]
    assert copies[0].size == len("newest\n") and copies[1].size is None
    with copies[1].open() as handle:
        assert handle.read() == b"older\n"
    assert [c.index for c in recent_copies(log, lookback=2)] == [1, 2]


def test_recent_copies_prefer_the_plain_copy_of_an_index(tmp_path: Path) -> None:
    (tmp_path / "app.log.1").write_text("plain\n")
    (tmp_path / "app.log.1.gz").write_bytes(gzip.compress(b"packed\n"))
    [copy] = recent_copies(tmp_path / "app.log", lookback=5)
    assert copy.path.name == "app.log.1" and not copy.compressed


def test_copies_in_directory_are_every_copy_named_so_and_nothing_else(tmp_path: Path) -> None:
    for name in ("app.log", "app.log.1", "app.log.2.gz", "app.log.10", "web.log.1"):
        (tmp_path / name).write_text("x\n")
    for name in ("app.log.0", "app.log.01", "app.log.x", "app.log.1.bak", "app.logs.1"):
        (tmp_path / name).write_text("not a copy\n")
    (tmp_path / "app.log.3").symlink_to(tmp_path / "web.log.1")
    found = {c.path.name: c for c in copies_in_directory(tmp_path / "app.log")}
    assert sorted(found) == ["app.log.1", "app.log.10", "app.log.2.gz", "app.log.3"]
    assert [found[name].index for name in sorted(found)] == [1, 10, 2, 3]
    assert stat.S_ISLNK(found["app.log.3"].stat.st_mode)  # seen, never followed


def test_a_copy_removed_right_after_the_listing_is_left_out_and_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("app.log", "app.log.1", "app.log.2.gz", "app.log.3.gz"):
        (tmp_path / name).write_text("x\n")
    vanished: list[Path] = []
    with vanishing(monkeypatch, before_stat=("app.log.2.gz",)):
        found = sorted(c.path.name for c in copies_in_directory(tmp_path / "app.log", vanished))
    assert found == ["app.log.1", "app.log.3.gz"]
    assert vanished == [tmp_path / "app.log.2.gz"]


def test_state_files_are_named_by_the_log_name_and_a_hash_of_its_path(tmp_path: Path) -> None:
    log = LogSource("api/v2 errors", tmp_path / "api.log")
    scan_state = state_path(log, SCAN_STATE)
    rotation_state = state_path(log, ROTATION_STATE)
    assert scan_state.parent == Path("logscan") and rotation_state.parent == Path("logrotate")
    assert scan_state.name == rotation_state.name
    assert scan_state.name.startswith("api_v2_errors-") and scan_state.suffix == ".json"
    assert not scan_state.is_absolute() and os.sep not in scan_state.name
    moved = LogSource("api/v2 errors", tmp_path / "elsewhere.log")
    assert state_path(moved, SCAN_STATE) != scan_state  # another file starts afresh
