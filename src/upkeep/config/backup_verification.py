"""Responsible for the `backup_verification:` section of `upkeep.yml`: how often every retained
backup is restored by the weekly verification, how old the newest verified backup may get, and
how many rows of each table the daily backup samples for it."""

from __future__ import annotations

from dataclasses import dataclass

from upkeep.config.reader import Section

__all__ = ["BackupVerification", "read_backup_verification"]


@dataclass(frozen=True)
class BackupVerification:
    """The weekly backup verification's settings (see runbooks/weekly/backup-verification).

    `verify_every_weeks`: every retained backup is restored at least once in that many weeks (the
    newest of each database every week). `max_verified_age_days`: the newest verified backup of a
    database older than this warns. `sample_rows`: rows per table whose content the backup
    hashes into its manifest (0: no sample hashes).
    """

    verify_every_weeks: int = 4
    max_verified_age_days: float = 8.0
    sample_rows: int = 100


def read_backup_verification(section: Section | None) -> BackupVerification:
    base = BackupVerification()
    if section is None:
        return base
    max_age = section.number("max_verified_age_days", base.max_verified_age_days)
    if max_age <= 0:
        section.fail("max_verified_age_days", "a number of days above 0", max_age)
    settings = BackupVerification(
        verify_every_weeks=section.int("verify_every_weeks", base.verify_every_weeks, minimum=1),
        max_verified_age_days=max_age,
        sample_rows=section.int("sample_rows", base.sample_rows, minimum=0),
    )
    section.done()
    return settings
