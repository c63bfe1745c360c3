"""Run records read from evidence are held compactly: a site build holds every run's record (five
years of a daily health check: thousands), and what repeats from run to run (names, units,
messages, label sets) is held once."""

from __future__ import annotations

import gc
import json
import tracemalloc
from typing import Any

import pytest

from upkeep.records import RunRecord

RUNS = 1000
# What one such record took before they were held compactly: 11.8 KB; with names, units,
# messages and label sets shared, 3.3 KB; with parameters, versions, the runbook and host
# references shared too and equal times held once, about 2.6 KB.
BYTES_PER_RECORD = 3000


def _run_json(n: int) -> dict[str, Any]:
    """A health check's run.json: 6 checks, 13 metrics with labels, as the demo's has."""
    at = f"2026-11-{1 + n % 28:02d}T03:00:00.000Z"
    return {
        "run_id": f"202611{1 + n % 28:02d}T030000Z-health-check-{n:06x}",
        "runbook": {"name": "health-check", "title": "Health check", "cadence": "daily"},
        "status": "ok",
        "started_at": at,
        "as_of": at,
        "ended_at": at,
        "trigger": "schedule",
        "duration_s": 2.3,
        "parameters": {"top_groups": 5},
        "checks": [
            {
                "kind": "check",
                "name": f"service:web{i}",
                "status": "ok",
                "value": 3.7 + n % 5,
                "limit": 500,
                "unit": "ms",
                "message": "http: HTTP 200",
            }
            for i in range(6)
        ],
        "metrics": [
            {
                "kind": "metric",
                "name": "service_latency_ms",
                "value": 3.7 + i + n % 5,
                "unit": "ms",
                "labels": {"kind": "http", "service": f"web{i % 3}"},
            }
            for i in range(13)
        ],
        "host": {"name": "vm", "user": "root", "platform": "Linux-6.18"},
        "versions": {"kernel": "3.11.7", "python": "3.11.7", "upkeep": "0.1.0"},
        "summary": "1 of 1 services up",
    }


def test_records_read_from_evidence_share_what_repeats() -> None:
    first, second = (RunRecord.from_json(json.loads(json.dumps(_run_json(n)))) for n in (1, 2))
    assert first.metrics[0].labels == {"kind": "http", "service": "web0"}
    assert first.metrics[0].labels is second.metrics[0].labels
    assert first.checks[0].message is second.checks[0].message
    assert first.runbook.title is second.runbook.title
    with pytest.raises(TypeError):
        first.metrics[0].labels["service"] = "db"  # type: ignore[index]  # shared: read-only
    assert first.to_json()["metrics"] == _run_json(1)["metrics"]


def test_a_thousand_records_take_less_than_3_kb_each() -> None:
    texts = [json.dumps(_run_json(n)) for n in range(RUNS)]
    gc.collect()
    tracemalloc.start()
    try:
        kept = [RunRecord.from_json(json.loads(text)) for text in texts]
        gc.collect()
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(kept) == RUNS
    assert held / RUNS < BYTES_PER_RECORD


def test_records_share_their_parameters_versions_references_and_equal_times() -> None:
    first, second = (RunRecord.from_json(json.loads(json.dumps(_run_json(n)))) for n in (1, 2))
    assert first.parameters is second.parameters and first.versions is second.versions
    assert first.runbook is second.runbook and first.host is second.host
    assert first.as_of is first.started_at and first.ended_at is first.started_at
    with pytest.raises(TypeError):
        first.parameters["top_groups"] = 6  # type: ignore[index]  # shared: read-only
    assert first.to_json()["parameters"] == {"top_groups": 5}
    assert first.to_json()["versions"] == _run_json(1)["versions"]


@pytest.mark.parametrize("value", [1, 1.0, True, "1", None, 0.0, -0.0])
def test_a_shared_parameter_keeps_its_own_type(value: Any) -> None:
    """1, 1.0 and True are equal in Python, and so are 0.0 and -0.0: each record still shows
    the value it recorded."""
    records = []
    for n, recorded in enumerate([1, 1.0, True, "1", None, 0.0, -0.0, value]):
        run = _run_json(n)
        run["parameters"] = {"top_groups": recorded}
        records.append(RunRecord.from_json(json.loads(json.dumps(run))))
    shown = json.dumps(records[-1].to_json()["parameters"])
    assert shown == json.dumps({"top_groups": value})


def test_parameters_holding_a_list_are_read_as_they_are() -> None:
    run = _run_json(4)
    run["parameters"] = {"paths": ["/var/log", "/tmp"], "limits": {"days": 7}}
    record = RunRecord.from_json(json.loads(json.dumps(run)))
    assert record.to_json()["parameters"] == run["parameters"]
    ended = {**run, "ended_at": "2026-11-05T03:00:02.500Z"}
    assert RunRecord.from_json(ended).ended_at.isoformat() == "2026-11-05T03:00:02.500000+00:00"


class _Text(str):
    """A str subclass, as a library may hand a runbook's results over."""


def test_a_str_subclass_is_read_as_it_is_not_refused() -> None:
    value = _run_json(3)
    value["checks"][0] = {**value["checks"][0], "name": _Text("service:web0")}
    value["metrics"][0] = {**value["metrics"][0], "labels": {_Text("kind"): "http"}}
    value["runbook"] = {**value["runbook"], "title": _Text("Health check")}
    record = RunRecord.from_json(value)
    assert record.checks[0].name == "service:web0"
    assert dict(record.metrics[0].labels) == {"kind": "http"}
    assert record.runbook.title == "Health check"
