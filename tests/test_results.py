"""Reading results back from an executed notebook, and the status and exit code they give."""

from __future__ import annotations

import pytest

from upkeep import report, results


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
        (["ok", "bogus"], "error"),
    ],
)
def test_status_is_the_worst_check(statuses: list[str], expected: str) -> None:
    found = results.collect(_nb(*(_output(_check(s)) for s in statuses)))
    assert results.decide_status(found) == expected


def test_a_cell_error_is_an_error_whatever_the_checks() -> None:
    error = {
        "output_type": "error",
        "ename": "KeyError",
        "evalue": "'x'",
        "traceback": ["\x1b[31mKeyError\x1b[0m: 'x'"],
    }
    found = results.collect(_nb(_output(_check("ok")), error))
    assert results.decide_status(found) == "error"
    assert found.error.ename == "KeyError" and found.error.cell == 0
    assert found.error.traceback == "KeyError: 'x'"  # colour codes stripped


def test_sys_exit_zero_is_not_an_error() -> None:
    exit_zero = {"output_type": "error", "ename": "SystemExit", "evalue": "0", "traceback": []}
    found = results.collect(_nb(_output(_check("ok")), exit_zero))
    assert found.error is None and results.decide_status(found) == "ok"


def test_metrics_and_findings_are_collected_in_order() -> None:
    metric = {"kind": "metric", "name": "m", "value": 1.5, "unit": "s", "labels": {}}
    finding = {"kind": "finding", "key": "k", "message": "look", "severity": "warn"}
    found = results.collect(_nb(_output(metric), _output(finding), _output(_check("ok"))))
    assert found.metrics == (metric,) and found.findings == (finding,)


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
    assert results.exit_code(statuses) == code


def test_report_refuses_bad_values() -> None:
    with pytest.raises(ValueError):
        report.check("x", "great")
    with pytest.raises(TypeError):
        report.metric("m", float("nan"))
    with pytest.raises(ValueError):
        report.finding("k", "m", severity="panic")
