"""Responsible for the interface of a canary: the heartbeat that measures how much data a
restore loses. `write` adds a row stamped with the time to the live database (only where the
config opts in), `newest` reads the time of the newest heartbeat, or of the newest write the
configured query finds, in the live database or in a restored copy of it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import UTC, datetime

from upkeep.backup.errors import BackupError
from upkeep.config import Database
from upkeep.config.disaster_drill import RecoveryTarget

__all__ = ["Canary", "CanaryError", "parse_moment"]

KEEP_ROWS = 1000  # heartbeats kept in the canary table: enough for years of daily backups


class CanaryError(BackupError):
    """A canary could not be written or read: the message names the database."""


class Canary(ABC):
    """The heartbeat of one database, as its `RecoveryTarget` configures it."""

    engine: str

    def __init__(self, database: Database, target: RecoveryTarget) -> None:
        self.database = database
        self.target = target

    @property
    def writes(self) -> bool:
        """Whether upkeep may write heartbeat rows into the live database (opt-in)."""
        return self.target.canary == "table"

    @property
    def measures(self) -> bool:
        """Whether there is anything to read: the heartbeat table, or a configured query."""
        return self.writes or self.target.canary_query is not None

    def write(self, by: str, now: datetime | None = None) -> datetime | None:
        """Write a heartbeat row stamped `now` into the live database; None (nothing written)
        when the config does not opt in. `by` says who wrote it (backup, drill)."""
        if not self.writes:
            return None
        moment = (now or datetime.now(UTC)).astimezone(UTC)
        self._write(moment, by)
        return moment

    def newest(self, target: str | None = None) -> datetime | None:
        """The newest heartbeat (or the query's answer) in the live database, or in the restored
        `target`; None when there is none (a copy restored from a backup taken before the
        first heartbeat)."""
        if self.target.canary_query is not None:
            return self._query(self.target.canary_query, target)
        if self.writes:
            return self._newest_row(target)
        return None

    @abstractmethod
    def _write(self, moment: datetime, by: str) -> None: ...

    @abstractmethod
    def _newest_row(self, target: str | None) -> datetime | None: ...

    @abstractmethod
    def _query(self, query: str, target: str | None) -> datetime | None: ...


def parse_moment(value: object, where: str) -> datetime | None:
    """A time as a query answers it: None, seconds since the epoch, or ISO 8601 text (a time
    without a zone is UTC)."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value), UTC)
    text = str(value).strip()
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError:
        raise CanaryError(
            f"{where}: the canary answered {text[:60]!r}; expected a time (ISO 8601, or seconds "
            "since 1970)"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
