"""Reading results back from an executed notebook, and the status and exit code they give."""

from __future__ import annotations

import pytest

from upkeep import report
from upkeep.records import Finding, Metric, Status, exit_code
from upkeep.run.collect import collect


def _output(record: dict) -> dict:
    return {
        "output_type": "display_data",
        "metadata": {},
        "data": {report.MIMETYPE: record, "text/plain": "x"},
    }


def _nb(*outputs: dict) -> dict:
    return {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": 1,
                "source": "",
                "metadata": {},
                "outputs": list(outputs),
            }
        ]
    }


def _check(status: str) -> dict:
    return {
        "kind": "check",
        "name": f"c-{status}",
        "status": status,
        "value": None,
        "limit": None,
        "unit": "",
        "message": "",
    }


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["ok"], "ok"),
        (["ok", "warn"], "warn"),
        (["warn", "fail", "ok"], "fail"),
        ([], "error"),
    ],
)
def test_status_is_the_worst_check(statuses: list[str], expected: str) -> None:
    found = collect(_nb(*(_output(_check(s)) for s in statuses)))
    assert found.status == expected


def test_a_result_written_by_hand_that_report_would_refuse_is_an_error() -> None:
    found = collect(_nb(_output(_check("ok")), _output(_check("bogus"))))
    assert found.status is Status.ERROR
    assert found.error.ename == "InvalidResult" and found.error.cell == 0
    assert "'bogus'" in found.error.evalue
    assert [check.name for check in found.checks] == ["c-ok"]


def test_no_check_recorded_is_an_error_that_says_so() -> None:
    found = collect(_nb())
    assert found.status is Status.ERROR and found.error.ename == "NoChecksRecorded"


def test_a_cell_error_is_an_error_whatever_the_checks() -> None:
    error = {
        "output_type": "error",
        "ename": "KeyError",
        "evalue": "'x'",
        "traceback": ["\x1b[31mKeyError\x1b[0m: 'x'"],
    }
    found = collect(_nb(_output(_check("ok")), error))
    assert found.status == "error"
    assert found.error.ename == "KeyError" and found.error.cell == 0
    assert found.error.traceback == "KeyError: 'x'"  # colour codes stripped


def test_sys_exit_zero_is_not_an_error() -> None:
    exit_zero = {"output_type": "error", "ename": "SystemExit", "evalue": "0", "traceback": []}
    found = collect(_nb(_output(_check("ok")), exit_zero))
    assert found.error is None and found.status == "ok"


def test_metrics_and_findings_are_collected_in_order() -> None:
    metric = {"kind": "metric", "name": "m", "value": 1.5, "unit": "s", "labels": {}}
    finding = {"kind": "finding", "key": "k", "message": "look", "severity": "warn"}
    found = collect(_nb(_output(metric), _output(finding), _output(_check("ok"))))
    assert found.metrics == (Metric("m", 1.5, "s", {}),)
    assert found.findings == (Finding("k", "look", "warn"),)
    assert found.metrics[0].to_json() == metric and found.findings[0].to_json() == finding


@pytest.mark.parametrize(
    ("statuses", "code"),
    [
        (["ok", "warn", "skipped"], 0),
        (["ok", "fail"], 1),
        (["fail", "error"], 3),
        ([], 0),
    ],
)
def test_exit_codes(statuses: list[str], code: int) -> None:
    assert exit_code(Status(s) for s in statuses) == code


def test_report_refuses_bad_values() -> None:
    with pytest.raises(ValueError):
        report.check("x", "great")
    with pytest.raises(TypeError):
        report.metric("m", float("nan"))
    with pytest.raises(ValueError):
        report.finding("k", "m", severity="panic")
