"""Discovering runbooks: an invalid one is kept aside with its reason and never hides the others;
the parameters cell is read as papermill's inspection reads it, without papermill's warnings."""

from __future__ import annotations

import json
import os

import pytest
from helpers.fifo import without_waiting_on
from helpers.project import CHECK_OK, REPO, Project

from upkeep import params, registry
from upkeep.errors import ParameterError, RunbookError
from upkeep.runbook_metadata import DEFAULT_RETRIES


def _discover(project: Project) -> registry.Registry:
    return registry.discover(project.root / "runbooks", project.root)


def test_an_invalid_runbook_is_refused_alone_with_its_reason(project: Project) -> None:
    project.add_runbook("fine", [CHECK_OK])
    project.add_runbook("broken", [CHECK_OK], meta={"cadence": "fortnightly"})
    (project.root / "runbooks" / "daily" / "garbled.ipynb").write_text("{not json")
    found = _discover(project)
    assert list(found) == ["fine"] and found.require("fine").name == "fine"
    assert sorted(found.invalid) == ["broken", "garbled"]
    assert found.invalid["broken"].relpath == "runbooks/daily/broken.ipynb"
    assert found.invalid["broken"].message.startswith(
        "runbook broken (runbooks/daily/broken.ipynb): metadata.upkeep.cadence: "
    )
    assert "not a valid notebook" in found.invalid["garbled"].message
    with pytest.raises(RunbookError, match="metadata.upkeep.cadence"):
        found.require("broken")
    with pytest.raises(RunbookError, match=r"no runbook named 'nope' \(known runbooks: fine\)"):
        found.require("nope")


def test_a_notebook_that_is_no_regular_file_is_refused_without_waiting(project: Project) -> None:
    """A FIFO named like a notebook made `upkeep list` (and every command that reads the
    runbooks) wait for a writer for good; a link to a device is no notebook either (/dev/null
    here: /dev/zero would be read until memory ran out)."""
    project.add_runbook("fine", [CHECK_OK])
    folder = project.root / "runbooks" / "daily"
    fifo = folder / "pipe.ipynb"
    os.mkfifo(fifo)
    (folder / "device.ipynb").symlink_to("/dev/null")
    found = without_waiting_on(fifo, lambda: _discover(project))
    assert list(found) == ["fine"]
    for name in ("pipe", "device"):
        message = found.invalid[name].message
        assert message.endswith("cannot read the notebook: not a regular file"), message


def test_a_name_two_notebooks_share_is_refused_naming_both(project: Project) -> None:
    project.add_runbook("twice", [CHECK_OK], cadence="daily")
    project.add_runbook("twice", [CHECK_OK], cadence="weekly")
    project.add_runbook("once", [CHECK_OK])
    found = _discover(project)
    assert list(found) == ["once"]
    message = found.invalid["twice"].message
    assert "defined twice" in message
    assert "runbooks/daily/twice.ipynb" in message and "runbooks/weekly/twice.ipynb" in message


def test_a_notebook_in_another_language_is_refused(project: Project) -> None:
    """papermill's own `notimplemented_translator.ipynb` is an R notebook: upkeep runs Python."""
    path = project.add_runbook("in-r", [("code", "x <- 1")])
    nb = json.loads(path.read_text())
    nb["metadata"]["kernelspec"] = {"name": "ir", "display_name": "R", "language": "R"}
    nb["metadata"]["language_info"] = {"name": "R"}
    path.write_text(json.dumps(nb))
    project.add_runbook("in-python", [CHECK_OK])
    found = _discover(project)
    assert list(found) == ["in-python"]
    assert "kernel runs R" in found.invalid["in-r"].message
    assert "Python runbooks only" in found.invalid["in-r"].message


def test_a_line_papermill_cannot_read_is_a_note_not_a_warning_on_stderr(
    project: Project, capfd: pytest.CaptureFixture[str]
) -> None:
    project.add_runbook("noted", [CHECK_OK], params="a: int = 1\nd = a == 3\nb = 'x'  # help")
    runbook = _discover(project)["noted"]
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""
    assert [p.name for p in runbook.params] == ["a", "b"]
    assert runbook.param_notes == (
        "line 2 ('d = a == 3') declares no parameter: papermill reads a parameter only from "
        "a line with a single '='",
    )
    # `upkeep check` says so too (a note: the runbook runs), where it said "no problems" only.
    checked = project.upkeep_in_process("check")
    assert checked.code == 0, checked.text
    assert "upkeep: note: runbook noted (runbooks/daily/noted.ipynb): line 2 ('d = a == 3')" in (
        checked.err
    )


