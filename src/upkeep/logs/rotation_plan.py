"""Responsible for deciding whether a log is due for rotation and planning the steps that rotate
it: what the log and its copies are (and what stops the rotation), when it was last rotated, the
period, size and age rules, and the ordered list of deletions, moves and compressions.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path

from upkeep import state
from upkeep.config import LogRotation, LogSource
from upkeep.logs.layout import (
    ROTATION_STATE,
    RotatedCopy,
    copies_in_directory,
    copy_path,
    state_path,
)
from upkeep.records import Severity, Status

__all__ = [
    "PERIOD_NOUNS",
    "CopySurvey",
    "RotationProblem",
    "RotationProblemKind",
    "RotationResult",
    "Step",
    "StepAction",
    "decide",
    "first_seen",
    "last_rotated",
    "period_key",
    "plan_steps",
    "remember_first_seen",
    "survey",
]

PERIOD_NOUNS = {"hourly": "hour", "daily": "day", "weekly": "week", "monthly": "month"}


class StepAction(StrEnum):
    """What one step of a rotation does to a file."""

    ARCHIVE = "archive"  # into the log archive store, before a copy is deleted
    DELETE = "delete"
    MOVE = "move"
    RENAME = "rename"
    COPYTRUNCATE = "copytruncate"
    CREATE = "create"
    COMPRESS = "compress"
    SIGNAL = "signal"
    POSTROTATE = "postrotate"


@dataclass(frozen=True)
class Step:
    """One change a rotation makes (or would make, in a dry run), in order."""

    action: StepAction
    path: Path
    target: Path | None = None
    detail: str = ""

    def describe(self) -> str:
        if self.action is StepAction.POSTROTATE:
            return f"run postrotate: {self.detail}"
        target = f" -> {self.target.name}" if self.target is not None else ""
        detail = f" ({self.detail})" if self.detail else ""
        return f"{self.action} {self.path.name}{target}{detail}"


class RotationProblemKind(StrEnum):
    """What went wrong, or stops a rotation: part of the problem's finding key."""

    SYMLINK = "symlink"
    NOT_REGULAR = "not-regular"
    DUPLICATE = "duplicate"
    PID_FILE = "pid-file"
    SIGNAL = "signal"
    POSTROTATE = "postrotate"
    DELETE = "delete"
    UNARCHIVED = "unarchived"
    ERROR = "error"


@dataclass(frozen=True)
class RotationProblem:
    """Something reported, never raised: `fail` when a rotation broke, `warn` otherwise."""

    kind: RotationProblemKind
    message: str
    severity: Severity = Severity.WARN


@dataclass(frozen=True)
class RotationResult:
    """What rotating one log did, or in a dry run would do: `steps` is the same plan either way."""

    name: str
    path: Path
    method: str
    rotated: bool  # rotated, or would be in a dry run
    reason: str  # why it was (or was not) rotated
    dry_run: bool
    size_bytes: int  # the live log's size when the decision was made
    steps: tuple[Step, ...] = ()
    bytes_freed: int = 0  # by deleted copies (in a dry run: would be freed)
    problems: tuple[RotationProblem, ...] = ()
    last_rotated: datetime | None = None  # before this run
    # copytruncate only: seconds between the copy's last read and the truncate; whatever the
    # writer appended in that window is lost.
    lost_window_s: float | None = None
    vanished: tuple[Path, ...] = ()  # copies listed, then gone before they could be looked at

    @property
    def status(self) -> Status:
        severities = {problem.severity for problem in self.problems}
        if Severity.FAIL in severities:
            return Status.FAIL
        return Status.WARN if severities else Status.OK


@dataclass(frozen=True)
class CopySurvey:
    """The live log and its copies as found, and what stops the rotation (if anything)."""

    log: os.stat_result
    copies: tuple[RotatedCopy, ...]  # one per index, oldest last
    duplicates: tuple[RotatedCopy, ...]  # a plain copy whose .gz twin exists (a crash mid-gzip)
    refusals: tuple[RotationProblem, ...] = field(default_factory=tuple)
    vanished: tuple[Path, ...] = ()  # copies listed, then gone before they could be looked at


def survey(path: Path, log_stat: os.stat_result) -> CopySurvey:
    """The log and its copies; a log or copy that is a symlink or not a regular file, or a `.1`
    with a `.1.gz` twin, is a refusal: that log is not rotated. A copy that vanishes while the
    folder is listed is left out and counted in `vanished`."""
    refusals = [_refusal(path, log_stat, "the log")] if not stat.S_ISREG(log_stat.st_mode) else []
    found: dict[int, list[RotatedCopy]] = {}
    vanished: list[Path] = []
    for copy in copies_in_directory(path, vanished):
        if copy.date:
            continue  # named by date, as logrotate's dateext does: not a copy this rotation makes
        if not stat.S_ISREG(copy.stat.st_mode):
            refusals.append(_refusal(copy.path, copy.stat, "a rotated copy"))
            continue
        found.setdefault(copy.index, []).append(copy)
    copies, duplicates = [], []
    for index in sorted(found):
        twins = sorted(found[index], key=lambda copy: not copy.compressed)  # the .gz first
        copies.append(twins[0])
        duplicates.extend(twins[1:])
    if 1 in found and len(found[1]) > 1:
        # Never made here (`.1` is never compressed): whichever is deleted may be the one
        # the health check still has to read.
        refusals.append(
            RotationProblem(
                RotationProblemKind.DUPLICATE,
                f"both {path.name}.1 and {path.name}.1.gz exist; this log is not rotated "
                "until one of them is removed by hand",
            )
        )
    return CopySurvey(log_stat, tuple(copies), tuple(duplicates), tuple(refusals), tuple(vanished))


