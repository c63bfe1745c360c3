"""Responsible for the words every part of upkeep shares about runs, each defined once with its
order: `Status` (of a check or a run), `Severity` (of a finding), `Trigger` (what started a run),
the worst of several statuses and the exit code they make, and how times are written.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

SCHEMA_VERSION = 1  # of run.json


class Status(StrEnum):
    """How a check, or a whole run, ended."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    ERROR = "error"  # the notebook raised, timed out, lost its kernel or recorded no check
    SKIPPED = "skipped"  # the run could not start (locked by a run still going)

    @property
    def rank(self) -> int:
        """How bad it is: the larger, the more it needs attention."""
        return _STATUS_RANK[self]

    @property
    def exit_code(self) -> int:
        """The CLI's exit code for a run that ended so."""
        return _EXIT_CODES[self]

    @property
    def word(self) -> str:
        """The status as people see it: OK, WARN, FAIL, ERROR, SKIPPED."""
        return self.value.upper()

    @classmethod
    def parse(cls, value: Any) -> Status:
        """The status named `value`; ValueError naming the statuses there are."""
        found = _STATUS_BY_VALUE.get(value) if isinstance(value, str) else None
        if found is not None:  # a lookup: every check of years of runs is parsed
            return found
        try:
            return cls(value)
        except ValueError:
            raise ValueError(
                f"status {value!r} is not one of {', '.join(s.value for s in cls)}"
            ) from None


_STATUS_BY_VALUE: dict[str, Status] = {status.value: status for status in Status}
_STATUS_RANK = {Status.OK: 0, Status.SKIPPED: 1, Status.WARN: 2, Status.FAIL: 3, Status.ERROR: 4}
_EXIT_CODES = {Status.OK: 0, Status.SKIPPED: 0, Status.WARN: 0, Status.FAIL: 1, Status.ERROR: 3}
# What a check can say: the other statuses belong to a whole run.
CHECK_STATUSES = (Status.OK, Status.WARN, Status.FAIL)


class Severity(StrEnum):
    """How much a finding needs looking at."""

    INFO = "info"
    WARN = "warn"
    FAIL = "fail"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]

    @property
    def word(self) -> str:
        return self.value.upper()

    @classmethod
    def parse(cls, value: Any) -> Severity:
        try:
            return cls(value)
        except ValueError:
            raise ValueError(
                f"severity {value!r} is not one of {', '.join(s.value for s in cls)}"
            ) from None


_SEVERITY_RANK = {Severity.INFO: 0, Severity.WARN: 1, Severity.FAIL: 2}


class Trigger(StrEnum):
    """What started a run."""

    MANUAL = "manual"
    SCHEDULE = "schedule"
    CI = "ci"


def worst(statuses: Iterable[Status]) -> Status:
    """The status that needs the most attention; OK when there is none."""
    return max(statuses, key=lambda status: status.rank, default=Status.OK)


def exit_code(statuses: Iterable[Status]) -> int:
    """The CLI's exit code for a set of runs: error (3) over fail (1) over the rest (0)."""
    return worst(statuses).exit_code


def iso(moment: datetime) -> str:
    """A moment as run.json and the ledger write it: UTC, milliseconds, `Z`."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: Any, name: str = "time") -> datetime:
    """An ISO-8601 time with a time zone; ValueError naming `name` otherwise."""
    if not isinstance(text, str):
        raise ValueError(f"{name} {text!r} is not an ISO-8601 string")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{name} {text!r} is not an ISO-8601 time") from None
    if moment.tzinfo is None:
        raise ValueError(f"{name} {text!r} has no time zone (use UTC, e.g. ...Z)")
    return moment