def test_show_json_gives_each_parameter_its_type_as_people_read_it(project: Project) -> None:
    project.add_runbook(
        "typed",
        [CHECK_OK],
        params="n: int = None  # how many\nmsg = None\nwhen = datetime.now()",
    )
    shown = _discover(project)["typed"].to_json()["parameters"]
    assert [(p["name"], p["type"], p["default"], p["default_expression"]) for p in shown] == [
        ("n", "Optional[int]", None, None),
        ("msg", "any", None, None),
        ("when", "any", None, "datetime.now()"),
    ]


def test_a_runbook_declares_its_retries_and_whether_it_runs_alone(project: Project) -> None:
    project.add_runbook("measures", [CHECK_OK], meta={"runs_alone": True, "retries": 0})
    project.add_runbook("plain", [CHECK_OK])
    found = _discover(project)
    assert (found["measures"].runs_alone, found["measures"].retries) == (True, 0)
    assert (found["plain"].runs_alone, found["plain"].retries) == (False, DEFAULT_RETRIES)
    assert found["measures"].to_json()["runs_alone"] is True


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        ({"retries": -1}, "metadata.upkeep.retries: expected a whole number from 0 to 10"),
        ({"retries": 11}, "metadata.upkeep.retries: expected a whole number from 0 to 10"),
        ({"retries": True}, "metadata.upkeep.retries: expected a whole number"),
        ({"retries": "2"}, "metadata.upkeep.retries: expected a whole number"),
        ({"runs_alone": "yes"}, "metadata.upkeep.runs_alone: expected true or false"),
        # 10**18 passed check, then status and the alerting rules overflowed
        ({"timeout_s": 10**18}, "metadata.upkeep.timeout_s: expected a whole number of seconds"),
        ({"max_output_bytes": 10}, "metadata.upkeep.max_output_bytes: expected a whole number"),
        ({"max_output_bytes": 2**31}, "metadata.upkeep.max_output_bytes: expected a whole"),
        ({"max_output_bytes": 4096.0}, "metadata.upkeep.max_output_bytes: expected a whole"),
        # a title is printed as HTML by the theme on every page (nav, header): a script in it ran
        (
            {"title": "Evil <script>alert('title')</script>"},
            "metadata.upkeep.title: expected one line of text without < > or control characters",
        ),
        ({"title": "Two\nlines"}, "metadata.upkeep.title: expected one line of text"),
        ({"title": "Backup \u202etxt.exe"}, "metadata.upkeep.title: expected one line"),
        ({"owner": "ops\x1b]0;x\x07"}, "metadata.upkeep.owner: expected one line of text"),
        ({"summary": "bell \x07"}, "metadata.upkeep.summary: expected text without control"),
        ({"after": "backup"}, "metadata.upkeep.after: expected a list of runbook names, each once"),
        ({"after": ["Backup"]}, "metadata.upkeep.after: expected a list of runbook names"),
        ({"after": ["backup", "backup"]}, "metadata.upkeep.after: expected a list of runbook"),
        ({"after": [3]}, "metadata.upkeep.after: expected a list of runbook names"),
        ({"after": ["backup\n"]}, "metadata.upkeep.after: expected a list of runbook names"),
        ({"after": ["odd"]}, "metadata.upkeep.after: names the runbook itself"),
        (
            {"after": ["backup"], "runs_alone": True},
            "metadata.upkeep.after: a runbook that runs alone runs before every other one",
        ),
    ],
)
def test_bad_metadata_makes_the_runbook_invalid(
    project: Project, meta: dict[str, object], expected: str
) -> None:
    project.add_runbook("odd", [CHECK_OK], meta=meta)
    assert expected in _discover(project).invalid["odd"].message


def test_a_notebook_whose_file_name_ends_in_a_line_break_is_invalid(project: Project) -> None:
    path = project.add_runbook("odd", [CHECK_OK])
    path.rename(path.with_name("odd\n.ipynb"))
    found = _discover(project)
    assert list(found) == []
    assert "file name must be kebab-case" in found.invalid["odd\n"].message


def test_a_runbook_names_the_runbooks_it_runs_after(project: Project) -> None:
    project.add_runbook("verifies", [CHECK_OK], meta={"after": ["backs-up", "gone"]})
    project.add_runbook("backs-up", [CHECK_OK])
    found = _discover(project)
    # A name that is no runbook orders nothing, and is no error: a project may drop a runbook.
    assert found["verifies"].after == ("backs-up", "gone") and found["backs-up"].after == ()
    assert found["verifies"].to_json()["after"] == ["backs-up", "gone"]
    assert found.invalid == {}


