"""`upkeep list`: every runbook with its cadence, last status and when it is due."""

from __future__ import annotations

import json

import pytest
from helpers.project import CHECK_OK, Project


def test_list_gives_each_runbook_its_cadence_and_whether_it_is_due(project: Project) -> None:
    project.add_runbook("alpha", [CHECK_OK], params="limit: float = 2.5  # the limit")
    project.add_runbook("beta", [CHECK_OK], cadence="weekly")
    listing = json.loads(project.upkeep("list", "--json").out)
    assert [(r["name"], r["cadence"], r["last_status"], r["due"]) for r in listing] == [
        ("alpha", "daily", None, True),
        ("beta", "weekly", None, True),
    ]


def test_list_prints_an_aligned_table(project: Project) -> None:
    project.add_runbook("alpha", [CHECK_OK])
    project.add_runbook("beta-long-name", [CHECK_OK], cadence="weekly")
    result = project.upkeep("list", "--at", "2026-12-01T03:00Z")
    assert result.code == 0, result.text
    header, *rows = result.out.splitlines()
    columns = ("NAME", "CADENCE", "LAST", "LAST RUN", "NEXT DUE")
    starts = [header.index(column) for column in columns]
    assert starts == sorted(starts) and header.startswith("NAME")
    expected = [
        ("alpha", "daily", "never", "-", "DUE since "),
        ("beta-long-name", "weekly", "never", "-", "DUE since "),
    ]
    for row, cells in zip(rows, expected, strict=True):
        for start, cell in zip(starts, cells, strict=True):
            assert row[start:].startswith(cell), (row, cell)
            assert start == 0 or row[start - 2 : start] == "  ", (row, cell)


def test_an_empty_runbooks_folder_is_said(project: Project) -> None:
    result = project.upkeep("list")
    assert result.code == 0 and result.out.startswith("no runbooks under ")


def test_an_invalid_runbook_is_listed_as_such_beside_the_others(project: Project) -> None:
    project.add_runbook("fine", [CHECK_OK])
    project.add_runbook("broken", [CHECK_OK], meta={"cadence": "fortnightly"})
    result = project.upkeep_in_process("list", "--at", "2026-12-01T03:00Z")
    assert result.code == 2, result.text
    rows = [line.split()[:3] for line in result.out.splitlines()[1:]]
    assert rows == [["broken", "-", "INVALID"], ["fine", "daily", "never"]]
    assert result.err.startswith("upkeep: error: runbook broken (runbooks/daily/broken.ipynb): ")
    assert "metadata.upkeep.cadence" in result.err


@pytest.mark.parametrize("at", ["0001-01-01", "9999-12-31T23:00"])
def test_an_at_in_a_year_schedules_cannot_reach_is_refused(project: Project, at: str) -> None:
    # 0001-01-01 ended in an OverflowError traceback with exit 1.
    project.add_runbook("fine", [CHECK_OK])
    for command in (("list",), ("run", "--due"), ("status",)):
        result = project.upkeep_in_process(*command, "--at", at)
        assert result.code == 2, result.text
        assert f"expected a time in the years 1970 to 9998, got {at!r}" in result.err


@pytest.mark.parametrize(
    ("zone", "at"),
    [("UTC", "9998-12-31T23:59-12:00"), ("Pacific/Kiritimati", "9998-12-31T12:00Z")],
)
def test_an_at_whose_year_ends_past_9998_once_converted_is_refused(
    make_project, zone: str, at: str
) -> None:
    # The year was checked as written: 9998 there is 9999 in UTC or in the configured zone,
    # and every command ended in an OverflowError traceback (exit 3).
    project = make_project(
        f"version: 1\ntimezone: {zone}\nevidence_dir: evidence\nstate_dir: state\n"
        "runbooks_dir: runbooks\n"
    )
    project.add_runbook("fine", [CHECK_OK])
    for command in (("list",), ("run", "--due"), ("status",), ("watch",), ("review",)):
        result = project.upkeep_in_process(*command, "--at", at)
        assert result.code == 2, (command, result.text)
        assert f"expected a time in the years 1970 to 9998, got {at!r}" in result.err
        assert "Traceback" not in result.text


def test_an_at_the_zone_skips_is_refused_and_one_it_repeats_is_the_first(make_project) -> None:
    # 02:30 on the day Berlin went from 02:00 to 03:00 was echoed as "02:30 CET": a time that
    # never was, and the plan made for it.
    project = make_project(
        "version: 1\ntimezone: Europe/Berlin\nevidence_dir: evidence\nstate_dir: state\n"
        "runbooks_dir: runbooks\n"
    )
    project.add_runbook("fine", [CHECK_OK])
    for command in (("status",), ("run", "--due")):
        result = project.upkeep_in_process(*command, "--at", "2026-03-29T02:30")
        assert result.code == 2, result.text
        assert (
            "'2026-03-29T02:30' does not exist in Europe/Berlin: the clocks went forward then; "
            "expected a time that exists, such as 2026-03-29T03:30"
        ) in result.err
    repeated = project.upkeep_in_process("status", "--at", "2026-10-25T02:30")
    assert repeated.code == 0, repeated.text
    assert "as of 2026-10-25 02:30 CEST" in repeated.out


def test_list_json_gives_an_invalid_runbook_its_reason(project: Project) -> None:
    project.add_runbook("fine", [CHECK_OK])
    project.add_runbook("broken", [CHECK_OK], meta={"cadence": "fortnightly"})
    result = project.upkeep_in_process("list", "--json")
    assert result.code == 2
    listing = {entry["name"]: entry for entry in json.loads(result.out)}
    assert listing["fine"]["invalid"] is None and listing["fine"]["cadence"] == "daily"
    assert "metadata.upkeep.cadence" in listing["broken"]["invalid"]
    assert set(listing["broken"]) == set(listing["fine"])


def test_parameters_papermill_accepts_keep_list_working(project: Project) -> None:
    project.add_runbook("papermill-style", [CHECK_OK], params="msg = None\npair = (1, 2)")
    project.add_runbook("other", [CHECK_OK])
    result = project.upkeep_in_process("list", "--json")
    assert result.code == 0, result.text
    assert [entry["name"] for entry in json.loads(result.out)] == ["other", "papermill-style"]
