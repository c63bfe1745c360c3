"""Checks and metrics are read from run.json the short way when they have the shape runs write:
whatever the JSON, the short way gives what the long way gives (an equal value of the same
types, or the same error). The long way is what any other mapping than a plain dict takes."""

from __future__ import annotations

import math
from types import MappingProxyType
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from upkeep.records import Check, Metric

_ABSENT = object()  # the field left out
_ANY = st.one_of(
    st.just(_ABSENT),
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", "ok", "warn", "fail", "error", "skipped", "OK", "metric", "check", "%"]),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), min_size=1, max_size=2),
)
_NUMBER = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False), st.integers(min_value=-(10**9))
)
_CHECK = st.fixed_dictionaries(
    {
        "kind": st.just("check"),
        "name": st.text(max_size=5),
        "status": st.sampled_from(["ok", "warn", "fail"]),
        "value": st.one_of(st.none(), _NUMBER),
        "limit": st.one_of(st.none(), _NUMBER),
        "unit": st.text(max_size=3),
        "message": st.text(max_size=5),
    }
)
_METRIC = st.fixed_dictionaries(
    {
        "kind": st.just("metric"),
        "name": st.text(max_size=5),
        "value": _NUMBER,
        "unit": st.text(max_size=3),
        "labels": st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
    }
)


def _changed(written: dict[str, Any], field: str, other: Any) -> dict[str, Any]:
    """What a run writes with one field left out or replaced by anything at all."""
    value = dict(written)
    if other is _ABSENT:
        value.pop(field, None)
    else:
        value[field] = other
    return value


def _read(parse: Any, value: Any) -> tuple[str, Any]:
    try:
        made = parse(value)
    except ValueError as error:
        return "error", str(error)
    # Equal is not enough: 0.0 == -0.0 and 1 == 1.0, but a record shows what it recorded.
    return "made", (made, [(type(v), repr(v)) for v in _fields(made)])


def _fields(made: Any) -> list[Any]:
    return [getattr(made, name) for name in made.__slots__]


@settings(max_examples=600, deadline=None)
@given(
    written=_CHECK,
    field=st.sampled_from(
        ["kind", "name", "status", "value", "limit", "unit", "message", "waiver"]
    ),
    other=_ANY,
)
def test_a_check_reads_alike_either_way(written: dict[str, Any], field: str, other: Any) -> None:
    value = _changed(written, field, other)
    assert _read(Check.from_json, value) == _read(Check.from_json, MappingProxyType(value))


@settings(max_examples=600, deadline=None)
@given(
    written=_METRIC,
    field=st.sampled_from(["kind", "name", "value", "unit", "labels"]),
    other=_ANY,
)
def test_a_metric_reads_alike_either_way(written: dict[str, Any], field: str, other: Any) -> None:
    value = _changed(written, field, other)
    assert _read(Metric.from_json, value) == _read(Metric.from_json, MappingProxyType(value))


def test_the_short_way_keeps_what_was_recorded() -> None:
    check = Check.from_json({"kind": "check", "name": "disk", "status": "warn", "value": -0.0})
    assert math.copysign(1, check.value) == -1 and check.limit is None and check.unit == ""
    metric = Metric.from_json({"name": "load", "value": 3, "labels": {"cpu": "0"}})
    assert type(metric.value) is int and dict(metric.labels) == {"cpu": "0"}
    # Read the short way or not, one label set is held once.
    again = Metric.from_json(MappingProxyType({"name": "load", "value": 4, "labels": {"cpu": "0"}}))
    assert again.labels is metric.labels
