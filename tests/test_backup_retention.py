"""Tests for upkeep.backup.retention: which backups a policy keeps, by example and by property."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from upkeep.backup.retention import BackupRef, RetentionPlan, plan_retention
from upkeep.config import BackupPolicy

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)  # a Friday, ISO week 48


def policy(daily: int = 0, weekly: int = 0, monthly: int = 0) -> BackupPolicy:
    return BackupPolicy(keep_daily=daily, keep_weekly=weekly, keep_monthly=monthly)


def full(id: str, created: datetime, verified: bool = False) -> BackupRef:
    return BackupRef(id=id, created=created, full=True, base=None, verified=verified)


def incr(id: str, created: datetime, base: str) -> BackupRef:
    return BackupRef(id=id, created=created, full=False, base=base, verified=False)


def days_ago(n: float) -> datetime:
    return NOW - timedelta(days=n)


# ---------------------------------------------------------------- examples


def test_keep_daily_keeps_the_newest_of_each_recent_day_and_deletes_the_rest() -> None:
    backups = [full(f"b{n}", days_ago(n)) for n in range(10)]
    plan = plan_retention(backups, policy(daily=3), NOW)
    assert plan.keep == ("b2", "b1", "b0")  # oldest first
    assert plan.delete == ("b3", "b4", "b5", "b6", "b7", "b8", "b9")  # newest first
    assert plan.reasons["b0"] == "daily 2026-11-27"
    assert plan.reasons["b9"] == "not selected by the policy"


def test_deletion_order_puts_each_backup_before_its_base() -> None:
    same_second = days_ago(40)  # ties in time: the order must come from the chain, not the id
    chain = [
        full("b9", same_second),
        incr("b10", same_second, "b9"),
        incr("b2", same_second, "b10"),
    ]
    plan = plan_retention([*chain, full("new", days_ago(0))], policy(daily=1), NOW)
    assert plan.delete == ("b2", "b10", "b9")


def test_only_the_newest_backup_of_a_day_is_kept() -> None:
    morning = full("morning", NOW.replace(hour=1))
    night = full("night", NOW.replace(hour=0))
    plan = plan_retention([night, morning], policy(daily=7), NOW)
    assert plan.keep == ("morning",)
    assert plan.delete == ("night",)


def test_a_kept_incremental_keeps_its_whole_chain() -> None:
    chain = [full("f", days_ago(4))] + [
        incr(f"i{n}", days_ago(4 - n), base="f" if n == 1 else f"i{n - 1}") for n in range(1, 5)
    ]
    unrelated = full("old", days_ago(30))
    plan = plan_retention([unrelated, *chain], policy(daily=1), NOW)
    assert plan.keep == ("f", "i1", "i2", "i3", "i4")
    assert plan.delete == ("old",)
    assert plan.reasons["i4"] == "daily 2026-11-27"
    assert plan.reasons["i3"] == "base of i4"
    assert plan.reasons["f"] == "base of i1"


def test_the_newest_verified_full_is_kept_whatever_its_age() -> None:
    backups = [
        full("verified-old", days_ago(400), verified=True),
        full("verified-older", days_ago(500), verified=True),
        full("unverified-new", days_ago(300)),
    ]
    plan = plan_retention(backups, policy(), NOW)
    assert plan.keep == ("verified-old", "unverified-new")
    assert plan.reasons["verified-old"] == "newest verified full"
    assert plan.delete == ("verified-older",)


def test_the_newest_backup_survives_a_policy_that_keeps_nothing() -> None:
    # upkeep.yml refuses all counts 0; a policy made in code must still not delete the backup
    # the run has just made (and reported OK).
    backups = [full("yesterday", days_ago(1)), incr("just-made", days_ago(0), base="yesterday")]
    plan = plan_retention(backups, policy(), NOW)
    assert plan.keep == ("yesterday", "just-made")
    assert plan.reasons["just-made"] == "newest backup"
    assert plan.reasons["yesterday"] == "base of just-made"
    assert plan.delete == ()


def test_weekly_and_monthly_periods_count_back_from_now() -> None:
    backups = [
        full("this-week", days_ago(3)),  # Tuesday of week 48
        full("last-week", days_ago(7)),  # week 47
        full("two-weeks-ago", days_ago(14)),  # week 46: outside keep_weekly=2
        full("october", datetime(2026, 10, 15, tzinfo=UTC)),
        full("september", datetime(2026, 9, 15, tzinfo=UTC)),  # outside keep_monthly=2
    ]
    plan = plan_retention(backups, policy(weekly=2, monthly=2), NOW)
    assert set(plan.keep) == {"this-week", "last-week", "october"}
    assert plan.reasons["this-week"] == "weekly 2026-W48; monthly 2026-11"
    assert plan.reasons["october"] == "monthly 2026-10"


def test_iso_weeks_cross_the_year_boundary() -> None:
    now = datetime(2027, 1, 2, 12, tzinfo=UTC)  # Saturday of ISO week 2026-W53
    backups = [
        full("monday-w53", datetime(2026, 12, 28, tzinfo=UTC)),
        full("sunday-w52", datetime(2026, 12, 27, tzinfo=UTC)),
    ]
    plan = plan_retention(backups, policy(weekly=1), now)
    assert plan.keep == ("monday-w53",)
    assert plan.reasons["monday-w53"] == "weekly 2026-W53"


def test_days_follow_nows_time_zone() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    now = datetime(2026, 11, 27, 12, tzinfo=berlin)
    # 23:30 UTC on the 26th is already the 27th in Berlin: it is today's backup there.
    late = full("late", datetime(2026, 11, 26, 23, 30, tzinfo=UTC))
    early = full("early", datetime(2026, 11, 26, 22, 30, tzinfo=UTC))  # 23:30 on the 26th
    plan = plan_retention([early, late], policy(daily=1), now)
    assert plan.keep == ("late",)


def test_naive_times_are_taken_as_utc() -> None:
    naive_now = NOW.replace(tzinfo=None)
    backups = [full("aware", days_ago(1)), full("naive", days_ago(0).replace(tzinfo=None))]
    plan = plan_retention(backups, policy(daily=2), naive_now)
    assert plan.keep == ("aware", "naive")


def test_a_backup_from_the_future_is_kept() -> None:
    plan = plan_retention([full("future", NOW + timedelta(hours=2))], policy(), NOW)
    assert plan.keep == ("future",)
    assert plan.reasons["future"] == "created after now"


def test_duplicate_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="unique"):
        plan_retention([full("a", days_ago(1)), full("a", days_ago(2))], policy(daily=3), NOW)


# ---------------------------------------------------------------- properties

ZONES = [UTC, ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York"), ZoneInfo("Asia/Kolkata")]


@st.composite
def backup_histories(draw: st.DrawFn) -> tuple[list[BackupRef], datetime]:
    """Backups over up to ~2 years before `now`, each incremental based on an earlier backup."""
    now = draw(st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2027, 12, 31)))
    now = now.replace(tzinfo=draw(st.sampled_from(ZONES)))
    ages = draw(st.lists(st.integers(0, 800 * 24 * 60), min_size=0, max_size=40))
    backups: list[BackupRef] = []
    for index, minutes in enumerate(sorted(ages, reverse=True)):  # oldest first
        created = (now - timedelta(minutes=minutes)).astimezone(UTC)
        if index == 0 or draw(st.booleans()):
            backups.append(full(f"b{index}", created, verified=draw(st.booleans())))
        else:
            base = backups[draw(st.integers(0, index - 1))].id
            backups.append(incr(f"b{index}", created, base))
    shuffled = draw(st.permutations(backups))
    return list(shuffled), now


policies = st.builds(
    policy,
    daily=st.integers(0, 10),
    weekly=st.integers(0, 8),
    monthly=st.integers(0, 14),
)


def expected_picks(backups: list[BackupRef], rules: BackupPolicy, now: datetime) -> set[str]:
    """An independent oracle: the newest backup of each of the last N days, weeks and months."""
    today = now.date()
    windows = [
        ({today - timedelta(days=k) for k in range(rules.keep_daily)}, lambda d: d),
        (
            {(today - timedelta(weeks=k)).isocalendar()[:2] for k in range(rules.keep_weekly)},
            lambda d: d.isocalendar()[:2],
        ),
        (
            {_month_back(today, k) for k in range(rules.keep_monthly)},
            lambda d: (d.year, d.month),
        ),
    ]
    picks: set[str] = set()
    for periods, period_of in windows:
        for period in periods:
            inside = [
                b for b in backups if period_of(b.created.astimezone(now.tzinfo).date()) == period
            ]
            if inside:
                picks.add(max(inside, key=lambda b: (b.created, b.id)).id)
    return picks


def _month_back(day: date, k: int) -> tuple[int, int]:
    index = day.year * 12 + day.month - 1 - k
    return (index // 12, index % 12 + 1)


def ancestors(backup_id: str, by_id: dict[str, BackupRef]) -> set[str]:
    found: set[str] = set()
    base = by_id[backup_id].base
    while base is not None and base not in found:
        found.add(base)
        base = by_id[base].base
    return found


@settings(max_examples=300, deadline=None)
@given(history=backup_histories(), rules=policies)
def test_retention_properties(
    history: tuple[list[BackupRef], datetime], rules: BackupPolicy
) -> None:
    backups, now = history
    by_id = {b.id: b for b in backups}
    plan = plan_retention(backups, rules, now)
    kept, deleted = set(plan.keep), set(plan.delete)

    # Every backup is decided exactly once, with a reason.
    assert kept | deleted == set(by_id) and not kept & deleted
    assert set(plan.reasons) == set(by_id)

    # Nothing that a kept backup needs is deleted, transitively.
    for backup_id in kept:
        assert ancestors(backup_id, by_id) <= kept

    # The newest verified full is kept.
    verified = [b for b in backups if b.full and b.verified]
    if verified:
        assert max(verified, key=lambda b: (b.created, b.id)).id in kept

    # The newest backup is kept, whatever the policy: it is the one the run has just made.
    newest = max(backups, key=lambda b: (b.created, b.id)).id if backups else None
    if newest is not None:
        assert newest in kept

    # The counts match the policy: each recent period that has a backup keeps its newest, and
    # nothing else is kept except what those, the newest backup and the newest verified full
    # depend on.
    picks = expected_picks(backups, rules, now)
    assert picks <= kept
    roots = picks | ({max(verified, key=lambda b: (b.created, b.id)).id} if verified else set())
    roots |= {newest} if newest is not None else set()
    needed = roots | {a for r in roots for a in ancestors(r, by_id)}
    assert kept == needed

    # Kept are listed oldest first; deleting in the listed order never removes a base before a
    # backup that is based on it.
    order = sorted(backups, key=lambda b: (b.created, b.id))
    assert list(plan.keep) == [b.id for b in order if b.id in kept]
    position = {backup_id: i for i, backup_id in enumerate(plan.delete)}
    for backup_id in plan.delete:
        base = by_id[backup_id].base
        assert base not in position or position[base] > position[backup_id]


def test_plan_is_a_plain_value() -> None:
    plan = plan_retention([full("a", days_ago(0))], policy(daily=1), NOW)
    assert plan == RetentionPlan(keep=("a",), delete=(), reasons={"a": "daily 2026-11-27"})
