"""Responsible for the weekly backup verification runbook's work: restore this week's rotation of
stored backups into scratch targets, check each, and grade what was found.

`verify_backups` chooses, database by database, the restore points of this week
(`upkeep.backup.rotation`: the newest always, older ones in rotation) and restores each with
`upkeep.backup.verification.verify_restore` into a scratch target that is removed afterwards,
failure or not (a new SQLite file in a private folder beside the store; a new PostgreSQL
database, dropped). Each restore checks every piece's sha256, the engine's own integrity check,
the row counts and the sample hashes against the manifest; its verdict is kept with the backup
in the store (`BackupStore.mark_verified`), where the daily backup and `upkeep restore` read it,
so "verified" means the same thing everywhere. `record_verification` grades the result with
`upkeep.report`: restore verdicts, the age of the newest verified backup, the coverage of the
rotation, and the metrics `backup_restore_seconds` and `backup_newest_verified_age_seconds`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from upkeep import report
from upkeep.backup.restore import RestoreOutcome
from upkeep.backup.rotation import Coverage, RestorePoint, choose_restore_points, coverage
from upkeep.backup.samples import NO_SAMPLE_HASHES
from upkeep.backup.stores import BackupStore, Manifest, StoreError
from upkeep.backup.verification import verify_restore
from upkeep.config import BackupVerification, Config, Database
from upkeep.procedures.backup import nothing_to_back_up, open_store
from upkeep.records import Severity, Status

__all__ = [
    "DatabaseVerification",
    "RestoreCheck",
    "VerificationRun",
    "record_verification",
    "verify_backups",
    "verify_database",
]

CHECK = "backup-verification"
# A backup taken later than now by more than this: a clock is wrong somewhere.
CLOCK_SLACK = timedelta(hours=1)
# In the scratch target's name (PostgreSQL: upkeep_verify_weekly_<id>): never the daily check's.
TARGET_LABEL = "weekly_"


@dataclass(frozen=True)
class RestoreCheck:
    """One backup restored by this run: why it was chosen, how long the restore and its checks
    took, and what they found (`outcome`), or why it could not be restored (`problem`)."""

    backup_id: str
    created: datetime
    reason: str
    seconds: float
    outcome: RestoreOutcome | None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is not None and self.outcome.ok and self.problem is None

    @property
    def what_failed(self) -> str:
        if self.problem is not None:
            return self.problem
        assert self.outcome is not None
        return "; ".join(self.outcome.problems[:5])


@dataclass(frozen=True)
class DatabaseVerification:
    """What verifying one database's backups found. `no_backup` says why nothing was restored."""

    database: str
    restores: tuple[RestoreCheck, ...] = ()
    retained: int = 0
    newest_verified: Manifest | None = None
    coverage: Coverage | None = None
    no_backup: str | None = None

    @property
    def newest(self) -> RestoreCheck | None:
        return max(self.restores, key=lambda r: r.created, default=None)


@dataclass(frozen=True)
class VerificationRun:
    """The whole run: the store and each database's verification, or why there was nothing to
    do at all (no `backup:` section, no database)."""

    store: str
    databases: tuple[DatabaseVerification, ...] = ()
    nothing_to_do: str | None = None
    zone: tzinfo = UTC  # upkeep.yml's timezone: the times its messages show


def verify_backups(
    config: Config, *, verify_all: bool = False, now: datetime | None = None
) -> VerificationRun:
    """Restore and check this week's restore points of every configured database."""
    nothing = nothing_to_back_up(config)
    if nothing is not None:
        return VerificationRun(str(config.backup.dir or ""), nothing_to_do=nothing)
    now = now or datetime.now(UTC)
    store = open_store(config)
    settings = config.backup_verification
    with store.reading():  # the nightly retention deletes nothing meanwhile
        verified = tuple(
            verify_database(store, database, settings, now=now, verify_all=verify_all)
            for database in config.databases
        )
    return VerificationRun(store.location, verified, zone=config.tz)


