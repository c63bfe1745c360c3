"""Responsible for what a runbook records and how a run ends in error: `Check`, `Metric`,
`Finding`, `Clearance` and `RunError`, each a frozen dataclass with `to_json` and a `from_json`
that says what is malformed.
"""

from __future__ import annotations

import math
import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from upkeep.records.vocabulary import CHECK_STATUSES, Severity, Status

_CHECK_STATUS = {status.value: status for status in CHECK_STATUSES}  # by the word run.json says


def shared_text(text: str) -> str:
    """`text`, held once however many records read it: every run of a runbook repeats its
    checks' and metrics' names, units and most messages, and a site build holds years of runs.
    (Only a plain `str` is interned; a subclass is kept as it is.)"""
    return sys.intern(text) if type(text) is str else text


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string, got {value!r}")
    return shared_text(value)


def number(value: Any, name: str, *, optional: bool = True) -> float | None:
    """`value` if it is a finite number (or None, when `optional`); ValueError otherwise."""
    if value is None and optional:
        return None
    # float and int first: what json.loads gives; bool is an int but not a number here.
    kind = type(value)
    if (kind is float or kind is int) and math.isfinite(value):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return value


def _plain_number(value: Any) -> bool:
    """None or a finite float or int (not a bool): what `number` passes as it is."""
    kind = type(value)
    return value is None or ((kind is float or kind is int) and math.isfinite(value))


def _is_mapping(value: Any) -> bool:
    # dict first: what json.loads gives, and the Mapping check is slow enough to show when a
    # quarter of run records is read.
    return type(value) is dict or isinstance(value, Mapping)


def _kind(value: Any, kind: str) -> Mapping[str, Any]:
    if not _is_mapping(value):
        raise ValueError(f"a {kind} must be a mapping, got {value!r}")
    if value.get("kind", kind) != kind:
        raise ValueError(f"expected a {kind}, got kind {value.get('kind')!r}")
    return value


@dataclass(frozen=True, slots=True)
class Waiver:
    """The risk register's waiver of a check, as it stood when the run ended: why, who approved
    it, who owns it, its last day (ISO date), and whether it held (`held`; else `why_not`:
    expired, no approver)."""

    reason: str
    expires: str
    approved_by: str = ""
    owner: str = ""
    held: bool = True
    why_not: str = ""

    def to_json(self) -> dict[str, Any]:
        value = {
            "reason": self.reason,
            "expires": self.expires,
            "approved_by": self.approved_by,
            "owner": self.owner,
            "held": self.held,
        }
        return value | ({"why_not": self.why_not} if self.why_not else {})

    @classmethod
    def from_json(cls, value: Any) -> Waiver:
        if not isinstance(value, Mapping):
            raise ValueError(f"a check's waiver must be a mapping, got {value!r}")
        held = value.get("held", True)
        if not isinstance(held, bool):
            raise ValueError(f"waiver held must be true or false, got {held!r}")
        return cls(
            reason=_text(value.get("reason"), "waiver reason"),
            expires=_text(value.get("expires"), "waiver expires"),
            approved_by=_text(value.get("approved_by", ""), "waiver approved_by"),
            owner=_text(value.get("owner", ""), "waiver owner"),
            held=held,
            why_not=_text(value.get("why_not", ""), "waiver why_not"),
        )

    @property
    def note(self) -> str:
        """A few words for people: `waived until 2027-01-31 by security-lead`, or why the
        waiver did not hold (`waiver not applied: expired on 2026-11-30`)."""
        if not self.held:
            return f"waiver not applied: {self.why_not}"
        return f"waived until {self.expires} by {self.approved_by}"


