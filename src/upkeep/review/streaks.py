"""Responsible for how long checks stayed failed or warned: per runbook and check, each stretch
of consecutive runs in which the check did not pass, from the first such run to the first later
run in which it passed (or still going), with the runbook versions (sha256) those runs executed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from upkeep.findings import RunEvent
from upkeep.records import Status


@dataclass(frozen=True)
class CheckStreak:
    """One check of one runbook, not passing in `runs` consecutive runs."""

    runbook: str
    check: str
    worst: Status  # fail or warn
    since: datetime
    last: datetime
    runs: int
    cleared_at: datetime | None  # the first later run in which it passed
    runbook_versions: frozenset[str]  # sha256 of the runbook each failing run executed
    message: str

    @property
    def lasted(self) -> timedelta:
        return (self.cleared_at or self.last) - self.since


def check_streaks(runs: Iterable[RunEvent]) -> list[CheckStreak]:
    """Every stretch of a check not passing, oldest first; `runs` in ledger order."""
    going: dict[tuple[str, str], CheckStreak] = {}
    done: list[CheckStreak] = []
    for run in runs:
        for check in run.record.checks:
            where = (run.runbook, check.name)
            streak = going.get(where)
            if check.status in (Status.FAIL, Status.WARN):
                version = run.record.runbook.sha256
                if streak is None:
                    going[where] = CheckStreak(
                        run.runbook,
                        check.name,
                        check.status,
                        run.at,
                        run.at,
                        1,
                        None,
                        frozenset({version}),
                        check.message,
                    )
                else:
                    worst = (
                        Status.FAIL if Status.FAIL in (streak.worst, check.status) else Status.WARN
                    )
                    going[where] = replace(
                        streak,
                        worst=worst,
                        last=run.at,
                        runs=streak.runs + 1,
                        runbook_versions=streak.runbook_versions | {version},
                        message=check.message,
                    )
            elif check.status is Status.OK and streak is not None:
                done.append(replace(streak, cleared_at=run.at))
                del going[where]
    return sorted([*done, *going.values()], key=lambda s: (s.since, s.runbook, s.check))
