"""`upkeep new NAME --cadence weekly`: a runbook of one's own that passes `upkeep check` and runs,
reading its own section of upkeep.yml; a name, cadence or folder that cannot be used is refused
and nothing is written."""

from __future__ import annotations

import json
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
from helpers.project import SHIPPED_RUNBOOKS, Project

from upkeep import registry
from upkeep.package_files import SHIPPED_RUNBOOKS_DIR


@pytest.fixture
def own(tmp_path: Path) -> Project:
    """A config of a user's own: the shipped runbooks and a folder of theirs."""
    (tmp_path / "upkeep.yml").write_text(
        textwrap.dedent("""\
        version: 1
        evidence_dir: evidence
        state_dir: state
        runbooks_dir: [upkeep:shipped, ops/runbooks]
        extra:
          disk-report: {paths: [/srv], top: 3, api_password: Hunter2Secret}
        """)
    )
    return Project(tmp_path)


def test_a_scaffolded_runbook_passes_check(own: Project) -> None:
    result = own.upkeep_in_process("new", "disk-report", "--cadence", "weekly")
    assert result.code == 0, result.text
    path = own.root / "ops" / "runbooks" / "weekly" / "disk-report.ipynb"
    assert result.out.startswith(f"created {path}\n")
    runbook = registry.discover(path.parent.parent, own.root)["disk-report"]
    assert (runbook.cadence, runbook.title, runbook.category) == ("weekly", "Disk report", "Other")
    assert runbook.review_every == timedelta(days=365)  # the documentation review dates its page
    nb = json.loads(path.read_text())
    assert all(c["outputs"] == [] for c in nb["cells"] if c["cell_type"] == "code")
    checked = own.upkeep_in_process("check")
    assert checked.code == 0, checked.text
    count = len(SHIPPED_RUNBOOKS) + 1
    assert checked.out == f"{own.config} and its {count} runbooks: no problems\n"


def test_a_quarterly_runbook_goes_in_the_quarterly_folder(own: Project) -> None:
    result = own.upkeep_in_process("new", "plan-audit", "--cadence", "quarterly")
    assert result.code == 0, result.text
    path = own.root / "ops" / "runbooks" / "quarterly" / "plan-audit.ipynb"
    assert registry.discover(path.parent.parent, own.root)["plan-audit"].cadence == "quarterly"


@pytest.mark.slow
def test_a_scaffolded_runbook_runs_and_reads_its_own_section(own: Project) -> None:
    assert own.upkeep_in_process("new", "disk-report", "--cadence", "0 6 * * 1").code == 0
    assert (own.root / "ops" / "runbooks" / "cron" / "disk-report.ipynb").is_file()
    run = own.upkeep("run", "disk-report")
    assert run.code == 0, run.text
    [record] = own.records()
    assert record["status"] == "ok" and record["runbook"]["path"].startswith("ops/runbooks/")
    executed = (own.run_dirs()[0] / "notebook.ipynb").read_text()
    assert "settings: paths, top, api_password" in executed
    # A value of its section may be a password: the run shows the names, never the values.
    assert not [f for f in own.run_dirs()[0].iterdir() if b"Hunter2Secret" in f.read_bytes()]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("Disk_Report",), "runbook name 'Disk_Report': expected kebab-case"),
        # `$` also matches before a final line break: the file name would have ended in one
        (("disk-report\n",), "runbook name 'disk-report\\n': expected kebab-case"),
        (("health-check",), "runbook health-check exists already (upkeep:shipped/daily/"),
        (
            ("x", "--cadence", "fortnightly"),
            "--cadence: expected daily, weekly, monthly, quarterly, yearly",
        ),
        # wrote a runbook that `upkeep check` then found invalid, and exited 0
        (("x", "--title", "two\nlines"), "--title: expected one line of text without < >"),
        (("x", "--title", "a <b>"), "--title: expected one line of text without < >"),
        (("x", "--category", ""), "--category: expected a non-empty string"),
        (("x", "--owner", "bob\x1b[31m"), "--owner: expected one line of text without control"),
        # ENAMETOOLONG from the file system: a system error, exit 3
        (("a" * 300,), "(300 characters): expected at most 64 characters"),
    ],
)
def test_what_cannot_be_used_is_refused_and_nothing_written(
    own: Project, args: tuple[str, ...], message: str
) -> None:
    result = own.upkeep_in_process("new", *args)
    assert result.code == 2 and message in result.err
    assert not (own.root / "ops").exists()


def test_dir_inside_a_runbooks_folder_of_ones_own_is_where_the_runbook_goes(own: Project) -> None:
    inside = own.root / "ops" / "runbooks" / "team"
    result = own.upkeep_in_process("new", "disk-report", "--dir", str(inside))
    assert result.code == 0, result.text
    assert (inside / "weekly" / "disk-report.ipynb").is_file()
    assert "disk-report" in registry.discover([own.root / "ops" / "runbooks"], own.root)


@pytest.mark.parametrize("where", ["elsewhere", "ops", "shipped"])
def test_dir_outside_every_runbooks_folder_of_ones_own_is_refused(own: Project, where: str) -> None:
    # Any path was created (as root, /nonexistent/weekly/), and the runbook there was never
    # discovered though the command said to run it.
    folder = {
        "elsewhere": own.root / "elsewhere" / "deep",
        "ops": own.root / "ops",  # the runbooks folder's parent
        "shipped": SHIPPED_RUNBOOKS_DIR,
    }[where]
    result = own.upkeep_in_process("new", "disk-report", "--dir", str(folder))
    assert result.code == 2, result.text
    assert f"--dir {str(folder)!r}: expected one of the runbooks folders of runbooks_dir" in (
        result.err
    )
    assert str(own.root / "ops" / "runbooks") in result.err
    assert not (own.root / "elsewhere").exists() and not (own.root / "ops").exists()
    assert not list(SHIPPED_RUNBOOKS_DIR.rglob("disk-report.ipynb"))


def test_only_the_shipped_runbooks_is_no_folder_to_write_into(tmp_path: Path) -> None:
    (tmp_path / "upkeep.yml").write_text("runbooks_dir: upkeep:shipped\n")
    result = Project(tmp_path).upkeep_in_process("new", "disk-report")
    assert result.code == 2
    assert "runbooks_dir lists only upkeep:shipped; expected a folder of your own" in result.err
    assert not list(SHIPPED_RUNBOOKS_DIR.rglob("disk-report.ipynb"))
