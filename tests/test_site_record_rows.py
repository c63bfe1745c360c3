"""A run record kept as a compact row for the site's cache comes back as the record it was: equal
value for value and type for type, whatever run.json held; a row that is not one is refused."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from upkeep.records import RunRecord
from upkeep.site.record_rows import BadRow, record_of, row_of

_TEXT = st.text(max_size=6)
_NUMBER = st.one_of(
    st.none(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False, allow_infinity=False),
)
_TIME = st.sampled_from(
    ["2026-10-01T03:00:00Z", "2026-10-01T05:00:00+02:00", "2026-10-01T03:00:07.250Z"]
)
_PLAIN = st.one_of(st.none(), st.booleans(), _NUMBER, _TEXT)
_JSON = st.recursive(
    _PLAIN,
    lambda inner: st.one_of(st.lists(inner, max_size=2), st.dictionaries(_TEXT, inner, max_size=2)),
    max_leaves=4,
)
_WAIVER = st.fixed_dictionaries(
    {"reason": _TEXT, "expires": _TEXT},
    optional={"approved_by": _TEXT, "owner": _TEXT, "held": st.booleans(), "why_not": _TEXT},
)
_CHECK = st.fixed_dictionaries(
    {
        "name": _TEXT,
        "status": st.sampled_from(["ok", "warn", "fail"]),
        "value": _NUMBER,
        "limit": _NUMBER,
    },
    optional={"unit": _TEXT, "message": _TEXT, "waiver": _WAIVER, "kind": st.just("check")},
)
_METRIC = st.fixed_dictionaries(
    {
        "name": _TEXT,
        "value": st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False)),
    },
    optional={"unit": _TEXT, "labels": st.dictionaries(_TEXT, _TEXT, max_size=2)},
)
_RUN_JSON = st.fixed_dictionaries(
    {
        "run_id": _TEXT.filter(bool),
        "runbook": st.fixed_dictionaries(
            {"name": _TEXT.filter(bool)},
            optional={
                "title": _TEXT,
                "path": _TEXT,
                "sha256": _TEXT,
                "cadence": _TEXT,
                "category": _TEXT,
                "git_commit": st.one_of(st.none(), _TEXT),
                "git_dirty": st.booleans(),
            },
        ),
        "status": st.sampled_from(["ok", "warn", "fail", "error", "skipped"]),
        "started_at": _TIME,
    },
    optional={
        "as_of": _TIME,
        "ended_at": _TIME,
        "trigger": st.sampled_from(["schedule", "manual", "catch-up", "bogus"]),
        "duration_s": _NUMBER,
        "parameters": st.dictionaries(_TEXT, _JSON, max_size=3),
        "secret_parameters": st.lists(_TEXT, max_size=2),
        "checks": st.lists(_CHECK, max_size=3),
        "metrics": st.lists(_METRIC, max_size=3),
        "findings": st.lists(
            st.fixed_dictionaries(
                {"key": _TEXT, "message": _TEXT, "severity": st.sampled_from(["info", "warn"])},
                optional={"sticky": st.booleans()},
            ),
            max_size=2,
        ),
        "cleared": st.lists(st.fixed_dictionaries({"key": _TEXT, "message": _TEXT}), max_size=2),
        "error": st.one_of(
            st.none(),
            st.fixed_dictionaries(
                {"ename": _TEXT, "evalue": _TEXT},
                optional={"cell": _NUMBER, "execution_count": _NUMBER, "traceback": _TEXT},
            ),
        ),
        "skipped_reason": st.one_of(st.none(), _TEXT),
        "dry_run": st.one_of(st.booleans(), _PLAIN),
        "summary": _PLAIN,
        "host": st.fixed_dictionaries({}, optional={"name": _TEXT, "user": _TEXT, "id": _TEXT}),
        "versions": st.dictionaries(_TEXT, st.one_of(st.none(), _TEXT), max_size=2),
        "artifacts": st.one_of(st.none(), st.dictionaries(_TEXT, _TEXT, max_size=2)),
        "schema": st.integers(min_value=0, max_value=3),
    },
)


def _exactly(record: RunRecord) -> str:
    """The record as JSON text: tells 1 from 1.0 and 0.0 from -0.0, which == does not."""
    return json.dumps(record.to_json(), sort_keys=True)


@settings(max_examples=300, deadline=None)
@given(run_json=_RUN_JSON)
def test_a_row_gives_back_the_record_it_was_made_from(run_json: dict[str, Any]) -> None:
    record = RunRecord.from_json(run_json)
    kept = json.loads(json.dumps(row_of(record)))  # as the cache file holds it
    back = record_of(kept)
    assert back == record
    assert _exactly(back) == _exactly(record)
    assert [type(getattr(back, f)) for f in back.__slots__] == [
        type(getattr(record, f)) for f in record.__slots__
    ]


def test_a_row_shares_what_runs_repeat_as_run_json_does() -> None:
    run_json = {
        "run_id": "r1",
        "runbook": {"name": "health-check", "title": "Health check"},
        "status": "ok",
        "started_at": "2026-10-01T03:00:00Z",
        "metrics": [{"name": "load", "value": 1, "labels": {"cpu": "0"}}],
        "host": {"name": "vm"},
    }
    record = RunRecord.from_json(run_json)
    back = record_of(json.loads(json.dumps(row_of(record))))
    assert back.runbook is record.runbook and back.host is record.host
    assert back.metrics[0].labels is record.metrics[0].labels
    assert back.as_of is back.started_at and back.ended_at is back.started_at


@pytest.mark.parametrize(
    "bad",
    [None, 3, "row", [], [1, 2], ["r1"] * 22],
    ids=["null", "number", "text", "empty", "short", "wrong types"],
)
def test_a_row_that_is_not_one_is_refused(bad: Any) -> None:
    with pytest.raises(BadRow):
        record_of(bad)


def test_a_row_with_a_status_it_cannot_have_is_refused() -> None:
    record = RunRecord.from_json(
        {
            "run_id": "r1",
            "runbook": {"name": "x"},
            "status": "ok",
            "started_at": "2026-10-01T03:00:00Z",
        }
    )
    row = row_of(record)
    row[2] = "splendid"
    with pytest.raises(BadRow):
        record_of(row)
