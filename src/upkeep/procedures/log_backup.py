"""Responsible for the daily log backup runbook's work and the weekly sampling of log archives:
`archive_logs` archives every configured log's rotated copies (`upkeep.backup.logs.archive`),
`record_log_backups` grades what happened with `upkeep.report`; `verify_log_archives` restores a
sample of the archives in memory (the newest of each log always, others in turn by week) and
checks them (decompress, sha256, line count), and `record_log_archive_checks` grades that;
`log_archive_store` and `choose_log_archive` serve `upkeep backups --logs` and `upkeep restore
--log`."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from upkeep import report
from upkeep.backup.logs import archive as log_archive
from upkeep.backup.logs.archive import (
    CopyOutcome,
    CopyState,
    LogBackupRun,
    retention_days,
    verify_archive,
)
from upkeep.backup.logs.store import LogArchive, LogArchiveStore
from upkeep.config import Config
from upkeep.records import Severity, Status
from upkeep.units import counted, human_size

__all__ = [
    "ArchiveCheck",
    "archive_logs",
    "choose_log_archive",
    "log_archive_store",
    "policy",
    "record_log_archive_checks",
    "record_log_backups",
    "summary",
    "verify_log_archives",
]

CHECK = "log-backup"
VERIFY_CHECK = "backup-verification:logs"


def archive_logs(
    config: Config, *, apply_retention: bool = True, now: datetime | None = None
) -> LogBackupRun:
    """Archive every rotated copy of the logs `log_backup:` covers; then, with
    `apply_retention`, delete the archives past their log's retention."""
    return log_archive.archive_logs(
        config.log_backup, config.logs, now or datetime.now(UTC), retention=apply_retention
    )


def policy(config: Config) -> str:
    """The log backup policy in force, from upkeep.yml: the store, each log's retention."""
    settings = config.log_backup
    if settings.dir is None:
        return f"log backups are not configured ({config.path} has no log_backup: section)"
    lines = [f"log backups ({config.path}): store {settings.dir}"]
    for log in config.logs:
        if settings.covers(log.name):
            days = retention_days(log, settings)
            whose = "its retention_days" if log.retention_days is not None else "keep_days"
            kept = f"archives kept {days} days after their newest line"
            lines.append(f"  {log.name}: {kept} ({whose})")
        else:
            lines.append(f"  {log.name}: not archived (not in log_backup.logs)")
    lines.append(
        f"  an uncompressed copy modified less than {settings.settle_s:g} s ago waits for the "
        "next run (settle_s); cleaning archives a copy before it deletes it"
    )
    return "\n".join(lines)


def record_log_backups(run: LogBackupRun) -> None:
    """One check per log, one for retention and one for the store's folders; metrics; a
    finding per log whose copies could not be archived; the run's summary."""
    if run.nothing_to_do is not None:
        report.check(f"{CHECK}:logs", Status.OK, message=run.nothing_to_do)
        report.summary(run.nothing_to_do)
        return
    for note in run.recovered:
        print(f"  {note}")
    for name in run.logs:
        _record_log(name, [c for c in run.copies if _base(c.log) == name], run.kept)
    message = f"{counted(len(run.deleted), 'archive')} past retention deleted" + (
        f": {', '.join(run.deleted[:10])}" if run.deleted else ""
    )
    if run.not_deleted:
        message += "; NOT deleted: " + "; ".join(run.not_deleted[:5])
    report.check(
        f"{CHECK}:retention",
        Status.FAIL if run.not_deleted else Status.OK,
        value=len(run.deleted),
        message=message,
    )
    damaged = "; ".join(str(entry) for entry in run.damaged[:5])
    report.check(
        f"{CHECK}-store:folders",
        Status.FAIL if run.damaged else Status.OK,
        value=len(run.damaged),
        message=f"not readable archives (never deleted): {damaged}"
        if run.damaged
        else f"every folder of {run.store} is a readable archive",
    )
    report.summary(summary(run))


def _base(log: str) -> str:
    return log.split(":", 1)[0]


def _record_log(name: str, copies: list[CopyOutcome], kept: dict[str, int]) -> None:
    counts = {state: sum(1 for c in copies if c.state is state) for state in CopyState}
    failed = [c for c in copies if c.state is CopyState.FAILED]
    parts = [f"{counted(len(copies), 'rotated copy', 'rotated copies')}"]
    parts += [f"{counts[state]} {state}" for state in CopyState if counts[state]]
    archives = sum(count for log, count in kept.items() if _base(log) == name)
    message = ", ".join(parts) + f"; {counted(archives, 'archive')} kept"
    for state in (CopyState.EXPIRED, CopyState.SKIPPED):  # not archived: say which, and why
        named = [c for c in copies if c.state is state]
        if named:
            shown = "; ".join(
                f"{c.path.name} ({c.detail})" if c.detail else c.path.name for c in named[:5]
            )
            more = f"; and {len(named) - 5} more" if len(named) > 5 else ""
            message += f"; {state}, not archived: {shown}{more}"
    if failed:
        message += "; FAILED: " + "; ".join(f"{c.path.name}: {c.detail}" for c in failed[:5])
        report.finding(
            f"{CHECK}:{name}:failed",
            f"{counted(len(failed), 'rotated copy', 'rotated copies')} of {name} could not be "
            f"archived: {failed[0].detail}",
            severity=Severity.FAIL,
        )
    report.check(
        f"{CHECK}:{name}", Status.FAIL if failed else Status.OK, value=len(failed), message=message
    )
    labels = {"log": name}
    stored = sum(c.stored_bytes for c in copies)
    report.metric("log_backup_archived_copies", counts[CopyState.ARCHIVED], labels=labels)
    report.metric("log_backup_stored_bytes", stored, unit="B", labels=labels)
    report.metric("log_backup_archives", archives, labels=labels)


