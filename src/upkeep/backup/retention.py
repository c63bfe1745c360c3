"""Responsible for deciding which backups to keep and which to delete, as a pure function.

`plan_retention` looks only at plain descriptions of backups (`BackupRef`); the store maps its
manifests to them and applies the plan. The rules, in this order:

1. For each of the last `keep_daily` calendar days, `keep_weekly` ISO weeks and `keep_monthly`
   calendar months counted back from `now` (the current one included), the newest backup created
   in it is kept. A period without a backup keeps nothing and is not made up for by older ones.
2. The newest full backup whose restore was verified is kept, whatever its age, and so is the
   newest backup created by `now`, whatever the counts: a run never deletes the backup it made.
3. Every backup that a kept backup is based on is kept too, transitively down to its chain's
   full backup: deleting it would make the kept incremental unrestorable.
4. A backup created after `now` (a clock moved backwards) is kept: its age is unknown.

Everything else is deleted. Periods are taken in `now`'s time zone; a naive `now` or `created`
is taken as UTC.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

from upkeep.config import BackupPolicy

__all__ = ["BackupRef", "RetentionPlan", "plan_retention"]


@dataclass(frozen=True)
class BackupRef:
    """What retention needs to know of one backup."""

    id: str
    created: datetime
    full: bool
    base: str | None
    verified: bool


@dataclass(frozen=True)
class RetentionPlan:
    """Ids to keep (oldest first) and to delete, and why each one is kept or deleted.

    `delete` is in the safe order to delete in: every backup before the backups it is based on
    (deepest in its chain first, then newest first), so an interrupted deletion never leaves an
    incremental whose base is gone.
    """

    keep: tuple[str, ...]
    delete: tuple[str, ...]
    reasons: dict[str, str]


def plan_retention(
    backups: Sequence[BackupRef], policy: BackupPolicy, now: datetime
) -> RetentionPlan:
    """Which of `backups` the policy keeps at `now`, and which may be deleted."""
    now = _aware(now)
    backups = [replace(b, created=_aware(b.created)) for b in backups]
    ids = [backup.id for backup in backups]
    if len(set(ids)) != len(ids):
        raise ValueError("backup ids must be unique")
    ordered = sorted(backups, key=lambda b: (b.created, b.id))
    reasons: dict[str, list[str]] = {}
    for reason, backup in _policy_picks(ordered, policy, now):
        reasons.setdefault(backup.id, []).append(reason)
    verified_fulls = [b for b in ordered if b.full and b.verified]
    if verified_fulls:
        reasons.setdefault(verified_fulls[-1].id, []).append("newest verified full")
    made = [b for b in ordered if b.created <= now]
    if made and made[-1].id not in reasons:  # counts of 0 (a policy made in code) keep nothing
        reasons[made[-1].id] = ["newest backup"]
    for backup in ordered:
        if backup.created > now:
            reasons.setdefault(backup.id, []).append("created after now")
    _keep_dependencies(ordered, reasons)
    keep = tuple(b.id for b in ordered if b.id in reasons)
    depth = _depths(ordered)
    doomed = [b for b in reversed(ordered) if b.id not in reasons]
    delete = tuple(b.id for b in sorted(doomed, key=lambda b: -depth[b.id]))  # stable: newest
    explained = {key: "; ".join(value) for key, value in reasons.items()}
    explained.update({key: "not selected by the policy" for key in delete})
    return RetentionPlan(keep=keep, delete=delete, reasons=explained)


def _aware(moment: datetime) -> datetime:
    """`moment` with a time zone: a naive datetime is taken as UTC (as manifests record it)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _local(moment: datetime, now: datetime) -> datetime:
    """`moment` in `now`'s time zone, where days, weeks and months are counted."""
    return moment.astimezone(now.tzinfo)


def _policy_picks(
    ordered: Sequence[BackupRef], policy: BackupPolicy, now: datetime
) -> list[tuple[str, BackupRef]]:
    """(reason, backup) for the newest backup of each recent day, week and month."""
    today = now.date()
    rules: list[tuple[str, int, Callable[[date], Hashable], Callable[[Hashable], str]]] = [
        ("daily", policy.keep_daily, _day, lambda key: f"{key}"),
        ("weekly", policy.keep_weekly, _week, lambda key: "{}-W{:02d}".format(*key)),
        ("monthly", policy.keep_monthly, _month, lambda key: "{}-{:02d}".format(*key)),
    ]
    picks: list[tuple[str, BackupRef]] = []
    for name, count, period_of, label in rules:
        recent = set(_recent_periods(today, count, period_of))
        newest: dict[Hashable, BackupRef] = {}
        for backup in ordered:  # oldest first: the last one seen in a period is its newest
            created = _local(backup.created, now)
            key = period_of(created.date())
            if created <= now and key in recent:
                newest[key] = backup
        picks.extend((f"{name} {label(key)}", backup) for key, backup in newest.items())
    return picks


def _day(day: date) -> Hashable:
    return day


def _week(day: date) -> Hashable:
    year, week, _ = day.isocalendar()
    return (year, week)


def _month(day: date) -> Hashable:
    return (day.year, day.month)


def _recent_periods(
    today: date, count: int, period_of: Callable[[date], Hashable]
) -> list[Hashable]:
    """The keys of the `count` periods up to and including today's, newest first."""
    periods: list[Hashable] = []
    day = today
    # Step back a day at a time: simple, and exact across month and ISO-year boundaries; at
    # most 31 steps per period, and policies name tens of periods.
    while len(periods) < count:
        key = period_of(day)
        if not periods or periods[-1] != key:
            periods.append(key)
        if day == date.min:
            break
        day -= timedelta(days=1)
    return periods


def _depths(ordered: Sequence[BackupRef]) -> dict[str, int]:
    """How many backups each one is based on, transitively (0 for a full backup)."""
    by_id = {backup.id: backup for backup in ordered}
    depth: dict[str, int] = {}
    for backup in ordered:
        chain = [backup.id]
        base = backup.base
        while base in by_id and base not in depth and base not in chain:
            chain.append(base)
            base = by_id[base].base
        known = depth.get(base, -1) if base is not None else -1
        for offset, backup_id in enumerate(reversed(chain), start=1):
            depth[backup_id] = known + offset
    return depth


def _keep_dependencies(ordered: Sequence[BackupRef], reasons: dict[str, list[str]]) -> None:
    """Add the base of every kept backup, transitively, naming the kept backup that needs it."""
    by_id = {backup.id: backup for backup in ordered}
    pending = [backup.id for backup in ordered if backup.id in reasons]
    while pending:
        backup = by_id[pending.pop()]
        base = backup.base
        if base is None or base not in by_id:
            continue  # a full backup, or a base that is gone already: nothing left to protect
        first_time = base not in reasons
        reasons.setdefault(base, []).append(f"base of {backup.id}")
        if first_time:
            pending.append(base)
