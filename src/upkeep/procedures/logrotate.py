"""Responsible for the daily cleaning's log-rotation procedure: `rotate_logs` rotates the configured
logs (`upkeep.logs.rotate`; with `log_backup:` configured, a copy is archived before it is
deleted, `upkeep.backup.logs.guard`), `record_rotations` records one check per log,
the steps taken, metrics and a finding per problem, and `summary` says in one line what happened.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from upkeep import report
from upkeep.config import LogSource
from upkeep.config.log_backup import LogBackup
from upkeep.logs import rotate
from upkeep.logs.rotation_plan import RotationResult, StepAction
from upkeep.units import human_size

__all__ = ["record_rotations", "rotate_logs", "summary"]


def rotate_logs(
    logs: Sequence[LogSource],
    *,
    state_dir: Path,
    dry_run: bool,
    now: datetime | None = None,
    log_backup: LogBackup | None = None,
) -> list[RotationResult]:
    """Rotate the logs that are due (`upkeep.logs.rotate.rotate_logs`); with log backups
    configured, every copy the rotation deletes is archived first, or nothing of its log is
    deleted."""
    from upkeep.backup.logs.guard import keeper_for

    keeper = None if log_backup is None else keeper_for(log_backup, now)
    return rotate.rotate_logs(logs, state_dir=state_dir, dry_run=dry_run, now=now, keeper=keeper)


def record_rotations(results: Sequence[RotationResult]) -> None:
    """One check per log (warn on a reported problem, fail on a broken rotation), the steps
    taken as readable lines, metrics, and a finding per problem."""
    for result in results:
        labels = {"log": result.name}
        verb = "would " if result.dry_run else ""
        for step in result.steps:
            print(f"  {result.name}: {verb}{step.describe()}")
        report.metric("log_rotated", int(result.rotated), labels=labels)
        report.metric("log_rotation_bytes_freed", result.bytes_freed, unit="B", labels=labels)
        if result.lost_window_s is not None:
            report.metric(
                "log_copytruncate_window_s", round(result.lost_window_s, 6), unit="s", labels=labels
            )
        report.check(f"logrotate:{result.name}", result.status, message=summary(result))
        seen: dict[str, int] = {}
        for problem in result.problems:
            seen[problem.kind] = seen.get(problem.kind, 0) + 1
            suffix = "" if seen[problem.kind] == 1 else f"-{seen[problem.kind]}"
            report.finding(
                f"logrotate:{result.name}:{problem.kind}{suffix}",
                problem.message,
                severity=problem.severity,
            )


def summary(result: RotationResult) -> str:
    """One line: what happened to the log and why, copies that vanished while they were listed,
    and what copytruncate may have lost."""
    dry = "(dry run) " if result.dry_run else ""
    deleted = sum(1 for step in result.steps if step.action is StepAction.DELETE)
    copies = "1 old copy" if deleted == 1 else f"{deleted} old copies"
    archived = sum(1 for step in result.steps if step.action is StepAction.ARCHIVE)
    first = f" ({archived} archived first)" if archived else ""
    freed = f"; {copies} deleted{first}, {human_size(result.bytes_freed)} freed" if deleted else ""
    vanished = len(result.vanished)
    if vanished:
        copies = "1 copy" if vanished == 1 else f"{vanished} copies"
        freed += f"; {copies} vanished while listed (removed or renamed by someone else)"
    if not result.rotated:
        return f"{dry}not rotated: {result.reason}{freed}"
    text = f"{dry}rotated by {result.method}: {result.reason}{freed}"
    if result.method == "copytruncate":
        if result.lost_window_s is None:
            text += "; lines appended between the copy and the truncate are lost"
        else:
            ms = result.lost_window_s * 1000
            text += f"; lines appended in the {ms:.3f} ms between copy and truncate are lost"
    return text
