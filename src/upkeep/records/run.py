"""Responsible for the run record, what `run.json` says about one run: the runbook version it
executed (`RunbookRef`), the host (`Host`), its times, status, parameters and results, and the
hashes of its artifacts. `RunRecord.from_json` reads evidence written by any version of upkeep.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from upkeep.records.results import (
    Check,
    Clearance,
    Finding,
    Metric,
    RunError,
    number,
    shared,
    shared_mapping,
    shared_text,
)
from upkeep.records.vocabulary import SCHEMA_VERSION, Status, Trigger, iso, parse_time


@dataclass(frozen=True, slots=True)
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
        name = _runbook_name(value)
        commit = value.get("git_commit")
        ref = cls(
            name=name,
            title=_optional_text(value.get("title")),
            path=_optional_text(value.get("path")),
            sha256=_optional_text(value.get("sha256")),
            cadence=_optional_text(value.get("cadence")),
            category=_optional_text(value.get("category")),
            git_commit=commit if isinstance(commit, str) and commit else None,
            git_dirty=bool(value.get("git_dirty")) if isinstance(commit, str) else None,
        )
        return shared(ref)  # every run of a runbook version names it alike


def _runbook_name(value: Any) -> str:
    name = value.get("name") if isinstance(value, Mapping) else None
    if not isinstance(name, str) or not name:
        raise ValueError("runbook.name is missing or not a string")
    return shared_text(name)


@dataclass(frozen=True, slots=True)
class Host:
    """Where a run ran: the machine's name, user and platform, and `id`, the host's id in a
    fleet (`host_id:` in its upkeep.yml, or `upkeep run --host`); empty outside a fleet, and
    then left out of `run.json`, as evidence written before fleets has it."""

    name: str = ""
    user: str = ""
    platform: str = ""
    id: str = ""

    def to_json(self) -> dict[str, Any]:
        value = {"name": self.name, "user": self.user, "platform": self.platform}
        if self.id:
            value["id"] = self.id
        return value

    @classmethod
    def from_json(cls, value: Any) -> Host:
        value = value if isinstance(value, Mapping) else {}
        keys = ("name", "user", "platform", "id")
        return shared(cls(*(_optional_text(value.get(key)) for key in keys)))


def _optional_text(value: Any) -> str:
    # A runbook's runs repeat its title, path, cadence and host: held once.
    return shared_text(value) if isinstance(value, str) else ""


@dataclass(frozen=True, slots=True)
class RunIdentity:
    """What identifies a run in its run.json, read strictly: the part of `RunRecord.from_json`
    that can refuse a record (`upkeep verify` reads only this much of every run.json)."""

    run_id: str
    runbook: str  # its name
    status: Status
    started_at: datetime
    as_of: datetime

    @classmethod
    def from_json(cls, value: Any) -> RunIdentity:
        """ValueError when run_id, runbook name, status, start or as_of is missing or
        malformed, saying which."""
        if not isinstance(value, Mapping):
            raise ValueError("the run record is not a JSON object")
        runbook = _runbook_name(value.get("runbook"))
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
        return cls(run_id, runbook, status, started, parse_time(as_of, "as_of"))


@dataclass(frozen=True, slots=True)
class RunRecord:
    """Everything `run.json` says about one run."""

    run_id: str
    runbook: RunbookRef
    status: Status
    started_at: datetime
    ended_at: datetime
    # When the run started; evidence written before `--at` only planned may hold the time
    # `run --due --at` named instead. The planner goes by `started_at` either way.
    as_of: datetime
    trigger: Trigger = Trigger.MANUAL
    duration_s: float = 0.0
    parameters: Mapping[str, Any] = field(default_factory=dict)
    secret_parameters: tuple[str, ...] = ()
    checks: tuple[Check, ...] = ()
    metrics: tuple[Metric, ...] = ()
    findings: tuple[Finding, ...] = ()
    cleared: tuple[Clearance, ...] = ()
    error: RunError | None = None
    skipped_reason: str | None = None
    dry_run: bool = False  # the runbook said it changed nothing (`upkeep.report.dry_run`)
    summary: str = ""  # the one line the runbook said it did (`upkeep.report.summary`)
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
            "dry_run": self.dry_run,
            "summary": self.summary,
            "checks": [check.to_json() for check in self.checks],
            "metrics": [metric.to_json() for metric in self.metrics],
            "findings": [finding.to_json() for finding in self.findings],
            "cleared": [clearance.to_json() for clearance in self.cleared],
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
        identity = RunIdentity.from_json(value)
        started = identity.started_at
        ended = _time_or(value.get("ended_at"), started)
        return cls(
            run_id=identity.run_id,
            runbook=RunbookRef.from_json(value["runbook"]),
            status=identity.status,
            started_at=started,
            # Held once when they are the same moment (a scheduled run's as_of is its start).
            ended_at=started if ended == started else ended,
            as_of=started if identity.as_of == started else identity.as_of,
            trigger=_trigger(value.get("trigger")),
            duration_s=_number_or_zero(value.get("duration_s")),
            parameters=shared_mapping(_mapping(value.get("parameters"))),
            secret_parameters=tuple(
                name for name in _list(value.get("secret_parameters")) if isinstance(name, str)
            ),
            checks=_parsed(value.get("checks"), Check.from_json),
            metrics=_parsed(value.get("metrics"), Metric.from_json),
            findings=_parsed(value.get("findings"), Finding.from_json),
            cleared=_parsed(value.get("cleared"), Clearance.from_json),
            error=RunError.from_json(value["error"])
            if isinstance(value.get("error"), Mapping)
            else None,
            skipped_reason=value.get("skipped_reason")
            if isinstance(value.get("skipped_reason"), str)
            else None,
            dry_run=value.get("dry_run") is True,
            summary=_optional_text(value.get("summary")),
            host=Host.from_json(value.get("host")),
            versions=shared_mapping(
                {
                    str(k): shared_text(v) if isinstance(v, str) else None
                    for k, v in _mapping(value.get("versions")).items()
                }
            ),
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
        return number(value, "duration_s", optional=False) or 0.0
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