def test_runbooks_that_run_after_each_other_in_a_cycle_are_invalid(project: Project) -> None:
    project.add_runbook("one", [CHECK_OK], meta={"after": ["two"]})
    project.add_runbook("two", [CHECK_OK], meta={"after": ["three"]})
    project.add_runbook("three", [CHECK_OK], meta={"after": ["one"]})
    project.add_runbook("four", [CHECK_OK], meta={"after": ["one"]})  # after a cycle, not in it
    found = _discover(project)
    assert sorted(found.invalid) == ["one", "three", "two"]
    assert (
        "metadata.upkeep.after: runs after itself (one -> two -> three -> one); expected an"
        " order with no cycle"
    ) in found.invalid["one"].message
    assert "(two -> three -> one -> two)" in found.invalid["two"].message
    assert list(found) == ["four"]


def test_the_shipped_backup_verification_and_drill_run_after_the_backup() -> None:
    found = registry.discover(REPO / "runbooks", REPO)
    assert found["backup-verification"].after == ("backup",)
    assert found["disaster-drill"].after == ("backup",)
    assert found.invalid == {}


def test_a_summary_may_span_lines_and_a_runbook_named_index_is_refused(project: Project) -> None:
    project.add_runbook("wordy", [CHECK_OK], meta={"summary": "First line.\nSecond line."})
    project.add_runbook("index", [CHECK_OK])  # its page would stand on the site's runbooks/index
    found = _discover(project)
    assert found["wordy"].summary == "First line.\nSecond line."
    assert "the name 'index' is reserved" in found.invalid["index"].message
    result = project.upkeep_in_process("new", "index", "--cadence", "weekly")
    assert result.code == 2 and "the name 'index' is reserved" in result.err


def test_the_shipped_health_check_runs_alone() -> None:
    found = registry.discover(REPO / "runbooks", REPO)
    assert found["health-check"].runs_alone
    assert not found["backup"].runs_alone and not found["cleaning"].runs_alone


def test_the_disaster_drills_timeout_is_checked_before_anything_runs() -> None:
    # `-p healthy_timeout_s=-5` ran the drill and recorded a failed one: "not healthy within -5s".
    found = registry.discover(REPO / "runbooks", REPO)
    with pytest.raises(ParameterError, match="healthy_timeout_s: expected a value >= 0, got -5"):
        params.validate(found["disaster-drill"], {"healthy_timeout_s": "-5"})


def _tags(nb: dict) -> None:
    nb["cells"][0]["metadata"]["tags"] = None


def _params_tags(nb: dict) -> None:
    next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))["metadata"][
        "tags"
    ] = None


MALFORMED = {
    "tags null": (_params_tags, "metadata.tags is not a list of text"),
    "first cell's tags null": (_tags, "metadata.tags is not a list of text"),
    "metadata null": (lambda nb: nb.update(metadata=None), "metadata is not a mapping"),
    "cells null": (lambda nb: nb.update(cells=None), "cells are not a list"),
    "cells text": (lambda nb: nb.update(cells="s"), "cells are not a list"),
    "source with null": (
        lambda nb: nb["cells"][-1].update(source=[None]),
        "source is not text or a list of lines",
    ),
    "cell metadata list": (
        lambda nb: nb["cells"][-1].update(metadata=[]),
        "its metadata is not a mapping",
    ),
    "no cell type": (lambda nb: nb["cells"][-1].pop("cell_type"), "expected a cell with"),
    "lone surrogate": (lambda nb: nb["cells"][-1].update(source="\ud800"), "lone surrogate"),
    "nbformat 99": (lambda nb: nb.update(nbformat=99), "nbformat is 99; expected 4"),
    "nbformat text": (lambda nb: nb.update(nbformat="4"), "nbformat is '4'; expected 4"),
    "nbformat 3": (lambda nb: nb.update(nbformat=3), "nbformat is 3; expected 4"),
    "not an object": (lambda nb: nb.clear(), "nbformat is None"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_notebook_is_invalid_alone(project: Project, case: str) -> None:
    """One notebook of a shape nobody's reader expects (tags null, cells null, nbformat 99):
    every command failed with an internal error; now that runbook alone is invalid, named."""
    project.add_runbook("fine", [CHECK_OK])
    path = project.add_runbook("odd", [CHECK_OK], params="x: int = 1")
    break_it, message = MALFORMED[case]
    nb = json.loads(path.read_text())
    break_it(nb)
    path.write_text(json.dumps(nb))
    found = _discover(project)
    assert list(found) == ["fine"]
    assert message in found.invalid["odd"].message
    listed = project.upkeep_in_process("list")
    assert listed.code == 2 and "Traceback" not in listed.text
    assert project.upkeep_in_process("show", "fine").code == 0
    shown = project.upkeep_in_process("show", "odd")
    assert shown.code == 2 and message in shown.err
