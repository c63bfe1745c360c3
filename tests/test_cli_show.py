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


def test_show_gives_papermill_style_parameters_a_clear_type(project: Project) -> None:
    project.add_runbook(
        "forms",
        [CHECK_OK],
        params="n: int = None  # how many\nmsg = None\nsince = datetime.now()\nd = n == 3",
    )
    shown = project.upkeep_in_process("show", "forms")
    assert shown.code == 0, shown.text
    assert "  n: Optional[int] = None\n      how many\n" in shown.out
    assert "  msg: any = None\n" in shown.out
    assert "  since: any = datetime.now()  [default computed by the runbook]\n" in shown.out
    assert "note: line 4 ('d = n == 3') declares no parameter" in shown.out
    assert shown.err == ""


def test_show_of_one_runbook_is_not_stopped_by_another_invalid_one(project: Project) -> None:
    project.add_runbook("alpha", [CHECK_OK])
    project.add_runbook("broken", [CHECK_OK], meta={"cadence": "fortnightly"})
    assert project.upkeep_in_process("show", "alpha").code == 0
    refused = project.upkeep_in_process("show", "broken")
    assert refused.code == 2 and "Traceback" not in refused.text
    assert refused.err.startswith("upkeep: error: runbook broken (runbooks/daily/broken.ipynb): ")


def test_show_gives_the_timeout_a_run_gets(project: Project) -> None:
    """A runbook without its own timeout runs under defaults.timeout_s (120 s in this project's
    upkeep.yml): that is the timeout shown, as text and as JSON."""
    project.add_runbook("own", [CHECK_OK], meta={"timeout_s": 60})
    project.add_runbook("inherits", [CHECK_OK], meta={"timeout_s": None})
    own = json.loads(project.upkeep_in_process("show", "own", "--json").out)
    inherits = json.loads(project.upkeep_in_process("show", "inherits", "--json").out)
    assert (own["timeout_s"], own["declared_timeout_s"]) == (60, 60)
    assert (inherits["timeout_s"], inherits["declared_timeout_s"]) == (120, None)
    shown = project.upkeep_in_process("show", "inherits").out
    assert "  timeout     120 s (defaults.timeout_s)\n" in shown


def test_show_gives_the_output_a_run_keeps(project: Project) -> None:
    """A runbook's own max_output_bytes, else the default of 8 MiB (this project's upkeep.yml
    does not set one)."""
    project.add_runbook("own", [CHECK_OK], meta={"max_output_bytes": 4096})
    project.add_runbook("inherits", [CHECK_OK])
    own = json.loads(project.upkeep_in_process("show", "own", "--json").out)
    inherits = json.loads(project.upkeep_in_process("show", "inherits", "--json").out)
    assert (own["max_output_bytes"], own["declared_max_output_bytes"]) == (4096, 4096)
    assert (inherits["max_output_bytes"], inherits["declared_max_output_bytes"]) == (
        8 * 1024 * 1024,
        None,
    )
    assert "  output kept 4.0 KiB\n" in project.upkeep_in_process("show", "own").out
    shown = project.upkeep_in_process("show", "inherits").out
    assert "  output kept 8.0 MiB (defaults.max_output_bytes)\n" in shown


def test_show_names_the_runbooks_it_runs_after(project: Project) -> None:
    project.add_runbook("verifies", [CHECK_OK], meta={"after": ["backs-up"]})
    project.add_runbook("backs-up", [CHECK_OK])
    assert "  after       backs-up\n" in project.upkeep_in_process("show", "verifies").out
    assert "  after       -\n" in project.upkeep_in_process("show", "backs-up").out
    shown = json.loads(project.upkeep_in_process("show", "verifies", "--json").out)
    assert shown["after"] == ["backs-up"]