def summary(run: LogBackupRun) -> str:
    if run.nothing_to_do is not None:
        return run.nothing_to_do
    archived = [c for c in run.copies if c.state is CopyState.ARCHIVED]
    failed = sum(1 for c in run.copies if c.state is CopyState.FAILED)
    stored = human_size(sum(c.stored_bytes for c in archived))
    text = (
        f"{counted(len(archived), 'copy', 'copies')} archived ({stored}) of "
        f"{counted(len(run.copies), 'rotated copy', 'rotated copies')} in "
        f"{counted(len(run.logs), 'log')}; {counted(len(run.deleted), 'archive')} expired"
    )
    return text + (f"; {failed} FAILED" if failed else "")


# ---------------------------------------------------------------- weekly sampling


@dataclass(frozen=True)
class ArchiveCheck:
    """One archive checked by the weekly verification, and what was wrong (nothing: sound)."""

    archive: LogArchive
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_log_archives(
    config: Config, *, per_log: int = 3, verify_all: bool = False, now: datetime | None = None
) -> tuple[ArchiveCheck, ...] | str:
    """Check the newest archive of each log and `per_log - 1` others chosen by the ISO week
    (every archive in turn); all of them with `verify_all`. A string: why nothing was checked."""
    if config.log_backup.dir is None:
        return "log backups are not configured (no log_backup: section): no log archive to check"
    now = now or datetime.now(UTC)
    store = LogArchiveStore(config.log_backup.dir)
    by_log: dict[str, list[LogArchive]] = {}
    for archive in store.archives():
        by_log.setdefault(archive.log, []).append(archive)
    year, week, _ = now.isocalendar()
    chosen: list[LogArchive] = []
    for log in sorted(by_log):
        archives = by_log[log]
        older = archives[:-1]
        if not verify_all:
            older = random.Random(f"{year}-{week}-{log}").sample(
                older, min(len(older), max(per_log - 1, 0))
            )
        chosen += [*older, archives[-1]]
    return tuple(ArchiveCheck(a, tuple(verify_archive(store, a))) for a in chosen)


def record_log_archive_checks(checks: Sequence[ArchiveCheck] | str) -> None:
    """One check for the sampled log archives; a finding per archive that failed."""
    if isinstance(checks, str):
        report.check(VERIFY_CHECK, Status.OK, message=checks)
        return
    failed = [c for c in checks if not c.ok]
    for check in failed:
        report.finding(
            f"{VERIFY_CHECK}:{check.archive.id}",
            "; ".join(check.problems[:3]),
            severity=Severity.FAIL,
        )
    logs = {c.archive.log for c in checks}
    message = (
        f"checked {counted(len(checks), 'log archive')} of {counted(len(logs), 'log')} "
        "(decompressed, sha256 and line count against the manifest): "
    )
    if failed:
        message += "; ".join(f"{c.archive.id} FAILED: {c.problems[0]}" for c in failed[:5])
    elif checks:
        message += "all sound"
    else:
        message = "no log archive in the store yet: nothing to check"
    report.check(
        VERIFY_CHECK, Status.FAIL if failed else Status.OK, value=len(failed), message=message
    )


# ---------------------------------------------------------------- by hand: list and restore


def log_archive_store(config: Config) -> LogArchiveStore:
    """The store `log_backup.dir` names; ConfigError when log backups are not configured."""
    from upkeep.errors import ConfigError

    if config.log_backup.dir is None:
        raise ConfigError(
            f"{config.path}: log_backup.dir: required to keep log archives (a folder); "
            "log backups are not configured"
        )
    store = LogArchiveStore(config.log_backup.dir)
    store.recover()
    return store


def choose_log_archive(store: LogArchiveStore, log: str, archive_id: str | None) -> LogArchive:
    """`archive_id`, or the archive of `log` with the newest lines (a wildcard log's name
    covers the archives of every file it matched, `<name>:<file>` one of them); BackupNotFound
    (exit 2) for an id the store does not hold for that log, or a log without archives."""
    from upkeep.backup.errors import BackupNotFound

    archives = [a for a in store.archives() if log in (a.log, a.log.split(":", 1)[0])]
    if archive_id is not None:
        for archive in archives:
            if archive.id == archive_id:
                return archive
        raise BackupNotFound(
            f"log archive store {store.location} holds no archive {archive_id!r} of log "
            f"{log!r}; `upkeep backups --logs {log}` lists them"
        )
    if not archives:
        raise BackupNotFound(f"log archive store {store.location} holds no archive of log {log!r}")
    return archives[-1]