@dataclass(frozen=True, slots=True)
class Check:
    """The verdict of one check: ok, warn or fail, with the value and limit behind it, and the
    risk register's waiver of it when there is one. `status` is always what the check found; a
    waived warn or fail counts as warn for the run (`verdict`) and is shown as WAIVED (`word`),
    never as ok."""

    name: str
    status: Status
    value: float | None = None
    limit: float | None = None
    unit: str = ""
    message: str = ""
    waiver: Waiver | None = None

    @property
    def waived(self) -> bool:
        """A warn or fail that a waiver holding at the run's end accepted."""
        return self.waiver is not None and self.waiver.held and self.status is not Status.OK

    @property
    def verdict(self) -> Status:
        """What the check counts as for its run: warn when waived, else its status."""
        return Status.WARN if self.waived else self.status

    @property
    def word(self) -> str:
        """The check's status as people see it: OK, WARN, FAIL or WAIVED."""
        return "WAIVED" if self.waived else self.status.word

    def __post_init__(self) -> None:
        if self.status not in CHECK_STATUSES:
            raise ValueError(
                f"check status must be one of {', '.join(CHECK_STATUSES)}, got {self.status!r}"
            )
        if type(self.status) is not Status:
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
        } | ({"waiver": self.waiver.to_json()} if self.waiver else {})

    @classmethod
    def from_json(cls, value: Any) -> Check:
        """A check from its JSON; ValueError saying what is malformed."""
        if type(value) is dict and value.get("waiver") is None:
            # The shape runs write, as json.loads gives it: read with type checks alone (years
            # of runs are read per site build); anything else takes the long way, which says
            # what is malformed. Both give equal checks.
            name, unit, message = value.get("name"), value.get("unit", ""), value.get("message", "")
            said, measured, limit = value.get("status"), value.get("value"), value.get("limit")
            status = _CHECK_STATUS.get(said) if type(said) is str else None
            if (
                status is not None
                and type(name) is str
                and type(unit) is str
                and type(message) is str
                and value.get("kind", "check") == "check"
                and _plain_number(measured)
                and _plain_number(limit)
            ):
                return cls(
                    sys.intern(name), status, measured, limit, sys.intern(unit), sys.intern(message)
                )
        value = _kind(value, "check")
        waiver = value.get("waiver")
        return cls(
            name=_text(value.get("name"), "check name"),
            status=Status.parse(value.get("status")),
            value=number(value.get("value"), "check value"),
            limit=number(value.get("limit"), "check limit"),
            unit=_text(value.get("unit", ""), "check unit"),
            message=_text(value.get("message", ""), "check message"),
            waiver=None if waiver is None else Waiver.from_json(waiver),
        )


def tally(checks: Iterable[Check]) -> list[tuple[str, int]]:
    """How many checks ended each way, worst first (fail, waived, warn, ok), lower-case, only
    the ways some check ended: `[("fail", 1), ("waived", 1), ("ok", 3)]`."""
    counts = Counter(check.word.lower() for check in checks)
    return [(word, counts[word]) for word in ("fail", "waived", "warn", "ok") if counts[word]]


@dataclass(frozen=True, slots=True)
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
        if type(value) is dict:
            # As for checks: the shape runs write, read with type checks alone.
            name, unit, measured = value.get("name"), value.get("unit", ""), value.get("value")
            labels = value.get("labels") or {}
            if (
                type(name) is str
                and type(unit) is str
                and measured is not None
                and _plain_number(measured)
                and value.get("kind", "metric") == "metric"
                and type(labels) is dict
                and _maps_strings_to_strings(labels)
            ):
                return cls(sys.intern(name), measured, sys.intern(unit), shared_labels(labels))
        value = _kind(value, "metric")
        labels = value.get("labels") or {}
        if not _maps_strings_to_strings(labels):
            raise ValueError(f"metric labels must map strings to strings, got {labels!r}")
        return cls(
            name=_text(value.get("name"), "metric name"),
            value=number(value.get("value"), "metric value", optional=False),  # type: ignore[arg-type]
            unit=_text(value.get("unit", ""), "metric unit"),
            labels=shared_labels(labels),
        )


# Values read from evidence that runs repeat, each held once, read-only: metric label sets,
# parameters, versions, runbook and host references. Bounded: a store of odd values is cleared.
_SHARED: dict[Any, Any] = {}
_SHARED_MAX = 8192


