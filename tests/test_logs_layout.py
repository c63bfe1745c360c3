"""Tests for upkeep.logs.layout: the names of rotated copies and of per-log state files, on
real directories."""

from __future__ import annotations

import gzip
import os
import stat
from pathlib import Path

import pytest
from helpers.files import aged
from helpers.vanishing import vanishing

from upkeep.config import LogSource
from upkeep.logs.layout import (
    ROTATION_STATE,
    SCAN_STATE,
    copies_in_directory,
    copy_path,
    matching_logs,
    newest_first,
    state_path,
)
from upkeep.logs.regular_files import NotRegularFile


def test_copy_names_are_the_log_name_an_index_and_gz_when_compressed(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    assert copy_path(log, 1) == tmp_path / "app.log.1"
    assert copy_path(log, 12, compressed=True) == tmp_path / "app.log.12.gz"


def test_copies_are_newest_first_whatever_their_number(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    (tmp_path / "app.log.1").write_text("newest\n")
    (tmp_path / "app.log.2.gz").write_bytes(gzip.compress(b"older\n"))
    (tmp_path / "app.log.3").write_text("oldest\n")
    (tmp_path / "app.log.5").write_text("after a gap: still there, so still read\n")
    copies = newest_first(copies_in_directory(log))
    assert [(c.path.name, c.index, c.compressed) for c in copies] == [
        ("app.log.1", 1, False),
        ("app.log.2.gz", 2, True),
        ("app.log.3", 3, False),
        ("app.log.5", 5, False),
    ]
    assert copies[0].size == len("newest\n") and copies[1].size is None
    with copies[1].open() as handle:
        assert handle.read() == b"older\n"


def test_a_plain_copy_comes_before_its_gzipped_twin(tmp_path: Path) -> None:
    (tmp_path / "app.log.1").write_text("plain\n")
    (tmp_path / "app.log.1.gz").write_bytes(gzip.compress(b"packed\n"))
    copies = newest_first(copies_in_directory(tmp_path / "app.log"))
    assert [c.path.name for c in copies] == ["app.log.1", "app.log.1.gz"]


def test_dated_copies_as_logrotate_dateext_names_them_are_newest_first(tmp_path: Path) -> None:
    for name in (
        "syslog-20261114.gz",
        "syslog-20261116",
        "syslog-20261115.gz",
        "syslog.2026-11-13",
        "syslog-2026111703",
    ):
        (tmp_path / name).write_text("x\n")
    for name in ("syslog-2026111", "syslog_20261116", "syslog-20261116.bak", "syslog-ab"):
        (tmp_path / name).write_text("not a copy\n")
    copies = newest_first(copies_in_directory(tmp_path / "syslog"))
    assert [(c.path.name, c.date, c.index) for c in copies] == [
        ("syslog-2026111703", "2026111703", 0),
        ("syslog-20261116", "20261116", 0),
        ("syslog-20261115.gz", "20261115", 0),
        ("syslog-20261114.gz", "20261114", 0),
        ("syslog.2026-11-13", "20261113", 0),
    ]


def test_numbered_and_dated_copies_of_one_log_merge_by_modification_time(tmp_path: Path) -> None:
    # The naming was switched to dateext: the numbered copies are the older ones here.
    for name, days in (("app.log.1", 3), ("app.log.2.gz", 4), ("app.log-20261116", 1)):
        (tmp_path / name).write_text("x\n")
        aged(tmp_path / name, days)
    copies = newest_first(copies_in_directory(tmp_path / "app.log"))
    assert [c.path.name for c in copies] == ["app.log-20261116", "app.log.1", "app.log.2.gz"]


def test_opening_a_copy_refuses_anything_but_a_regular_file(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "app.log.1")  # no writer: opening it for reading would block
    (tmp_path / "app.log.2").symlink_to("/dev/zero")
    (tmp_path / "real").write_text("through a link\n")
    (tmp_path / "app.log.3").symlink_to(tmp_path / "real")
    found = {c.path.name: c for c in copies_in_directory(tmp_path / "app.log")}
    for name, kind in (("app.log.1", "a FIFO"), ("app.log.2", "a character device")):
        with pytest.raises(NotRegularFile) as refused, found[name].open():
            pass
        assert refused.value.kind == kind
    with found["app.log.3"].open() as handle:
        assert handle.read() == b"through a link\n"


def test_a_wildcard_names_each_matching_file_but_not_their_rotated_copies(tmp_path: Path) -> None:
    for name in ("access.log", "error.log", "access.log.1", "error.log.2.gz", "other.txt"):
        (tmp_path / name).write_text("x\n")
    (tmp_path / "old.log-20261116").write_text("a copy of a log that is gone: a log of its own\n")
    (tmp_path / ".hidden.log").write_text("x\n")
    log = LogSource("nginx", tmp_path / "*.log*")
    found = matching_logs(log)
    assert [(m.name, m.path) for m in found] == [
        ("nginx:access.log", tmp_path / "access.log"),
        ("nginx:error.log", tmp_path / "error.log"),
        ("nginx:old.log-20261116", tmp_path / "old.log-20261116"),
    ]
    assert matching_logs(LogSource("none", tmp_path / "*.gone")) == []
    assert matching_logs(LogSource("dir gone", tmp_path / "nowhere" / "*.log")) == []
    plain = LogSource("app", tmp_path / "app.log")
    assert matching_logs(plain) == [plain]  # a path without wildcards, whether it exists or not


def test_copies_in_directory_are_every_copy_named_so_and_nothing_else(tmp_path: Path) -> None:
    for name in ("app.log", "app.log.1", "app.log.2.gz", "app.log.10", "web.log.1"):
        (tmp_path / name).write_text("x\n")
    for name in ("app.log.0", "app.log.01", "app.log.x", "app.log.1.bak", "app.logs.1"):
        (tmp_path / name).write_text("not a copy\n")
    (tmp_path / "app.log.3").symlink_to(tmp_path / "web.log.1")
    found = {c.path.name: c for c in copies_in_directory(tmp_path / "app.log")}
    assert sorted(found) == ["app.log.1", "app.log.10", "app.log.2.gz", "app.log.3"]
    assert all(found[name].date == "" for name in found)
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
