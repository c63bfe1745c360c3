"""upkeep.cleaning: temp files and cache trimming on real trees (scan, plan, execute), each safety
rule by a cleaning that would delete something it must not if the rule were missing."""

from __future__ import annotations

import gc
import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers.cleaning import clean_temp, intact, names, old_files_beside, tree
from helpers.files import NOW, aged, write
from helpers.tiny_fs import tiny_filesystem

from upkeep import cleaning
from upkeep.cleaning import CleaningKind
from upkeep.config import CleanupRoot


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "tmp-root"
    path.mkdir()
    return path


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    return old_files_beside(tmp_path)


# ---------------------------------------------------------------- temp files


def test_old_temp_files_go_with_the_directories_they_empty(root: Path) -> None:
    write(root / "old.part", 10)
    write(root / "fresh.part", 1)
    write(root / "a" / "b" / "old.csv", 30)
    aged(root / "a" / "b", 30)
    aged(root / "a", 30)
    write(root / "mixed" / "old", 30)
    write(root / "mixed" / "new", 1)
    aged(root / "mixed", 30)
    (root / "forgotten").mkdir()
    aged(root / "forgotten", 400)
    (root / "just-made").mkdir()  # empty but fresh: an application may be about to use it

    result = clean_temp(root)

    expected = {"old.part", "a/b/old.csv", "a/b", "a", "mixed/old", "forgotten"}
    assert names(result.removed, root) == expected
    assert set(tree(root)) == {"fresh.part", "mixed", "mixed/new", "just-made"}
    assert result.freed_bytes == 30 and result.bytes_before == 50 and result.bytes_after == 20


def test_the_root_stays_when_everything_under_it_goes(root: Path) -> None:
    write(root / "d" / "old", 30)
    aged(root / "d", 30)
    aged(root, 30)
    result = clean_temp(root)
    assert names(result.removed, root) == {"d/old", "d"}
    assert root.is_dir() and tree(root) == {}


def test_only_paths_inside_the_root_are_touched(tmp_path: Path, root: Path) -> None:
    sibling = write(tmp_path / "tmp-root-sibling" / "old", 100)  # shares the root's name prefix
    write(root / "old", 100)
    result = clean_temp(root)
    assert names(result.removed, root) == {"old"} and sibling.exists()


def test_symlinks_are_removed_as_links_never_followed(root: Path, outside: Path) -> None:
    aged_link = root / "to-dir"
    aged_link.symlink_to(outside)
    aged(aged_link, 30)
    file_link = root / "to-file"
    file_link.symlink_to(outside / "precious")
    aged(file_link, 30)
    fresh_link = root / "fresh-link"
    fresh_link.symlink_to(outside / "deep")

    result = clean_temp(root)

    assert names(result.removed, root) == {"to-dir", "to-file"}
    assert {r.kind for r in result.removed} == {"symlink"}
    assert intact(outside)  # the scan never went through either link
    assert fresh_link.is_symlink() and not aged_link.is_symlink() and not file_link.is_symlink()


def test_fifos_and_sockets_are_skipped_and_non_empty_directories_stay(root: Path) -> None:
    os.mkfifo(root / "fifo")
    aged(root / "fifo", 30)
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(root / "sock"))
        aged(root / "sock", 30)
        write(root / "d" / "fresh", 1)
        aged(root / "d", 30)
        result = clean_temp(root)
    assert result.removed == ()
    assert names(result.skipped, root) == {"fifo", "sock"}
    assert all("not a regular file" in (r.skipped or "") for r in result.skipped)
    assert set(tree(root)) == {"fifo", "sock", "d", "d/fresh"}