def verify_database(
    store: BackupStore,
    database: Database,
    settings: BackupVerification,
    *,
    now: datetime,
    verify_all: bool = False,
) -> DatabaseVerification:
    """Restore and check the chosen backups of one database (all of them with `verify_all`)."""
    manifests = [m for m in store.manifests(database.name) if m.engine == database.engine]
    if not manifests:
        return DatabaseVerification(
            database.name,
            no_backup=f"no {database.engine} backup of database {database.name!r} in "
            f"{store.location} yet: nothing to verify (the daily backup runbook takes the "
            "first one; until then this database has no backup at all)",
        )
    points = [_restore_point(store, manifest) for manifest in manifests]
    chosen = (
        {m.id: "every backup (verify_all)" for m in manifests}
        if verify_all
        else choose_restore_points(points, now, settings.verify_every_weeks)
    )
    restores = tuple(
        _restore(store, manifest, database, chosen[manifest.id])
        for manifest in manifests
        if manifest.id in chosen
    )
    present = {m.id: m for m in store.manifests(database.name) if m.engine == database.engine}
    after = [_restore_point(store, manifest) for manifest in present.values()]
    verified = [m for m in present.values() if store.verified(m.id)]
    return DatabaseVerification(
        database.name,
        restores,
        retained=len(present),
        newest_verified=max(verified, key=lambda m: (m.created, m.id), default=None),
        coverage=coverage(after, now, settings.verify_every_weeks),
    )


def _restore_point(store: BackupStore, manifest: Manifest) -> RestorePoint:
    record = store.verification(manifest.id)
    return RestorePoint(
        manifest.id,
        manifest.database,
        datetime.fromisoformat(manifest.created),
        last_verified=datetime.fromisoformat(record.at) if record and record.ok else None,
        failed=record is not None and not record.ok,
    )


def _restore(
    store: BackupStore, manifest: Manifest, database: Database, reason: str
) -> RestoreCheck:
    created = datetime.fromisoformat(manifest.created)
    started = time.perf_counter()
    try:
        outcome, note = verify_restore(store, manifest, database, label=TARGET_LABEL)
    except StoreError as exc:
        # The daily backup's retention deleted it while we restored it: nothing to keep.
        if all(m.id != manifest.id for m in store.manifests(manifest.database)):
            note = f"deleted from the store while it was being verified ({exc})"
            return RestoreCheck(manifest.id, created, reason, 0.0, None, note)
        raise
    seconds = time.perf_counter() - started
    if outcome is None:
        return RestoreCheck(manifest.id, created, reason, seconds, None, note or "not restored")
    return RestoreCheck(manifest.id, created, reason, seconds, outcome)


# ---------------------------------------------------------------- recording


def record_verification(
    run: VerificationRun, settings: BackupVerification, now: datetime | None = None
) -> None:
    """Record the checks, findings and metrics of a verification run, and its summary."""
    now = now or datetime.now(UTC)
    if run.nothing_to_do is not None:
        report.check(f"{CHECK}:databases", Status.OK, message=run.nothing_to_do)
        report.summary(run.nothing_to_do)
        return
    for verification in run.databases:
        _record_database(verification, settings, now, run.zone)
    report.summary(summary(run))


def _record_database(
    verification: DatabaseVerification,
    settings: BackupVerification,
    now: datetime,
    zone: tzinfo = UTC,
) -> None:
    name = f"{CHECK}:{verification.database}"
    if verification.no_backup is not None:
        report.check(f"{name}:newest-verified-age", Status.WARN, message=verification.no_backup)
        return
    _record_restores(name, verification)
    _record_newest_age(name, verification, settings, now, zone)
    if verification.coverage is not None:
        status = Status.WARN if verification.coverage.overdue else Status.OK
        report.check(
            f"{name}:coverage",
            status,
            value=verification.coverage.verified,
            message=str(verification.coverage),
        )
    newest = verification.newest
    if newest is not None and newest.ok:
        labels = {"database": verification.database}
        report.metric("backup_restore_seconds", round(newest.seconds, 3), unit="s", labels=labels)


