"""Atomic writes: the old content or the new, the one mode policy, and failures that name the
file."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from upkeep import atomic


@contextmanager
def umask(mask: int) -> Iterator[None]:
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_the_evidence_mode_is_0666_less_the_umask(tmp_path: Path, mask: int, mode: int) -> None:
    with umask(mask):
        assert atomic.umask() == mask  # read without being changed
        assert atomic.file_mode() == mode and atomic.dir_mode() == 0o777 & ~mask
        atomic.write_text(tmp_path / "report.html", "<p>x</p>", mode=atomic.file_mode())
        atomic.write_json(tmp_path / "state" / "scan.json", {"n": 1}, mode=atomic.file_mode())
    assert _mode(tmp_path / "report.html") == _mode(tmp_path / "state" / "scan.json") == mode
    assert _mode(tmp_path / "state") == 0o777 & ~mask


def test_a_write_that_names_no_mode_is_private(tmp_path: Path) -> None:
    """What other parts write with these functions (a backup's verdict) stays 0600."""
    with umask(0o022):
        atomic.write_json(tmp_path / "verified.json", {"ok": True})
    assert _mode(tmp_path / "verified.json") == 0o600


def test_rewriting_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "run.json"
    atomic.write_text(target, "old")
    atomic.write_text(target, "new")
    assert target.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["run.json"]


def test_a_failed_write_names_the_file(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    with pytest.raises(OSError) as raised, atomic.naming(target):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # as a write on a full disk
    assert raised.value.errno == errno.ENOSPC and raised.value.filename == str(target)
    # An error that names its file already, or carries no errno, passes unchanged.
    with pytest.raises(FileNotFoundError) as raised, atomic.naming(target):
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", "/elsewhere")
    assert raised.value.filename == "/elsewhere"
    with pytest.raises(OSError) as raised, atomic.naming(target):
        raise OSError("no errno")
    assert raised.value.filename is None