def _held(key: Any, make: Any) -> Any:
    """What `_SHARED` holds under `key`, made by `make()` the first time."""
    found = _SHARED.get(key)
    if found is None:
        if len(_SHARED) >= _SHARED_MAX:
            _SHARED.clear()
        found = _SHARED[key] = make()
    return found


def shared(value: Any) -> Any:
    """`value`, or an equal one read before: for frozen (hashable) values runs repeat."""
    try:
        return _held(value, lambda: value)
    except TypeError:  # not hashable after all: kept as it is
        return value


def shared_mapping(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    """A read-only `mapping` held once however many records read it, when its values are plain
    (strings, numbers, None); else a dict of its own."""
    # Each value's type, and a float's repr: 1, 1.0, True are equal, and so are 0.0 and -0.0,
    # and a record shows the value it recorded.
    plain = ((k, type(v), repr(v) if type(v) is float else v) for k, v in mapping.items())
    key = ("mapping", *plain)
    try:
        return _held(key, lambda: _read_only(mapping))
    except TypeError:  # a list or a mapping among the values
        return dict(mapping)


def shared_labels(labels: Mapping[str, str]) -> Mapping[str, str]:
    """A metric's labels, read-only and held once however many records read them."""
    # Strings only (checked by the caller): the values' types need not be in the key.
    return _held(("labels", *labels.items()), lambda: _read_only(labels))


def _read_only(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType({shared_text(k): v for k, v in mapping.items()})


def _maps_strings_to_strings(value: Any) -> bool:
    if not _is_mapping(value):
        return False
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            return False
    return True


@dataclass(frozen=True, slots=True)
class Finding:
    """Something an engineer should look at, keyed so it is recognised across runs (the key is
    its fingerprint). A finding stays open until a later run of its runbook no longer reports it,
    a run clears it, or a person acknowledges it; a `sticky` one (seen in what a run read
    incrementally, such as new log lines) is not closed by a run that merely does not report it.
    """

    key: str
    message: str
    severity: Severity = Severity.WARN
    sticky: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "severity", Severity.parse(self.severity))

    def to_json(self) -> dict[str, Any]:
        value: dict[str, Any] = {
            "kind": "finding",
            "key": self.key,
            "message": self.message,
            "severity": self.severity.value,
        }
        if self.sticky:
            value["sticky"] = True
        return value

    @classmethod
    def from_json(cls, value: Any) -> Finding:
        value = _kind(value, "finding")
        return cls(
            key=_text(value.get("key"), "finding key"),
            message=_text(value.get("message"), "finding message"),
            severity=Severity.parse(value.get("severity")),
            sticky=value.get("sticky", False) is True,
        )


@dataclass(frozen=True, slots=True)
class Clearance:
    """A run's statement that the finding `key` no longer holds (say, the orphaned rows a
    finding named are gone); it closes the finding, sticky or not."""

    key: str
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"kind": "cleared", "key": self.key, "message": self.message}

    @classmethod
    def from_json(cls, value: Any) -> Clearance:
        value = _kind(value, "cleared")
        return cls(
            key=_text(value.get("key"), "cleared key"),
            message=_text(value.get("message", ""), "cleared message"),
        )


class RunErrorName(StrEnum):
    """The names upkeep gives a run's error when no exception of the runbook's own names it."""

    TIMEOUT = "Timeout"  # the run passed its timeout and its kernel was stopped
    NO_CHECKS = "NoChecksRecorded"  # it finished, or stopped early, without recording a check
    INVALID_RESULT = "InvalidResult"  # a result written by hand that upkeep.report would refuse
    CELL_FAILED = "CellExecutionError"  # papermill marked a cell failed without an error output


@dataclass(frozen=True, slots=True)
class RunError:
    """Why a run ended in error: the failing cell and the exception, or a timeout or dead kernel."""

    ename: str
    evalue: str
    cell: int | None = None
    execution_count: int | None = None
    traceback: str = ""

    @property
    def no_checks(self) -> bool:
        """Whether the run ended without recording any check (finished, or stopped early)."""
        return self.ename == RunErrorName.NO_CHECKS

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