def _record_restores(name: str, verification: DatabaseVerification) -> None:
    restores = verification.restores
    failed = [check for check in restores if not check.ok and not _vanished(check)]
    # One finding per failing backup, keyed by its id: it stays open while the backup fails
    # (a backup whose check failed is chosen again every week) and closes once it passes.
    for check in failed:
        report.finding(
            f"{CHECK}:{check.backup_id}",
            f"{check.reason}: {check.what_failed}",
            severity=Severity.FAIL,
        )
    unsampled = [
        c.backup_id for c in restores if c.outcome and c.outcome.samples_note == NO_SAMPLE_HASHES
    ]
    message = f"restored {len(restores)} of {verification.retained} retained backup(s): "
    if failed:
        message += "; ".join(f"{c.backup_id} FAILED: {c.what_failed}" for c in failed[:5])
    else:
        message += "integrity check, row counts and sample hashes match the manifests"
    if unsampled:
        message += f"; no sample hashes in {', '.join(unsampled)} (taken by an earlier version)"
    report.check(
        f"{name}:restore",
        Status.FAIL if failed else Status.OK,
        value=len(failed),
        message=message,
    )


def _vanished(check: RestoreCheck) -> bool:
    return check.problem is not None and check.problem.startswith("deleted from the store")


def _record_newest_age(
    name: str,
    verification: DatabaseVerification,
    settings: BackupVerification,
    now: datetime,
    zone: tzinfo,
) -> None:
    newest = verification.newest_verified
    labels = {"database": verification.database}
    if newest is None:
        report.check(
            f"{name}:newest-verified-age",
            Status.WARN,
            message=f"no backup of {verification.database} is verified: none restored and "
            "passed its checks",
        )
        return
    created = datetime.fromisoformat(newest.created)
    taken = f"{created.astimezone(zone):%Y-%m-%d %H:%M %Z}"
    if created > now + CLOCK_SLACK:
        # A clock set ahead (here or where it was taken): its age is unknown, and counting it
        # as new would hide that every other backup is getting old.
        report.check(
            f"{name}:newest-verified-age",
            Status.WARN,
            message=f"newest verified backup {newest.id} says it was taken {taken}, in the"
            " future: a clock is wrong, so how old the newest backup is cannot be told",
        )
        return
    age_s = max(0.0, (now - created).total_seconds())
    days = age_s / 86400
    status = Status.WARN if days > settings.max_verified_age_days else Status.OK
    report.check(
        f"{name}:newest-verified-age",
        status,
        value=round(days, 2),
        limit=settings.max_verified_age_days,
        unit=" days",
        message=f"newest verified backup {newest.id}, taken {taken}",
    )
    report.metric("backup_newest_verified_age_seconds", round(age_s), unit="s", labels=labels)


def summary(run: VerificationRun) -> str:
    """One line: per database, what was restored and whether it passed, and the coverage."""
    if run.nothing_to_do is not None:
        return run.nothing_to_do
    parts = []
    for verification in run.databases:
        if verification.no_backup is not None:
            parts.append(f"{verification.database}: no backup yet")
            continue
        failed = sum(1 for c in verification.restores if not c.ok and not _vanished(c))
        verdict = f"{failed} FAILED" if failed else "all passed"
        newest = verification.newest
        took = f", newest in {newest.seconds:.1f} s" if newest is not None else ""
        covered = verification.coverage
        cover = f", coverage {covered.verified}/{covered.total}" if covered else ""
        parts.append(
            f"{verification.database}: restored {len(verification.restores)} of "
            f"{verification.retained} ({verdict}{took}){cover}"
        )
    return "; ".join(parts) or "no databases"