def test_a_path_that_changes_type_after_the_scan_is_skipped(root: Path, outside: Path) -> None:
    to_link = write(root / "becomes-link", 30)
    to_dir = write(root / "becomes-dir", 30)
    write(root / "sub" / "precious", 30)
    aged(root / "sub", 30)
    plan = cleaning.plan_temp(CleanupRoot(root), now=datetime.fromtimestamp(NOW, UTC))
    planned = {str(Path(e.path).relative_to(root)) for e in plan.remove}
    assert planned == {"becomes-link", "becomes-dir", "sub/precious", "sub"}
    # Swap after the scan: a symlink to the precious file, a directory with a file, and the
    # parent directory replaced by a symlink to a directory holding a file of the same name.
    to_link.unlink()
    to_link.symlink_to(outside / "precious")
    to_dir.unlink()
    write(to_dir / "inside", 30)
    (root / "sub").rename(root / "sub-moved")
    (root / "sub").symlink_to(outside)  # outside/precious has the scanned file's name

    result = cleaning.execute(plan, dry_run=False)

    assert result.removed == ()
    reasons = {str(r.path.relative_to(root)): r.skipped for r in result.all_skipped}
    assert "now a symlink" in reasons["becomes-link"]
    assert "now a dir" in reasons["becomes-dir"]
    assert "no longer a directory" in reasons["sub/precious"]
    assert intact(outside) and (to_dir / "inside").exists()
    assert "now a symlink" in reasons["sub"]
    assert (root / "sub-moved" / "precious").exists()


def test_protect_globs_are_never_touched(root: Path) -> None:
    write(root / "lock.keep", 100)
    write(root / "d" / ".gitkeep", 100)
    aged(root / "d", 100)
    write(root / "keepme" / "old", 100)
    aged(root / "keepme", 100)
    write(root / "sessions" / "vip" / "old", 100)
    aged(root / "sessions" / "vip", 100)
    aged(root / "sessions", 100)
    write(root / "old", 100)

    result = clean_temp(root, protect=("*.keep", ".gitkeep", "keepme", "sessions/vip"))

    assert names(result.removed, root) == {"old"}
    assert set(tree(root)) == {
        "lock.keep",
        "d",
        "d/.gitkeep",
        "keepme",
        "keepme/old",
        "sessions",
        "sessions/vip",
        "sessions/vip/old",
    }
    assert result.protected == 4


def test_dry_run_reports_exactly_what_a_real_run_then_removes(root: Path, outside: Path) -> None:
    write(root / "old", 30, size=7)
    write(root / "fresh", 1)
    write(root / "x" / "y" / "old", 30, size=5)
    aged(root / "x" / "y", 30)
    aged(root / "x", 30)
    (root / "link").symlink_to(outside)
    aged(root / "link", 30)
    os.mkfifo(root / "fifo")
    aged(root / "fifo", 30)
    before = tree(root)
    link_size = os.lstat(root / "link").st_size

    dry = clean_temp(root, dry_run=True)
    assert tree(root) == before  # nothing removed, nothing touched
    real = clean_temp(root, dry_run=False)

    assert [(r.path, r.kind, r.size) for r in dry.removed] == [
        (r.path, r.kind, r.size) for r in real.removed
    ]
    assert names(real.removed, root) == {"old", "x/y/old", "x/y", "x", "link"}
    assert all(r.removed and not r.dry_run for r in real.removed)
    assert not any(r.removed for r in dry.removals)
    assert dry.freed_bytes == real.freed_bytes == 7 + 5 + link_size
    assert [r.path for r in dry.all_skipped] == [r.path for r in real.all_skipped]


@pytest.mark.parametrize("enabled", [True, False])
def test_cleaning_leaves_the_garbage_collector_as_it_found_it(root: Path, enabled: bool) -> None:
    """Scanning and removing pause it for speed; the process must get it back as it was."""
    write(root / "d" / "old", 30)
    try:
        gc.enable() if enabled else gc.disable()
        assert len(clean_temp(root).removed) == 1
        assert gc.isenabled() is enabled
    finally:
        gc.enable()


# ---------------------------------------------------------------- another filesystem


@pytest.fixture
def tmpfs(root: Path) -> Iterator[Path]:
    """A real tmpfs mounted inside the root."""
    with tiny_filesystem(root / "mnt", "1m") as mount_point:
        yield mount_point


