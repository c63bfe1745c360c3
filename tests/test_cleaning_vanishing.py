"""Entries that vanish while a root is cleaned (issue 19): skipped and counted as vanished,
anywhere in the tree and the root's own listing included, the rest of the root still cleaned;
messages name the path that failed. Deterministic cases remove a real entry at an exact moment;
the concurrent case runs real cleanings while a real process renames and deletes entries."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from helpers.cleaning import clean_temp, names, tree
from helpers.files import NOW, aged, write
from helpers.unprivileged import run_bound_by_permissions
from helpers.vanishing import churning, vanishing

from upkeep import cleaning
from upkeep.config import CleanupRoot


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "tmp-root"
    path.mkdir()
    return path


def _old_files(folder: Path, count: int, prefix: str = "old") -> set[Path]:
    return {write(folder / f"{prefix}-{i}", 30) for i in range(count)}


# ---------------------------------------------------------------- between listing and stat


def test_an_entry_removed_right_after_the_roots_listing_is_counted_and_the_rest_cleaned(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _old_files(root, 5)
    write(root / "victim", 30)
    with vanishing(monkeypatch, before_stat=("victim",)):
        result = clean_temp(root)
    assert result.error is None
    assert names(result.removed, root) == {f"old-{i}" for i in range(5)}
    assert [v.path for v in result.vanished] == [root / "victim"]
    assert result.failed == () and tree(root) == {}


def test_an_entry_removed_right_after_a_subfolders_listing_does_not_spare_the_subfolder(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _old_files(root / "sub", 3)
    write(root / "sub" / "victim", 30)
    aged(root / "sub", 30)
    with vanishing(monkeypatch, before_stat=("victim",)):
        result = clean_temp(root)
    assert result.error is None
    # The vanished entry was counted among the folder's entries: it is not planned as emptied.
    assert names(result.removed, root) == {"sub/old-0", "sub/old-1", "sub/old-2"}
    assert [v.path for v in result.vanished] == [root / "sub" / "victim"]
    assert result.skipped == ()


def test_a_folder_removed_between_its_listing_and_entering_it_is_counted(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (root / "gone").mkdir()
    _old_files(root, 2)
    with vanishing(monkeypatch, after_stat=("gone",)):
        result = clean_temp(root)
    assert result.error is None and result.skipped == ()
    assert names(result.removed, root) == {"old-0", "old-1"}
    assert [v.path for v in result.vanished] == [root / "gone"]


def test_a_cache_root_counts_its_vanished_entries_too(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _old_files(root, 3)
    write(root / "victim", 30)
    now = datetime.fromtimestamp(NOW, UTC)
    with vanishing(monkeypatch, before_stat=("victim",)):
        plan = cleaning.plan_cache(CleanupRoot(root, max_age_days=7, max_bytes=1), now=now)
    result = cleaning.execute(plan, dry_run=False)
    assert result.error is None and len(result.removed) == 3
    assert [v.path for v in result.vanished] == [root / "victim"]


# ---------------------------------------------------------------- between stat and removal


@pytest.mark.parametrize("dry_run", [False, True])
def test_an_entry_gone_between_the_scan_and_its_removal_is_vanished_not_failed(
    root: Path, dry_run: bool
) -> None:
    _old_files(root, 2)
    victim = write(root / "d" / "victim", 30)
    aged(root / "d", 30)
    plan = cleaning.plan_temp(CleanupRoot(root), now=datetime.fromtimestamp(NOW, UTC))
    victim.unlink()
    result = cleaning.execute(plan, dry_run=dry_run)
    assert [v.path for v in result.vanished] == [victim]
    assert result.failed == ()
    assert names(result.removed, root) == {"old-0", "old-1", "d"}
    assert result.removed_count == 3


def test_a_folder_gone_between_the_scan_and_the_removal_of_its_files_is_vanished(
    root: Path,
) -> None:
    _old_files(root / "d", 2)
    _old_files(root, 1, "top")
    plan = cleaning.plan_temp(CleanupRoot(root), now=datetime.fromtimestamp(NOW, UTC))
    (root / "d").rename(root / "d-moved")
    result = cleaning.execute(plan, dry_run=False)
    assert names(result.removed, root) == {"top-0"}
    assert {v.path for v in result.vanished} == {root / "d" / "old-0", root / "d" / "old-1"}
    assert (root / "d-moved" / "old-0").exists()  # moved, not ours to follow


# ---------------------------------------------------------------- what the messages name


def test_a_root_that_cannot_be_opened_says_so_and_names_the_root(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    result = clean_temp(missing)
    assert result.error == (
        f"the cleaning root cannot be opened: No such file or directory: {missing}"
    )


_CLEAN_IN_CHILD = """
import json, sys
from pathlib import Path
from upkeep import cleaning
from upkeep.config import CleanupRoot
plan = cleaning.plan_temp(CleanupRoot(Path(sys.argv[1]), max_age_days=7))
result = cleaning.execute(plan, dry_run=False)
print(json.dumps({
    "error": result.error,
    "removed": sorted(str(r.path) for r in result.removed),
    "skipped": [[str(r.path), r.skipped] for r in result.skipped],
}))
"""


def _clean_bound_by_permissions(root: Path) -> dict[str, Any]:
    child = run_bound_by_permissions(_CLEAN_IN_CHILD, str(root))
    assert child.returncode == 0, child.stderr
    return json.loads(child.stdout)


def test_a_root_that_cannot_be_read_says_so_and_names_the_root(root: Path) -> None:
    write(root / "old", 30)
    root.chmod(0o300)  # enter and write, but not read
    try:
        result = _clean_bound_by_permissions(root)
    finally:
        root.chmod(0o700)
    assert result["error"] == f"the cleaning root cannot be opened: Permission denied: {root}"
    assert (root / "old").exists()


def test_a_folder_that_cannot_be_read_is_named_itself_and_the_rest_cleaned(root: Path) -> None:
    locked = root / "locked"
    write(locked / "old", 30)
    write(root / "old", 30)
    locked.chmod(0o300)
    try:
        result = _clean_bound_by_permissions(root)
    finally:
        locked.chmod(0o700)
    assert result["error"] is None and result["removed"] == [str(root / "old")]
    assert result["skipped"] == [[str(locked), "cannot enter: Permission denied"]]


# ---------------------------------------------------------------- a real concurrent process

REPETITIONS = 150
RACE_WAIT_S = 30


def test_cleaning_a_root_that_another_process_churns_always_cleans_what_it_should(
    root: Path,
) -> None:
    vanished = 0
    # At least REPETITIONS cleanings, and on until one raced the churn: on a busy machine the
    # churning process may get no CPU for a while (bounded, so a cleaning that never sees a
    # vanished entry still fails below).
    give_up = time.monotonic() + RACE_WAIT_S
    with churning(root) as churn:
        repetition = 0
        while repetition < REPETITIONS or (vanished == 0 and time.monotonic() < give_up):
            repetition += 1
            stable = _old_files(root, 20, f"stable{repetition}")
            result = clean_temp(root)
            assert result.error is None, f"repetition {repetition}: {result.error}"
            removed = {r.path for r in result.removed}
            assert stable <= removed, f"repetition {repetition}: {stable - removed} left"
            assert not any(path.exists() for path in stable)
            # Whatever was skipped or vanished is the churning process's, never a stable file.
            touched = {r.path for r in result.all_skipped} | {v.path for v in result.vanished}
            assert not touched & stable
            assert all(
                p.name.startswith(("churn-", "spin", "spun")) or p.parent.name in ("spin", "spun")
                for p in touched
            ), touched
            vanished += len(result.vanished)
        assert churn.poll() is None  # it churned the whole time
    assert vanished > 0, "the churning process never raced a cleaning: the test proved nothing"
