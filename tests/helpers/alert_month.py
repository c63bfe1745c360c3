"""A synthetic month of the demo's evidence for the noise replay, written through the evidence
API: the demo's daily, weekly and monthly runbooks at their times, the health check warning every
day (as on the demo), and planted problems: the backup failing two nights running (acknowledged,
then a maintenance-log entry), a one-off health-check error that clears by itself (nobody
acknowledges it), a backup verification failure with a log entry, a backup error acknowledged
at once, and the cleaning (not critical) failing once."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from upkeep.evidence import EvidenceStore
from upkeep.records import Check, Decision, RunbookRef, RunRecord, Status
from upkeep.records.results import RunError

START = datetime(2026, 11, 1, tzinfo=UTC)
END = datetime(2026, 12, 1, tzinfo=UTC)
DAILY = {"backup": (2, 0), "log-backup": (2, 30), "cleaning": (3, 0), "health-check": (6, 0)}
WEEKLY = {"backup-verification": (4, 0), "database-review": (4, 30), "dependency-review": (5, 0)}
MONTHLY = {"security-review": (7, 0), "system-updates": (7, 30), "maintenance-review": (8, 0)}


@dataclass
class Month:
    """What was planted, for the assertions."""

    runs: int = 0
    failing_critical: list[str] = field(default_factory=list)  # opening run ids
    needing_action: list[str] = field(default_factory=list)  # opening run ids
    ack_count: int = 0


def _planted(name: str, day: int) -> Status:
    if name == "backup" and day in (9, 10):
        return Status.FAIL
    if name == "backup" and day == 25:
        return Status.ERROR
    if name == "health-check" and day == 17:
        return Status.ERROR
    if name == "health-check":
        return Status.WARN
    if name == "backup-verification" and day == 23:
        return Status.FAIL
    if name == "cleaning" and day == 12:
        return Status.FAIL
    return Status.OK


def write_month(store: EvidenceStore, start: datetime = START, end: datetime = END) -> Month:
    month = Month()
    day = start
    planned: list[tuple[datetime, str]] = []
    while day < end:
        todo = dict(DAILY)
        if day.weekday() == 0:
            todo |= WEEKLY
        if day.day == 1:
            todo |= MONTHLY
        planned += [(day.replace(hour=h, minute=m), name) for name, (h, m) in todo.items()]
        day += timedelta(days=1)
    for at, name in sorted(planned):
        status = _planted(name, at.day) if at.month == start.month else Status.OK
        run_id = _publish(store, name, at, status, month.runs)
        month.runs += 1
        if name in ("backup", "health-check", "backup-verification") and status in (
            Status.FAIL,
            Status.ERROR,
        ):
            _respond(store, month, name, at, run_id)
    return month


def _respond(store: EvidenceStore, month: Month, name: str, at: datetime, run_id: str) -> None:
    """What the people on call did about a failing critical run (the planted story)."""
    if name == "backup" and at.day == 9:
        month.failing_critical.append(run_id)
        month.needing_action.append(run_id)
        _decide(store, "acknowledge-alert", run_id, "ben", at + timedelta(minutes=12))
        month.ack_count += 1
    elif name == "backup" and at.day == 10:
        _decide(store, "log-entry", run_id, "ben", at + timedelta(hours=7), "freed the disk")
    elif name == "backup" and at.day == 25:
        month.failing_critical.append(run_id)
        _decide(store, "acknowledge-alert", "alert:backup", "chen", at + timedelta(minutes=5))
        month.ack_count += 1
    elif name == "health-check":
        month.failing_critical.append(run_id)  # nobody answers: it clears by itself
    elif name == "backup-verification":
        month.failing_critical.append(run_id)
        month.needing_action.append(run_id)
        _decide(store, "acknowledge-alert", run_id, "chen", at + timedelta(minutes=20))
        _decide(store, "log-entry", run_id, "chen", at + timedelta(hours=3), "restored sample")
        month.ack_count += 1


def _publish(store: EvidenceStore, name: str, at: datetime, status: Status, n: int) -> str:
    error = RunError("DeadKernelError", "kernel died") if status is Status.ERROR else None
    check = Check(f"{name}:main", Status.OK if status is Status.ERROR else status)
    record = RunRecord(
        run_id=f"{at:%Y%m%dT%H%M%SZ}-{name}-{n:04x}",
        runbook=RunbookRef(name, name, f"runbooks/daily/{name}.ipynb"),
        status=status,
        started_at=at,
        ended_at=at + timedelta(seconds=30),
        as_of=at,
        checks=(check,),
        error=error,
    )
    store.publish(store.new_staging(record.run_id), record)
    return record.run_id


def _decide(
    store: EvidenceStore, kind: str, subject: str, who: str, at: datetime, reason: str = "on it"
) -> None:
    store.record_decision(Decision(kind, subject, who, at, reason))
