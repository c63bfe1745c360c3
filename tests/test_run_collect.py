"""Reading results back from an executed notebook, and the status and exit code they give."""

from __future__ import annotations

import pytest

from upkeep import report
from upkeep.records import Clearance, Finding, Metric, Status, exit_code
from upkeep.run.collect import collect, stopped_cell


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


def test_the_summary_a_runbook_gave_is_read_back_its_parts_joined() -> None:
    found = collect(
        _nb(
            _output(_check("ok")),
            _output(report.summary("app: full 1.4 MiB")),
            _output(report.summary("orders: full 12.0 MiB")),
        )
    )
    assert found.summary == "app: full 1.4 MiB; orders: full 12.0 MiB"
    assert (found.status, collect(_nb(_output(_check("ok")))).summary) == ("ok", "")


def test_a_summary_written_by_hand_without_text_is_an_error() -> None:
    found = collect(_nb(_output(_check("ok")), _output({"kind": "summary", "text": 3})))
    assert found.status == "error" and found.error is not None
    assert "summary text must be a string" in found.error.evalue


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


def test_the_record_keeps_the_start_of_an_errors_long_message_and_traceback() -> None:
    """An exception carrying a whole log went whole into run.json, which every listing reads;
    the notebook keeps it whole."""
    from upkeep.run.collect import EVALUE_CHARS, TRACEBACK_CHARS

    error = {
        "output_type": "error",
        "ename": "RuntimeError",
        "evalue": "e" * (EVALUE_CHARS + 1),
        "traceback": ["t" * 5000] * 10,
    }
    found = collect(_nb(error))
    assert found.error.evalue == "e" * (EVALUE_CHARS - 1) + "…"  # the mark says it was cut
    assert found.error.traceback == "\n".join(["t" * 5000] * 10)[: TRACEBACK_CHARS - 1] + "…"


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


def test_findings_keep_stickiness_and_clearances_are_collected() -> None:
    sticky = {"kind": "finding", "key": "log:a:1", "message": "m", "severity": "fail"}
    sticky["sticky"] = True
    cleared = {"kind": "cleared", "key": "orphans:x", "message": "none left"}
    found = collect(_nb(_output(sticky), _output(cleared), _output(_check("ok"))))
    assert found.findings == (Finding("log:a:1", "m", "fail", sticky=True),)
    assert found.cleared == (Clearance("orphans:x", "none left"),)


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


def _cell(*outputs: dict, papermill: dict | None = None, count: int | None = 1) -> dict:
    return {
        "cell_type": "code",
        "execution_count": count,
        "source": "",
        "metadata": {"papermill": papermill or {}},
        "outputs": list(outputs),
    }


def _stderr(text: str) -> dict:
    return {"output_type": "stream", "name": "stderr", "text": text}


def test_a_cell_papermill_marked_failed_without_an_error_output_is_an_error() -> None:
    """An unknown magic: IPython prints a UsageError to stderr, gives no error output, and
    papermill marks the cell `exception: true`; a check recorded before must not make it ok."""
    nb = {
        "cells": [
            _cell(_output(_check("ok"))),
            _cell(
                _stderr("UsageError: Line magic function `%undefined-line-magic` not found.\n"),
                papermill={"exception": True, "status": "failed"},
                count=2,
            ),
        ]
    }
    found = collect(nb)
    assert found.status is Status.ERROR
    assert (found.error.ename, found.error.cell, found.error.execution_count) == (
        "CellExecutionError",
        1,
        2,
    )
    assert (
        found.error.evalue == "UsageError: Line magic function `%undefined-line-magic` not found."
    )


def test_a_clean_exit_before_any_check_says_where_the_runbook_stopped_early() -> None:
    for evalue in ("", "0"):
        exit_output = {"output_type": "error", "ename": "SystemExit", "evalue": evalue}
        nb = {
            "cells": [
                _cell(count=1),
                _cell(exit_output, papermill={"exception": True, "status": "failed"}, count=2),
            ]
        }
        found = collect(nb)
        assert found.status is Status.ERROR
        assert (found.error.ename, found.error.cell, found.error.execution_count) == (
            "NoChecksRecorded",
            1,
            2,
        )
        assert found.error.evalue.startswith("the runbook stopped early, here (SystemExit")
        assert "finished" not in found.error.evalue


def test_a_clean_exit_after_a_check_is_the_checks_status_as_papermill_counts_it() -> None:
    exit_zero = {"output_type": "error", "ename": "SystemExit", "evalue": ""}
    nb = {
        "cells": [
            _cell(_output(_check("warn"))),
            _cell(exit_zero, papermill={"exception": True, "status": "failed"}),
        ]
    }
    found = collect(nb)
    assert found.error is None and found.status is Status.WARN


def test_the_cell_where_execution_stopped_is_the_last_one_papermill_started() -> None:
    """papermill's status is no guide: after a timeout it marks the unfinished cell and every
    pending one `completed`."""
    completed = {"status": "completed"}
    nb = {
        "cells": [
            _cell(papermill={**completed, "start_time": "2026-12-04T18:00:26+00:00"}, count=1),
            _cell(papermill={**completed, "start_time": "2026-12-04T18:00:27+00:00"}, count=2),
            _cell(papermill={**completed, "start_time": None}, count=None),
        ]
    }
    assert stopped_cell(nb) == (1, 2)
    assert stopped_cell({"cells": [_cell(papermill={"start_time": None})]}) == (None, None)


def test_a_runbook_that_says_it_is_a_dry_run_is_read_as_one() -> None:
    said = report.dry_run()
    assert said == {"kind": report.DRY_RUN}
    found = collect(_nb(_output(_check("ok")), _output(said)))
    assert found.dry_run and found.status is Status.OK
    assert [check.name for check in found.checks] == ["c-ok"]  # the mark is no result
    assert not collect(_nb(_output(_check("ok")))).dry_run
