"""Responsible for the vocabulary and the typed records of a run: statuses, severities and
triggers with their order, and the checks, metrics, findings, error and run record that
`run.json` holds, each with `to_json` and `from_json`.

This module runs inside kernels too (`upkeep.report` uses it): it imports only the standard
library.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

SCHEMA_VERSION = 1

__all__ = [
    "CHECK_STATUSES",
    "SCHEMA_VERSION",
    "Check",
    "Finding",
    "Host",
    "Metric",
    "RunError",
    "RunRecord",
    "RunbookRef",
    "Severity",
    "Status",
    "Trigger",
    "exit_code",
    "iso",
    "parse_time",
    "worst",
]


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
        try:
            return cls(value)
        except ValueError:
            raise ValueError(
                f"status {value!r} is not one of {', '.join(s.value for s in cls)}"
            ) from None


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


# --- what a runbook records ---------------------------------------------------------------


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string, got {value!r}")
    return value


def _number(value: Any, name: str, *, optional: bool = True) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return value


def _kind(value: Any, kind: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"a {kind} must be a mapping, got {value!r}")
    if value.get("kind", kind) != kind:
        raise ValueError(f"expected a {kind}, got kind {value.get('kind')!r}")
    return value


@dataclass(frozen=True)
class Check:
    """The verdict of one check: ok, warn or fail, with the value and limit behind it."""

    name: str
    status: Status
    value: float | None = None
    limit: float | None = None
    unit: str = ""
    message: str = ""

    def __post_init__(self) -> None:
        if self.status not in CHECK_STATUSES:
            raise ValueError(
                f"check status must be one of {', '.join(CHECK_STATUSES)}, got {self.status!r}"
            )
        object.__setattr__(self, "status", Status(self.status))

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "check",
            "name": self.name,
            "status": self.status.value,
            "value": self.value,
            "limit": self.limit,
            "unit": self.unit,
            "message": self.message,
        }

    @classmethod
    def from_json(cls, value: Any) -> Check:
        """A check from its JSON; ValueError saying what is malformed."""
        value = _kind(value, "check")
        return cls(
            name=_text(value.get("name"), "check name"),
            status=Status.parse(value.get("status")),
            value=_number(value.get("value"), "check value"),
            limit=_number(value.get("limit"), "check limit"),
            unit=_text(value.get("unit", ""), "check unit"),
            message=_text(value.get("message", ""), "check message"),
        )


@dataclass(frozen=True)
class Metric:
    """A measured value, for trends and for export."""

    name: str
    value: float
    unit: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "metric",
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "labels": dict(self.labels),
        }

    @classmethod
    def from_json(cls, value: Any) -> Metric:
        value = _kind(value, "metric")
        labels = value.get("labels") or {}
        if not isinstance(labels, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
        ):
            raise ValueError(f"metric labels must map strings to strings, got {labels!r}")
        return cls(
            name=_text(value.get("name"), "metric name"),
            value=_number(value.get("value"), "metric value", optional=False),  # type: ignore[arg-type]
            unit=_text(value.get("unit", ""), "metric unit"),
            labels=dict(labels),
        )


@dataclass(frozen=True)
class Finding:
    """Something an engineer should look at, keyed so it is recognised across runs."""

    key: str
    message: str
    severity: Severity = Severity.WARN

    def __post_init__(self) -> None:
        object.__setattr__(self, "severity", Severity.parse(self.severity))

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "finding",
            "key": self.key,
            "message": self.message,
            "severity": self.severity.value,
        }

    @classmethod
    def from_json(cls, value: Any) -> Finding:
        value = _kind(value, "finding")
        return cls(
            key=_text(value.get("key"), "finding key"),
            message=_text(value.get("message"), "finding message"),
            severity=Severity.parse(value.get("severity")),
        )


@dataclass(frozen=True)
class RunError:
    """Why a run ended in error: the failing cell and the exception, or a timeout or dead kernel."""

    ename: str
    evalue: str
    cell: int | None = None
    execution_count: int | None = None
    traceback: str = ""

    @property
    def summary(self) -> str:
        """`error in cell 3: KeyError: 'x'`, one line."""
        where = f" in cell {self.cell}" if self.cell is not None else ""
        return f"error{where}: {self.ename}: {self.evalue}".strip()

    def to_json(self) -> dict[str, Any]:
        return {
            "cell": self.cell,
            "execution_count": self.execution_count,
            "ename": self.ename,
            "evalue": self.evalue,
            "traceback": self.traceback,
        }

    @classmethod
    def from_json(cls, value: Any) -> RunError:
        if not isinstance(value, Mapping):
            raise ValueError(f"an error must be a mapping, got {value!r}")
        return cls(
            ename=str(value.get("ename") or ""),
            evalue=str(value.get("evalue") or ""),
            cell=_index(value.get("cell")),
            execution_count=_index(value.get("execution_count")),
            traceback=str(value.get("traceback") or ""),
        )


def _index(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# --- the run record -----------------------------------------------------------------------


@dataclass(frozen=True)
class RunbookRef:
    """The exact runbook version a run executed."""

    name: str
    title: str = ""
    path: str = ""
    sha256: str = ""
    cadence: str = ""
    category: str = ""
    git_commit: str | None = None  # HEAD of the project's repository at run time
    git_dirty: bool | None = None  # whether the notebook differed from that commit

    def to_json(self) -> dict[str, Any]:
        value: dict[str, Any] = {
            "name": self.name,
            "title": self.title,
            "path": self.path,
            "sha256": self.sha256,
            "cadence": self.cadence,
            "category": self.category,
        }
        if self.git_commit is not None:
            value["git_commit"] = self.git_commit
            value["git_dirty"] = bool(self.git_dirty)
        return value

    @classmethod
    def from_json(cls, value: Any) -> RunbookRef:
        if not isinstance(value, Mapping):
            raise ValueError("runbook.name is missing or not a string")
        name = value.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError("runbook.name is missing or not a string")
        commit = value.get("git_commit")
        return cls(
            name=name,
            title=_optional_text(value.get("title")),
            path=_optional_text(value.get("path")),
            sha256=_optional_text(value.get("sha256")),
            cadence=_optional_text(value.get("cadence")),
            category=_optional_text(value.get("category")),
            git_commit=commit if isinstance(commit, str) and commit else None,
            git_dirty=bool(value.get("git_dirty")) if isinstance(commit, str) else None,
        )


@dataclass(frozen=True)
class Host:
    """Where a run ran."""

    name: str = ""
    user: str = ""
    platform: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "user": self.user, "platform": self.platform}

    @classmethod
    def from_json(cls, value: Any) -> Host:
        value = value if isinstance(value, Mapping) else {}
        return cls(*(_optional_text(value.get(key)) for key in ("name", "user", "platform")))


def _optional_text(value: Any) -> str:
    return value if isinstance(value, str) else ""


@dataclass(frozen=True)
class RunRecord:
    """Everything `run.json` says about one run."""

    run_id: str
    runbook: RunbookRef
    status: Status
    started_at: datetime
    ended_at: datetime
    as_of: datetime  # the schedule's clock (`run --due --at`), else the start
    trigger: Trigger = Trigger.MANUAL
    duration_s: float = 0.0
    parameters: Mapping[str, Any] = field(default_factory=dict)
    secret_parameters: tuple[str, ...] = ()
    checks: tuple[Check, ...] = ()
    metrics: tuple[Metric, ...] = ()
    findings: tuple[Finding, ...] = ()
    error: RunError | None = None
    skipped_reason: str | None = None
    host: Host = field(default_factory=Host)
    versions: Mapping[str, str | None] = field(default_factory=dict)
    artifacts: Mapping[str, str] | None = None  # name -> sha256, set when published
    schema: int = SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        """The record as run.json holds it."""
        value: dict[str, Any] = {
            "schema": self.schema,
            "run_id": self.run_id,
            "runbook": self.runbook.to_json(),
            "parameters": dict(self.parameters),
            "secret_parameters": list(self.secret_parameters),
            "trigger": self.trigger.value,
            "as_of": iso(self.as_of),
            "started_at": iso(self.started_at),
            "ended_at": iso(self.ended_at),
            "duration_s": self.duration_s,
            "status": self.status.value,
            "checks": [check.to_json() for check in self.checks],
            "metrics": [metric.to_json() for metric in self.metrics],
            "findings": [finding.to_json() for finding in self.findings],
            "error": self.error.to_json() if self.error is not None else None,
            "host": self.host.to_json(),
            "versions": dict(self.versions),
        }
        if self.skipped_reason is not None:
            value["skipped_reason"] = self.skipped_reason
        if self.artifacts is not None:
            value["artifacts"] = dict(self.artifacts)
        return value

    @classmethod
    def from_json(cls, value: Any) -> RunRecord:
        """A record from run.json. ValueError when what identifies the run (run_id, runbook
        name, status, start) is missing or malformed; anything else malformed is left out,
        so evidence written by any version of upkeep reads."""
        if not isinstance(value, Mapping):
            raise ValueError("the run record is not a JSON object")
        runbook = RunbookRef.from_json(value.get("runbook"))
        if not isinstance(value.get("status"), str):
            raise ValueError("status is missing or not a string")
        status = Status.parse(value["status"])
        run_id = value.get("run_id")
        if not isinstance(run_id, str) or not run_id:
            raise ValueError("run_id is missing or not a string")
        started = parse_time(value.get("started_at"), "started_at")
        as_of = value.get("as_of", value.get("started_at"))
        if not isinstance(as_of, str):
            raise ValueError("as_of is not a string")
        return cls(
            run_id=run_id,
            runbook=runbook,
            status=status,
            started_at=started,
            ended_at=_time_or(value.get("ended_at"), started),
            as_of=parse_time(as_of, "as_of"),
            trigger=_trigger(value.get("trigger")),
            duration_s=_number_or_zero(value.get("duration_s")),
            parameters=_mapping(value.get("parameters")),
            secret_parameters=tuple(
                name for name in _list(value.get("secret_parameters")) if isinstance(name, str)
            ),
            checks=_parsed(value.get("checks"), Check.from_json),
            metrics=_parsed(value.get("metrics"), Metric.from_json),
            findings=_parsed(value.get("findings"), Finding.from_json),
            error=RunError.from_json(value["error"])
            if isinstance(value.get("error"), Mapping)
            else None,
            skipped_reason=value.get("skipped_reason")
            if isinstance(value.get("skipped_reason"), str)
            else None,
            host=Host.from_json(value.get("host")),
            versions={
                str(k): v if isinstance(v, str) else None
                for k, v in _mapping(value.get("versions")).items()
            },
            artifacts=_artifacts(value.get("artifacts")),
            schema=value.get("schema") if isinstance(value.get("schema"), int) else SCHEMA_VERSION,
        )


def _time_or(text: Any, default: datetime) -> datetime:
    try:
        return parse_time(text)
    except ValueError:
        return default


def _trigger(value: Any) -> Trigger:
    try:
        return Trigger(value)
    except ValueError:
        return Trigger.MANUAL


def _number_or_zero(value: Any) -> float:
    try:
        return _number(value, "duration_s", optional=False) or 0.0
    except ValueError:
        return 0.0


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _parsed(value: Any, parse: Any) -> tuple[Any, ...]:
    items = []
    for item in _list(value):
        try:
            items.append(parse(item))
        except ValueError:
            continue  # evidence is not trusted input: a malformed item shows as absent
    return tuple(items)


def _artifacts(value: Any) -> dict[str, str] | None:
    if not isinstance(value, Mapping):
        return None
    return {str(k): v for k, v in value.items() if isinstance(v, str)}
