"""`upkeep show NAME`: a runbook's metadata and parameters."""

from __future__ import annotations

import json

from helpers.project import CHECK_OK, Project


def test_show_names_each_parameter_with_its_type_default_and_help(project: Project) -> None:
    project.add_runbook("alpha", [CHECK_OK], params="limit: float = 2.5  # the limit")
    project.add_runbook("beta", [CHECK_OK], cadence="weekly")
    shown = project.upkeep("show", "alpha")
    assert shown.code == 0
    assert "limit: float = 2.5" in shown.out and "the limit" in shown.out
    assert "run it: upkeep run alpha -p limit=..." in shown.out


def test_show_json_is_the_runbook_for_scripts(project: Project) -> None:
    project.add_runbook("alpha", [CHECK_OK], params="limit: float = 2.5  # the limit")
    shown = json.loads(project.upkeep("show", "alpha", "--json").out)
    assert (shown["name"], shown["cadence"], shown["path"]) == (
        "alpha",
        "daily",
        "runbooks/daily/alpha.ipynb",
    )


def test_show_of_an_unknown_runbook_exits_2(project: Project) -> None:
    result = project.upkeep("show", "nope")
    assert result.code == 2 and "no runbook named 'nope'" in result.err
