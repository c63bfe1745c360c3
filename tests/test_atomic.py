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


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_a_written_file_gets_0666_less_the_umask(tmp_path: Path, mask: int, mode: int) -> None:
    with umask(mask):
        assert atomic.umask() == mask  # read without being changed
        atomic.write_text(tmp_path / "report.html", "<p>x</p>")
        atomic.write_json(tmp_path / "state" / "scan.json", {"offset": 1})
        assert atomic.file_mode() == mode and atomic.dir_mode() == 0o777 & ~mask
    assert stat.S_IMODE((tmp_path / "report.html").stat().st_mode) == mode
    assert stat.S_IMODE((tmp_path / "state" / "scan.json").stat().st_mode) == mode
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o777 & ~mask


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