def _refusal(path: Path, entry: os.stat_result, what: str) -> RotationProblem:
    if stat.S_ISLNK(entry.st_mode):
        return RotationProblem(
            RotationProblemKind.SYMLINK,
            f"{path} ({what}) is a symlink: never followed; this log is not rotated",
        )
    return RotationProblem(
        RotationProblemKind.NOT_REGULAR,
        f"{path} ({what}) is not a regular file; this log is not rotated",
    )


def last_rotated(copies: tuple[RotatedCopy, ...], now: datetime) -> datetime | None:
    """The newest copy's modification time: rotation sets it on `.1` to the moment of rotation.

    The files say when a log was last rotated, not runbook state: a rotation is done the moment
    the files move, whether or not the run's evidence is published, and a record discarded with
    an unpublished run would let the next run rotate the same log twice in one period.
    """
    if not copies:
        return None
    return datetime.fromtimestamp(copies[0].stat.st_mtime, tz=now.tzinfo)


def period_key(moment: datetime, period: str) -> tuple[int, ...]:
    """The calendar period (in `moment`'s time zone) that `moment` falls in."""
    if period == "hourly":
        return (moment.year, moment.month, moment.day, moment.hour)
    if period == "daily":
        return (moment.year, moment.month, moment.day)
    if period == "weekly":
        return tuple(moment.isocalendar())[:2]
    if period == "monthly":
        return (moment.year, moment.month)
    raise ValueError(f"unknown rotation period {period!r}")


def decide(
    policy: LogRotation,
    size: int,
    last: datetime | None,
    first_sight: datetime | None,
    now: datetime,
) -> tuple[bool, str]:
    """Whether the log is due, and why (or why not): never twice in one period, never empty,
    then over `max_bytes`, then older than `max_age_days` since its last rotation (or, for a
    log never rotated, since it was first seen)."""
    this_period = period_key(now, policy.period)
    if last is not None and period_key(last.astimezone(now.tzinfo), policy.period) == this_period:
        noun = PERIOD_NOUNS[policy.period]
        return False, f"already rotated this {noun} (at {last.isoformat(timespec='seconds')})"
    if size == 0:
        return False, "empty: nothing to rotate"
    if policy.max_bytes is not None and size > policy.max_bytes:
        return True, f"size {size} B is over max_bytes {policy.max_bytes} B"
    since, what = (last, "last rotated") if last is not None else (first_sight, "first seen")
    if policy.max_age_days is not None and since is not None:
        age = now - since
        if age >= timedelta(days=policy.max_age_days):
            days = age.total_seconds() / 86400
            return True, f"{what} {days:.1f} days ago (max_age_days {policy.max_age_days:g})"
    return False, "not due"


def plan_steps(
    path: Path, policy: LogRotation, found: CopySurvey, due: bool, now: datetime
) -> list[Step]:
    """Deletions first, then the shift of the remaining copies, the rotation, compression."""
    steps = [
        Step(StepAction.DELETE, copy.path, detail="already compressed") for copy in found.duplicates
    ]
    # After a rotation every copy moves up one place: the one at index keep would be keep + 1.
    limit = policy.keep - 1 if due else policy.keep
    cutoff = None
    if policy.max_copy_age_days is not None:
        cutoff = now.timestamp() - policy.max_copy_age_days * 86400
    kept = []
    for copy in found.copies:
        if copy.index > limit:
            steps.append(Step(StepAction.DELETE, copy.path, detail=f"beyond keep {policy.keep}"))
        elif cutoff is not None and copy.stat.st_mtime < cutoff:
            detail = f"older than {policy.max_copy_age_days:g} days"
            steps.append(Step(StepAction.DELETE, copy.path, detail=detail))
        else:
            kept.append(copy)
    if due:
        for copy in reversed(kept):
            target = copy_path(path, copy.index + 1, compressed=copy.compressed)
            steps.append(Step(StepAction.MOVE, copy.path, target))
        first = copy_path(path, 1)
        if policy.method == "rename":
            steps += [Step(StepAction.RENAME, path, first), Step(StepAction.CREATE, path)]
        else:
            steps.append(Step(StepAction.COPYTRUNCATE, path, first))
    if policy.compress:
        shift = 1 if due else 0
        for copy in kept:
            index = copy.index + shift
            if not copy.compressed and index >= 2:
                source = copy_path(path, index)
                target = copy_path(path, index, compressed=True)
                steps.append(Step(StepAction.COMPRESS, source, target))
    if due and policy.method == "rename" and policy.pid_file is not None:
        steps.append(Step(StepAction.SIGNAL, policy.pid_file, detail=policy.signal))
    if due and policy.postrotate is not None:
        steps.append(Step(StepAction.POSTROTATE, path, detail=policy.postrotate))
    return steps


# The only rotation state kept in `state_dir`: when a log never rotated was first seen, the start
# of its `max_age_days` clock. Losing it only delays an age-based rotation.


def first_seen(log: LogSource, state_dir: Path, now: datetime) -> datetime | None:
    """When the log was first seen (in `now`'s time zone), or None if it never was."""
    try:
        record = state_dir / state_path(log, ROTATION_STATE)
        data = json.loads(record.read_text(encoding="utf-8"))
        return datetime.fromisoformat(data["first_seen"]).astimezone(now.tzinfo)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remember_first_seen(log: LogSource, state_dir: Path, now: datetime) -> None:
    """Keep `now` as the log's first sight, unless one is kept already."""
    if first_seen(log, state_dir, now) is None:
        record = {"path": str(log.path), "first_seen": now.isoformat(timespec="seconds")}
        state.save(state_dir, state_path(log, ROTATION_STATE), record)
