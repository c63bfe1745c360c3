"""upkeep.cleaning.boundaries and what the scan and removal never cross besides symlinks: a bind
mount of the same filesystem (found in the mount table, not by device number), a directory
another process locked, a PostgreSQL data directory, a git work tree, and the names
systemd-tmpfiles and tmpreaper always leave alone. Each by a cleaning that would delete something
it must not if the rule were missing."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers.bind_mount import bind_mounted
from helpers.cleaning import clean_temp, intact, names, old_files_beside, tree
from helpers.files import NOW, aged, write

from upkeep import cleaning
from upkeep.cleaning.boundaries import mount_points_under
from upkeep.cleaning.plan import failure_message
from upkeep.cleaning.safedelete import Batch, Seen, remove_batches
from upkeep.config import CleanupRoot


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "tmp-root"
    path.mkdir()
    return path


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    return old_files_beside(tmp_path)


# ---------------------------------------------------------------- bind mounts


def test_a_bind_mount_inside_the_root_is_found_in_the_mount_table(
    root: Path, outside: Path
) -> None:
    with bind_mounted(outside, root / "a dir" / "mnt") as point:
        assert os.stat(point).st_dev == os.stat(root).st_dev  # st_dev cannot tell
        assert mount_points_under(str(root)) == {str(point)}
        assert mount_points_under(str(point)) == set()
    assert mount_points_under(str(root)) == set()


def test_a_folder_bind_mounted_into_the_root_is_not_cleaned_through(
    root: Path, outside: Path
) -> None:
    write(root / "old", 30)
    with bind_mounted(outside, root / "mnt") as point:
        aged(point, 100)
        result = clean_temp(root)
        assert intact(outside)
    assert names(result.removed, root) == {"old"}
    [skip] = result.skipped
    assert skip.path == root / "mnt" and "bind mount" in (skip.skipped or "")


def test_a_bind_mount_made_after_the_scan_is_not_crossed(root: Path, outside: Path) -> None:
    write(root / "d" / "precious", 30)  # the name of the file beside the root
    plan = cleaning.plan_temp(CleanupRoot(root), now=datetime.fromtimestamp(NOW, UTC))
    with bind_mounted(outside, root / "d"):
        result = cleaning.execute(plan, dry_run=False)
        assert intact(outside)
    assert result.removed == ()
    reasons = {r.skipped for r in result.failed}
    assert reasons == {"d on the way is a mount point (a bind mount)"}


# ---------------------------------------------------------------- locked directories


@contextmanager
def locked(directory: Path) -> Iterator[None]:
    """An exclusive flock on `directory`, as an application keeping it out of cleaning takes."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def test_a_directory_another_process_locked_is_left_alone(root: Path) -> None:
    write(root / "busy" / "old", 30)
    aged(root / "busy", 30)
    write(root / "old", 30)
    with locked(root / "busy"):
        result = clean_temp(root)
    assert names(result.removed, root) == {"old"}
    assert (root / "busy" / "old").exists()
    [skip] = result.skipped
    assert skip.path == root / "busy" and "locked by another process" in (skip.skipped or "")


def test_a_directory_locked_after_the_scan_is_not_entered(root: Path) -> None:
    write(root / "busy" / "old", 30)
    plan = cleaning.plan_temp(CleanupRoot(root), now=datetime.fromtimestamp(NOW, UTC))
    with locked(root / "busy"):
        result = cleaning.execute(plan, dry_run=False)
    assert result.removed == () and (root / "busy" / "old").exists()
    assert {r.skipped for r in result.failed} == {
        "busy on the way is locked by another process (flock)"
    }


def test_a_locked_root_is_left_alone_whole(root: Path) -> None:
    write(root / "old", 30)
    with locked(root):
        result = clean_temp(root)
    assert result.error is None and result.removed == () and (root / "old").exists()
    [skip] = result.skipped
    assert skip.path == root and "locked by another process" in (skip.skipped or "")


# ---------------------------------------------------------------- guarded trees


def test_a_postgresql_data_directory_and_a_git_work_tree_inside_a_root_are_never_cleaned(
    root: Path,
) -> None:
    write(root / "pgdata" / "PG_VERSION", 300)
    write(root / "pgdata" / "base" / "1" / "1259", 300)
    write(root / "clone" / ".git" / "HEAD", 300)
    write(root / "clone" / "src" / "main.py", 300)
    write(root / "worktree" / ".git", 300)  # a linked work tree's .git is a file
    write(root / "worktree" / "notes.txt", 300)
    for folder in ("pgdata", "clone", "worktree"):
        aged(root / folder, 300)
    write(root / "old", 300)
    before = {k for k in tree(root) if k != "old"}

    result = clean_temp(root, protect=(".git",))  # protecting .git must not expose the rest

    assert names(result.removed, root) == {"old"}
    assert set(tree(root)) == before
    reasons = {str(r.path.relative_to(root)): r.skipped for r in result.skipped}
    assert reasons == {
        "pgdata": "a PostgreSQL data directory (it holds PG_VERSION): never cleaned",
        "clone": "a git work tree (it holds .git): never cleaned",
        "worktree": "a git work tree (it holds .git): never cleaned",
    }


@pytest.mark.parametrize(
    ("marker", "what"),
    [("PG_VERSION", "a PostgreSQL data directory"), (".git", "a git work tree")],
)
def test_a_root_that_is_a_guarded_tree_is_refused_whole(root: Path, marker: str, what: str) -> None:
    write(root / marker, 300)
    write(root / "old", 300)
    result = clean_temp(root)
    assert result.error == f"the cleaning root is {what} (it holds {marker}): {root}"
    assert (root / "old").exists()


def test_what_systemd_tmpfiles_and_tmpreaper_leave_alone_is_always_protected(root: Path) -> None:
    spared = [
        ".X11-unix/X0",
        ".ICE-unix/1234",
        ".X0-lock",
        "systemd-private-0f1e-nginx.service-AbCd/tmp/upload",
        "lost+found/#1234",
        "quota.user",
    ]
    for name in spared:
        write(root / name, 300)
    for folder in (".X11-unix", ".ICE-unix", "systemd-private-0f1e-nginx.service-AbCd"):
        aged(root / folder, 300)
    write(root / "old", 300)
    result = clean_temp(root)
    assert names(result.removed, root) == {"old"}
    assert all((root / name).exists() for name in spared)


# ---------------------------------------------------------------- messages


def test_a_failure_names_the_path_that_failed_not_the_root() -> None:
    entry = FileNotFoundError(2, "No such file or directory", "/srv/tmp/sub/entry")
    assert failure_message(entry, Path("/srv/tmp")) == (
        "No such file or directory: /srv/tmp/sub/entry"
    )
    bare = OSError(5, "Input/output error")
    assert failure_message(bare, Path("/srv/tmp")) == "Input/output error: /srv/tmp"


def test_batches_under_a_bind_mount_are_refused_even_without_a_scan(
    root: Path, outside: Path
) -> None:
    with bind_mounted(outside, root / "mnt") as point:
        batch = Batch(str(point), [Seen.of("precious", os.lstat(point / "precious"))])
        counts = remove_batches(root, [batch], dry_run=False)
        assert intact(outside)
    assert counts.removed == 0
    assert [o.skipped for o in counts.skipped] == ["mnt on the way is a mount point (a bind mount)"]
