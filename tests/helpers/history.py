"""Evidence of runs that ran at chosen times, published through the real evidence store (run.json,
ledger line, hash chain) without a kernel: for tests of what the evidence says over days or
years (the planner, `upkeep status`, the coverage calendar)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from upkeep.evidence import EvidenceStore
from upkeep.records import RunbookRef, RunRecord, Status


class History:
    """Publishes runs of named runbooks into the evidence at `root`."""

    def __init__(self, root: Path) -> None:
        self.store = EvidenceStore(root)
        self.runs = 0

    def record(
        self,
        name: str,
        started: datetime,
        *,
        status: Status = Status.OK,
        dry_run: bool = False,
        duration: timedelta = timedelta(seconds=5),
    ) -> str:
        """Publish a run of `name` that started at `started` (an aware time); its run id."""
        self.runs += 1
        run_id = f"{started.astimezone(UTC):%Y%m%dT%H%M%SZ}-{name}-{self.runs:04x}"
        record = RunRecord(
            run_id,
            RunbookRef(name),
            status,
            started,
            started + duration,
            started,
            dry_run=dry_run,
            skipped_reason="locked: another run of this runbook is still going"
            if status is Status.SKIPPED
            else None,
        )
        self.store.publish(self.store.new_staging(run_id), record)
        return run_id

    def daily(
        self, name: str, first_day: str, days: int, local_time: str, zone: str, **kwargs: object
    ) -> list[str]:
        """A run of `name` every day for `days` days from `first_day` (YYYY-MM-DD), each at
        `local_time` (HH:MM) on the wall clock of `zone`, whatever its UTC offset that day."""
        tz = ZoneInfo(zone)
        start = datetime.fromisoformat(f"{first_day}T{local_time}")
        return [
            self.record(name, (start + timedelta(days=day)).replace(tzinfo=tz), **kwargs)  # type: ignore[arg-type]
            for day in range(days)
        ]