def test_cleaning_stays_on_the_roots_filesystem(root: Path, tmpfs: Path) -> None:
    on_tmpfs = write(tmpfs / "d" / "old", 100)
    aged(tmpfs / "d", 100)
    aged(tmpfs, 100)
    write(root / "old", 100)
    result = clean_temp(root)
    assert names(result.removed, root) == {"old"}
    assert on_tmpfs.exists()
    [skip] = result.skipped
    assert skip.path == tmpfs and "another filesystem" in (skip.skipped or "")


# ---------------------------------------------------------------- cache


def test_cache_is_trimmed_to_max_age_then_max_bytes_oldest_first(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    write(cache / "expired-a", 40, size=100)
    write(cache / "expired-b", 35, size=100)
    write(cache / "t" / "c20", 20, size=300)
    aged(cache / "t", 20)
    write(cache / "t2" / "d15", 15, size=300)
    write(cache / "t2" / "e10", 10, size=300)
    aged(cache / "t2", 10)
    write(cache / "f5", 5, size=300)
    write(cache / "g1", 1, size=300)
    write(cache / "h.keep", 50, size=1000)  # protected: counted, never removed

    root = CleanupRoot(cache, max_age_days=30, max_bytes=1000)
    now = datetime.fromtimestamp(NOW, UTC)
    result = cleaning.execute(cleaning.plan_cache(root, ("*.keep",), now=now), dry_run=False)

    # The 200 expired bytes go by age; the other 1500 (protected files are not counted) must fit
    # in 1000: c20, the oldest, then d15 go. t/ is left empty but is 20 days old, not expired.
    assert names(result.removed, cache) == {"expired-a", "expired-b", "t/c20", "t2/d15"}
    assert set(tree(cache)) == {"t", "t2", "t2/e10", "f5", "g1", "h.keep"}
    assert [r.path.name for r in result.removed] == ["expired-a", "expired-b", "c20", "d15"]
    assert result.bytes_after == 900 and not result.over_limit


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_cache_whose_files_are_linked_elsewhere_is_within_its_limit_once_they_go(
    tmp_path: Path, outside: Path, dry_run: bool
) -> None:
    # A uv-style cache hard-links its files into environments. Removing the two oldest takes
    # the cache to 1200 bytes, within 1300, while freeing nothing on disk: "left" counted
    # only the bytes freed, said 2400, and warned that the cache was still over its limit.
    cache = tmp_path / "cache"
    for age, name in ((40, "a"), (30, "b"), (20, "c"), (10, "d")):
        write(cache / name, age, size=600)
    for name in ("a", "b"):
        os.link(cache / name, outside / name)
    root = CleanupRoot(cache, max_age_days=365, max_bytes=1300)
    now = datetime.fromtimestamp(NOW, UTC)

    result = cleaning.execute(cleaning.plan_cache(root, (), now=now), dry_run=dry_run)

    assert names(result.removed, cache) == {"a", "b"}
    assert (result.freed_bytes, result.bytes_after, result.over_limit) == (0, 1200, False)


# ---------------------------------------------------------------- kinds


def test_each_kind_plans_its_own_choice_of_files(tmp_path: Path) -> None:
    write(tmp_path / "old", 40, size=100)
    write(tmp_path / "new-a", 2, size=100)
    write(tmp_path / "new-b", 1, size=100)
    root = CleanupRoot(tmp_path, max_age_days=30, max_bytes=100)
    now = datetime.fromtimestamp(NOW, UTC)
    temp = cleaning.plan_root(root, CleaningKind.TEMP, now=now)
    cache = cleaning.plan_root(root, CleaningKind.CACHE, now=now)
    assert [Path(e.path).name for e in temp.remove] == ["old"]  # max_bytes is not a temp rule
    assert [Path(e.path).name for e in cache.remove] == ["old", "new-a"]
    assert (temp.purpose, cache.purpose) == (CleaningKind.TEMP, CleaningKind.CACHE)
    assert cleaning.plan_temp(root, now=now) == temp and cleaning.plan_cache(root, now=now) == cache
    # Recorded and printed as the plain words: check names and labels keep their form.
    assert f"{CleaningKind.TEMP}:{CleaningKind.CACHE}" == "temp:cache"
    assert [kind.value for kind in CleaningKind] == ["temp", "cache"]
