"""upkeep.procedures.cleaning: temp files and cache trimming on real trees, each safety rule by a
cleaning that would delete something it must not if the rule were missing, and what is recorded."""

from __future__ import annotations

import gc
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import Recorder
from tiny_fs import tiny_filesystem

from upkeep.config import Cleanup, CleanupRoot, load_config
from upkeep.errors import ConfigError
from upkeep.procedures import cleaning

DAY = 86400.0
NOW = time.time()


def aged(path: Path, days: float) -> Path:
    """Set `path`'s mtime (a symlink's own, not its target's) `days` before NOW."""
    stamp = NOW - days * DAY
    os.utime(path, (stamp, stamp), follow_symlinks=False)
    return path


def write(path: Path, days: float, size: int = 10) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    return aged(path, days)


def tree(root: Path) -> dict[str, float]:
    """Every entry under root (symlinks not followed) with its mtime."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            found[str(path.relative_to(root))] = os.lstat(path).st_mtime
    return found


def names(removals: Any, root: Path) -> set[str]:
    return {str(r.path.relative_to(root)) for r in removals}


def clean_temp(
    root: Path, *, days: float = 7, protect: tuple[str, ...] = (), dry_run: bool = False
) -> cleaning.RootCleaning:
    now = datetime.fromtimestamp(NOW, UTC)
    plan = cleaning.plan_temp(CleanupRoot(root, max_age_days=days), protect, now=now)
    return cleaning.execute(plan, dry_run=dry_run)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "tmp-root"
    path.mkdir()
    return path


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """Beside the root: old files nothing may ever delete."""
    path = tmp_path / "outside"
    write(path / "precious", 100)
    write(path / "deep" / "old", 100)
    aged(path / "deep", 100)
    return path


def intact(outside: Path) -> bool:
    return (outside / "precious").is_file() and (outside / "deep" / "old").is_file()


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


def test_a_root_that_is_a_symlink_is_refused(
    tmp_path: Path, outside: Path, recorded: Recorder
) -> None:
    link = tmp_path / "link-root"
    link.symlink_to(outside)
    result = clean_temp(link)
    assert result.error is not None and "symlink" in result.error
    assert result.removed == () and intact(outside)
    cleaning.record_cleaning([result])
    assert recorded.checks()[f"cleaning:temp:{link}"]["status"] == "fail"


def test_a_symlinked_root_is_refused_at_config_load(tmp_path: Path, outside: Path) -> None:
    (tmp_path / "link-root").symlink_to(outside)
    (tmp_path / "upkeep.yml").write_text("cleanup:\n  temp_roots:\n    - {path: link-root}\n")
    with pytest.raises(ConfigError, match="is a symlink"):
        load_config(tmp_path / "upkeep.yml")


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


def test_cache_still_over_its_limit_warns(tmp_path: Path, recorded: Recorder) -> None:
    cache = tmp_path / "cache"
    write(cache / "a", 1, size=500)
    write(cache / "b", 2, size=500)
    root = CleanupRoot(cache, max_age_days=30, max_bytes=100)
    plan = cleaning.plan_cache(root)
    # The file chosen first is replaced before removal: it is skipped, the root stays over.
    oldest = Path(plan.remove[0].path)
    assert oldest.name == "b"
    write(cache / "new", 0, size=500)
    os.replace(cache / "new", oldest)
    result = cleaning.execute(plan, dry_run=False)
    assert result.over_limit and result.bytes_after == 500
    cleaning.record_cleaning([result])
    check = recorded.checks()[f"cleaning:cache:{cache}"]
    assert (check["status"], check["value"], check["limit"]) == ("warn", 500, 100)
    assert "still over its limit" in check["message"]
    assert f"cleaning:cache:{cache}:skipped:{oldest}" in recorded.findings()


# ---------------------------------------------------------------- config, record, clean()


@pytest.mark.parametrize(
    ("key", "what"),
    [
        ("state_dir", "state directory"),
        ("runbooks_dir", "the runbooks"),
        ("evidence_dir", "the evidence directory"),
    ],
)
def test_roots_holding_upkeeps_own_directories_are_refused(
    tmp_path: Path, key: str, what: str
) -> None:
    """Outside the project too: a root that *contains* the evidence (or state, runbooks) dir."""
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "inner").mkdir(parents=True)
    project = tmp_path / "project"
    project.mkdir()
    (project / "upkeep.yml").write_text(
        f"{key}: {elsewhere / 'inner'}\ncleanup:\n  cache_roots:\n    - {{path: {elsewhere}}}\n"
    )
    with pytest.raises(ConfigError, match=what):
        load_config(project / "upkeep.yml")


def test_the_backup_store_is_refused_as_a_root(tmp_path: Path) -> None:
    (tmp_path / "upkeep.yml").write_text(
        "backup: {dir: var/backups}\ncleanup:\n  temp_roots:\n    - {path: var/backups}\n"
    )
    with pytest.raises(ConfigError, match="the backup store"):
        load_config(tmp_path / "upkeep.yml")


def test_clean_runs_temp_then_cache_with_the_configs_dry_run(tmp_path: Path) -> None:
    write(tmp_path / "t" / "old", 30)
    write(tmp_path / "c" / "old", 60)
    cleanup = Cleanup(
        temp_roots=(CleanupRoot(tmp_path / "t"),),
        cache_roots=(CleanupRoot(tmp_path / "c", max_age_days=30),),
        dry_run=True,
    )
    results = cleaning.clean(cleanup)
    assert [(r.purpose, r.dry_run, len(r.removed)) for r in results] == [
        ("temp", True, 1),
        ("cache", True, 1),
    ]
    assert (tmp_path / "t" / "old").exists() and (tmp_path / "c" / "old").exists()
    cleaning.clean(replace(cleanup, dry_run=False))
    assert not (tmp_path / "t" / "old").exists() and not (tmp_path / "c" / "old").exists()


def test_resolve_dry_run() -> None:
    assert cleaning.resolve_dry_run("config", Cleanup(dry_run=True)) is True
    assert cleaning.resolve_dry_run("config", Cleanup(dry_run=False)) is False
    assert cleaning.resolve_dry_run("yes", Cleanup(dry_run=False)) is True
    assert cleaning.resolve_dry_run("no", Cleanup(dry_run=True)) is False
    with pytest.raises(ValueError, match="config, yes, no"):
        cleaning.resolve_dry_run("maybe", Cleanup())


def test_record_cleaning_reports_what_went_and_what_was_skipped(
    root: Path, recorded: Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    write(root / "old", 30, size=2048)
    os.mkfifo(root / "fifo")
    aged(root / "fifo", 30)
    result = clean_temp(root)
    cleaning.record_cleaning([result])
    name = f"cleaning:temp:{root}"
    check = recorded.checks()[name]
    assert check["status"] == "ok" and "removed 1 entries, 2.0 KiB" in check["message"]
    metrics = {r["name"]: r["value"] for r in recorded.records if r["kind"] == "metric"}
    assert metrics == {
        "cleaning_removed_entries": 1,
        "cleaning_freed_bytes": 2048,
        "cleaning_root_bytes": 0,
        "cleaning_skipped_entries": 1,
    }
    finding = recorded.findings()[f"{name}:skipped:{root / 'fifo'}"]
    assert "not a regular file" in finding["message"]
    [line] = [x for x in capsys.readouterr().out.splitlines() if x.startswith("  removed")]
    assert line.split() == ["removed", "file", "2,048", "B", str(root / "old")]


def test_totals_warn_when_no_root_is_configured(tmp_path: Path, recorded: Recorder) -> None:
    cleaning.record_totals([])
    assert recorded.checks()["cleaning:total"]["status"] == "warn"
    write(tmp_path / "t" / "old", 30, size=3000)
    results = cleaning.clean(Cleanup(temp_roots=(CleanupRoot(tmp_path / "t"),)), dry_run=True)
    cleaning.record_totals(results)
    total = recorded.checks()["cleaning:total"]
    assert (total["status"], total["value"]) == ("ok", 3000)
    assert total["message"] == "would free 2.9 KiB (1 entries) in 1 roots"


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder()
    monkeypatch.setattr(cleaning, "report", recorder)
    return recorder
