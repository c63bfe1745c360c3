"""upkeep.backup.rotation: which restore points a weekly run restores, as properties over
generated stores run week after week, and the coverage it reports."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from upkeep.backup.rotation import RestorePoint, choose_restore_points, coverage

START = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
WEEK = timedelta(weeks=1)

hours = st.integers(min_value=0, max_value=24 * 7 * 20)
points_of_one_database = st.lists(
    st.tuples(hours, st.one_of(st.none(), hours)), min_size=1, max_size=25
)


def _points(raw: list[tuple[int, int | None]], database: str = "app") -> list[RestorePoint]:
    """Backups taken up to 20 weeks before START, some verified since they were taken."""
    points = []
    for n, (age, verified_age) in enumerate(raw):
        created = START - timedelta(hours=age)
        verified = None
        if verified_age is not None and verified_age <= age:
            verified = START - timedelta(hours=verified_age)
        points.append(RestorePoint(f"{database}-{n:03d}", database, created, verified))
    return points


def _run_weeks(
    points: list[RestorePoint], every: int, weeks: int, new_each_week: bool
) -> list[tuple[datetime, list[RestorePoint], dict[str, str]]]:
    """Run the rotation weekly, every chosen backup passing; optionally a new backup a day
    before each run and the oldest one deleted (retention)."""
    history = []
    now = START
    for week in range(weeks):
        if new_each_week:
            created = now - timedelta(days=1)
            points = [*points[1:], RestorePoint(f"new-{week:03d}", "app", created)]
        chosen = choose_restore_points(points, now, every)
        points = [replace(p, last_verified=now) if p.id in chosen else p for p in points]
        history.append((now, points, chosen))
        now += WEEK
    return history


@settings(max_examples=150, deadline=None)
@given(points_of_one_database, st.integers(min_value=1, max_value=6), st.booleans())
def test_every_retained_backup_is_restored_at_least_once_every_n_weeks(
    raw: list[tuple[int, int | None]], every: int, new_each_week: bool
) -> None:
    for now, points, _ in _run_weeks(_points(raw), every, 3 * every + 2, new_each_week):
        for point in points:
            since = point.last_verified or point.created
            # Until the next weekly run, no backup goes `every` weeks without a restore.
            assert now + WEEK - since <= timedelta(weeks=every), (point, now)


@settings(max_examples=150, deadline=None)
@given(points_of_one_database, st.integers(min_value=1, max_value=6))
def test_the_newest_is_always_restored_and_the_work_is_spread_over_the_weeks(
    raw: list[tuple[int, int | None]], every: int
) -> None:
    history = _run_weeks(_points(raw), every, 4 * every, new_each_week=False)
    for _, points, chosen in history:
        newest = max(points, key=lambda p: (p.created, p.id))
        assert newest.id in chosen
    older = len(raw) - 1
    # Once the backlog a store starts with is worked off (the first `every` runs may find many
    # backups due at once), a week restores the newest and at most its share of the older ones.
    for _, _, chosen in history[every:]:
        assert len(chosen) <= 1 + math.ceil(older / every), chosen


def test_failed_backups_are_restored_again_every_week() -> None:
    failed = RestorePoint("app-1", "app", START - WEEK, START - timedelta(days=1), failed=True)
    fine = RestorePoint("app-2", "app", START - timedelta(days=3), START - timedelta(days=3))
    newest = RestorePoint("app-3", "app", START - timedelta(days=1), START - timedelta(days=1))
    chosen = choose_restore_points([newest, fine, failed], START, every_weeks=4)
    assert chosen == {
        "app-1": "its latest check failed",
        "app-3": "the newest backup of app",
    }


def test_each_database_has_its_own_newest() -> None:
    points = [
        RestorePoint("a-1", "a", START - WEEK, START - WEEK),
        RestorePoint("b-1", "b", START - 2 * WEEK, START - 2 * WEEK),
    ]
    assert set(choose_restore_points(points, START, every_weeks=4)) == {"a-1", "b-1"}


def test_coverage_counts_verified_not_yet_due_and_overdue() -> None:
    points = [
        RestorePoint("old-ok", "app", START - 9 * WEEK, START - 2 * WEEK),
        RestorePoint("old-never", "app", START - 9 * WEEK),
        RestorePoint("young-never", "app", START - timedelta(days=2)),
        RestorePoint("failed", "app", START - WEEK, START - WEEK, failed=True),
    ]
    found = coverage(points, START, every_weeks=4)
    assert (found.total, found.verified, found.not_due) == (4, 1, 1)
    assert found.overdue == ("old-never", "failed")
    assert str(found) == (
        "1/4 retained backups restored and verified within 4 week(s), 1 newer than that not "
        "restored yet; overdue: old-never, failed"
    )


def test_every_weeks_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="every_weeks"):
        choose_restore_points([], START, every_weeks=0)
