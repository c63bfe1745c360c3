"""Responsible for choosing which restore points the weekly verification restores, as a pure
function, and for saying how well the retained backups are covered.

`choose_restore_points` looks only at plain descriptions (`RestorePoint`). For each database it
chooses: the newest backup, always; every backup whose latest check failed (it keeps failing
until someone acts); every older backup that would otherwise go `every_weeks` weeks without a
passing restore before the next weekly run (counted from its last passing restore, or from when
it was taken if it never had one); and, to spread the work, the least recently restored older
backups until `ceil(older / every_weeks)` of the older ones are chosen. Run weekly, every
retained backup is then restored at least once every `every_weeks` weeks, and a week restores
about `1 + older / every_weeks` backups per database.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["RUN_INTERVAL", "Coverage", "RestorePoint", "choose_restore_points", "coverage"]

RUN_INTERVAL = timedelta(weeks=1)  # the verification runbook's cadence


@dataclass(frozen=True)
class RestorePoint:
    """One retained backup as rotation sees it. `last_verified` is when a restore check of it
    last passed (None: never); `failed` is True when its latest check failed."""

    id: str
    database: str
    created: datetime
    last_verified: datetime | None = None
    failed: bool = False


@dataclass(frozen=True)
class Coverage:
    """How many retained backups were restored and passed within the last `every_weeks` weeks
    (`verified`), how many are younger than that and not restored yet (`not_due`), and which
    are neither (`overdue`, oldest first)."""

    every_weeks: int
    total: int
    verified: int
    not_due: int
    overdue: tuple[str, ...]

    def __str__(self) -> str:
        text = (
            f"{self.verified}/{self.total} retained backups restored and verified within "
            f"{self.every_weeks} week(s)"
        )
        if self.not_due:
            text += f", {self.not_due} newer than that not restored yet"
        if self.overdue:
            text += f"; overdue: {', '.join(self.overdue)}"
        return text


def choose_restore_points(
    points: Iterable[RestorePoint], now: datetime, every_weeks: int
) -> dict[str, str]:
    """The backups to restore this week, by id (database by database, oldest first), each with
    why it was chosen."""
    if every_weeks < 1:
        raise ValueError(f"every_weeks: expected >= 1, got {every_weeks}")
    chosen: dict[str, str] = {}
    for database, backups in sorted(_by_database(points).items()):
        newest, older = backups[-1], backups[:-1]
        picked = {newest.id: f"the newest backup of {database}"}
        for point in older:
            why = _must_restore(point, now, every_weeks)
            if why is not None:
                picked[point.id] = why
        quota = math.ceil(len(older) / every_weeks)
        for point in sorted(older, key=_least_recently_verified):
            if sum(1 for p in older if p.id in picked) >= quota:
                break
            picked.setdefault(point.id, "its turn in the rotation (least recently restored)")
        chosen.update((p.id, picked[p.id]) for p in backups if p.id in picked)
    return chosen


def coverage(points: Sequence[RestorePoint], now: datetime, every_weeks: int) -> Coverage:
    """The coverage of `points` at `now` (give it the points as they are after this run)."""
    window = timedelta(weeks=every_weeks)
    verified = not_due = 0
    overdue = []
    for point in sorted(points, key=lambda p: (p.created, p.id)):
        if (
            point.last_verified is not None
            and not point.failed
            and now - point.last_verified <= window
        ):
            verified += 1
        elif not point.failed and now - point.created <= window:
            not_due += 1
        else:
            overdue.append(point.id)
    return Coverage(every_weeks, len(points), verified, not_due, tuple(overdue))


def _by_database(points: Iterable[RestorePoint]) -> dict[str, list[RestorePoint]]:
    grouped: dict[str, list[RestorePoint]] = {}
    for point in points:
        grouped.setdefault(point.database, []).append(point)
    for backups in grouped.values():
        backups.sort(key=lambda p: (p.created, p.id))
        if len({p.id for p in backups}) != len(backups):
            raise ValueError("restore point ids must be unique")
    return grouped


def _must_restore(point: RestorePoint, now: datetime, every_weeks: int) -> str | None:
    if point.failed:
        return "its latest check failed"
    since = point.last_verified or point.created
    # Restored next week instead, it would have gone `every_weeks` weeks without a restore.
    if now + RUN_INTERVAL - since > timedelta(weeks=every_weeks):
        days = (now - since).total_seconds() / 86400
        if point.last_verified is None:
            return f"never restored; taken {days:.1f} days ago"
        return f"last restored {days:.1f} days ago"
    return None


def _least_recently_verified(point: RestorePoint) -> tuple[bool, datetime, datetime, str]:
    never = point.last_verified is None
    return (not never, point.last_verified or point.created, point.created, point.id)
