"""papermill's own test notebooks through upkeep, read from the installed papermill at test time
(never copied into this repository): each becomes a runbook (upkeep metadata added and a final ok
check appended, its own cells unchanged), and each run ends as papermill's semantics imply.

Where papermill raises PapermillExecutionError (a cell error output, or a cell it marks failed
without one: an unknown magic), or the run times out, the run is an error in the cell where
execution stopped. Where papermill succeeds, the appended check runs and the run is ok; except
after a clean `sys.exit` / `raise SystemExit`, which papermill counts as success but which stops
the notebook before the check: an error saying the runbook stopped early at that cell. The one
R notebook is refused alone, since upkeep runs Python runbooks, and it hides no other runbook.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import papermill
import pytest
from helpers.project import CHECK_OK, Project

pytestmark = pytest.mark.slow

NOTEBOOKS = Path(papermill.__file__).parent / "tests" / "notebooks"
TIMEOUT_S = 30
INTERRUPTED_TIMEOUT_S = 3  # keyboard_interrupt.ipynb sleeps 60 s

# runbook name -> (status, a snippet of the cell where the run stopped, the error's name)
EXPECTED: dict[str, tuple[str, str | None, str | None]] = {
    "binder": ("error", "%%bash", "CalledProcessError"),  # papermill on paths not beside it
    "blank-vscode": ("ok", None, None),
    "broken": ("error", 'print "We\'re good."', "SyntaxError"),  # Python 2 print
    "broken1": ("error", "assert False", "AssertionError"),
    "broken2": ("error", "from IPython.core.display import display", None),
    "complex-parameters": ("error", "msg = None", "SyntaxError"),  # its cell has '= 2'
    "keyboard-interrupt": ("error", "sleep(60)", "Timeout"),
    "line-magic-error": ("error", "%undefined-line-magic", "CellExecutionError"),
    "nb-version-4-4": ("ok", None, None),
    "no-parameters": ("ok", None, None),
    "read-check": ("ok", None, None),  # asserts check.txt in its working directory
    "report-mode-test": ("ok", None, None),
    "result-no-exec": ("ok", None, None),
    "simple-execute": ("ok", None, None),
    "sysexit": ("error", "sys.exit()", "NoChecksRecorded"),
    "sysexit0": ("error", "sys.exit(0)", "NoChecksRecorded"),
    "sysexit1": ("error", "sys.exit(1)", "SystemExit"),
    "systemexit": ("error", "raise SystemExit", "NoChecksRecorded"),
    "test-autosave": ("ok", None, None),
    "test-logging": ("error", "from ggplot import mpg", "ModuleNotFoundError"),
    "test-notebooknode-io": ("ok", None, None),
}
REFUSED = {"notimplemented-translator": "kernel runs R"}


def _runbook_name(path: Path) -> str:
    return path.stem.lower().replace("_", "-").replace(".", "-")


def _as_runbook(path: Path) -> dict[str, Any]:
    name = _runbook_name(path)
    nb = json.loads(path.read_text())
    timeout = INTERRUPTED_TIMEOUT_S if name == "keyboard-interrupt" else TIMEOUT_S
    nb.setdefault("metadata", {})["upkeep"] = {
        "title": f"papermill's {path.name}",
        "summary": "One of papermill's own test notebooks.",
        "cadence": "daily",
        "category": "Tests",
        "owner": "papermill",
        "timeout_s": timeout,
    }
    kind, source = CHECK_OK
    nb["cells"].append(
        {
            "cell_type": kind,
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": source,
        }
    )
    return nb


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Project:
    sources = sorted(NOTEBOOKS.glob("*.ipynb"))
    assert sources, f"papermill ships no test notebooks under {NOTEBOOKS}"
    assert {_runbook_name(path) for path in sources} == set(EXPECTED) | set(REFUSED), (
        "papermill's test notebooks changed: give each new one its expected status"
    )
    root = tmp_path_factory.mktemp("corpus")
    (root / "upkeep.yml").write_text(
        "version: 1\ntimezone: UTC\nevidence_dir: evidence\nstate_dir: state\n"
        f"runbooks_dir: runbooks\ndefaults:\n  timeout_s: {TIMEOUT_S}\n"
    )
    (root / "check.txt").write_text("read_check.ipynb looks for this file in its cwd\n")
    folder = root / "runbooks" / "daily"
    folder.mkdir(parents=True)
    for path in sources:
        (folder / f"{_runbook_name(path)}.ipynb").write_text(json.dumps(_as_runbook(path)))
    return Project(root)


@pytest.fixture(scope="module")
def due_run(corpus: Project) -> dict[str, Any]:
    result = corpus.upkeep("run", "--due", "--json", "--jobs", "2", timeout=600)
    run_dirs = {}
    for run_dir in corpus.run_dirs():
        run_dirs[json.loads((run_dir / "run.json").read_text())["runbook"]["name"]] = run_dir
    return {
        "result": result,
        "records": {r["runbook"]["name"]: r for r in corpus.records()},
        "run_dirs": run_dirs,
    }


def test_list_and_show_accept_what_papermills_inspection_accepts(corpus: Project) -> None:
    listed = corpus.upkeep("list", "--json")
    assert listed.code == 2, listed.text  # the R notebook
    entries = {entry["name"]: entry for entry in json.loads(listed.out)}
    assert {name for name, entry in entries.items() if entry["invalid"] is None} == set(EXPECTED)
    assert REFUSED["notimplemented-translator"] in entries["notimplemented-translator"]["invalid"]
    assert "Unable to parse line" not in listed.err
    shown = corpus.upkeep("show", "complex-parameters", "--json")
    assert shown.code == 0, shown.text
    parameters = json.loads(shown.out)["parameters"]
    assert [(p["name"], p["type"], p["default"], p["help"]) for p in parameters] == [
        ("msg", "any", None, ""),
        ("a", "float", 2.25, "Variable a"),
        ("b", "list", ["Hello", "World"], "Nice list"),
        ("c", "any", None, ""),
    ]
    assert shown.err == ""


def test_every_notebook_ends_as_papermills_semantics_imply(due_run: dict[str, Any]) -> None:
    result, records = due_run["result"], due_run["records"]
    assert result.code == 3, result.text  # some run ended in error
    ended = {name: record["status"] for name, record in records.items()}
    assert ended == {name: status for name, (status, _, _) in EXPECTED.items()}
    assert {o["runbook"]: o["status"] for o in json.loads(result.out)} == ended


def test_each_error_names_the_cell_where_execution_stopped(due_run: dict[str, Any]) -> None:
    for name, (_, snippet, ename) in EXPECTED.items():
        run_dir = due_run["run_dirs"][name]
        error = json.loads((run_dir / "run.json").read_text())["error"]
        if snippet is None:
            assert error is None, name
            continue
        nb = json.loads((run_dir / "notebook.ipynb").read_text())
        assert error["cell"] is not None, (name, error)
        assert snippet in "".join(nb["cells"][error["cell"]]["source"]), (name, error)
        assert ename is None or error["ename"] == ename, (name, error)
        report = (run_dir / "report.html").read_text()
        assert f'href="#cell-id=cell-{error["cell"]}"' in report, name
        assert "unknown cell" not in report and "finished without" not in report, name
        if ename == "NoChecksRecorded":
            assert "The run stopped early in" in report, name


def test_stale_error_markers_leave_the_report(due_run: dict[str, Any]) -> None:
    """broken1.ipynb is committed with papermill's markers from an earlier failed run."""
    report = (due_run["run_dirs"]["broken1"] / "report.html").read_text()
    assert "An Exception was encountered" not in report


def test_the_command_line_shows_what_happened_and_nothing_else(due_run: dict[str, Any]) -> None:
    err = due_run["result"].err
    assert (
        err.strip()
        .splitlines()[-1]
        .startswith("upkeep: error: runbook notimplemented-translator (")
    )
    for noise in ("Unable to parse line", "Traceback", "Kernel died", "Timeout waiting"):
        assert noise not in err, noise


def test_a_parameter_declared_as_papermill_does_takes_a_value(
    corpus: Project, due_run: dict[str, Any]
) -> None:
    """simple_execute.ipynb declares `msg = None`, papermill's canonical form."""
    result = corpus.upkeep("run", "simple-execute", "-p", "msg=Hello from upkeep")
    assert result.code == 0, result.text
    latest = max((d for d in corpus.run_dirs() if "simple-execute" in d.name), key=lambda d: d.name)
    record = json.loads((latest / "run.json").read_text())
    assert record["parameters"] == {"msg": "Hello from upkeep"}
    assert "Hello from upkeep" in (latest / "notebook.ipynb").read_text()
