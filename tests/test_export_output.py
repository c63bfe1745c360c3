"""`upkeep export ... --output`: an export never replaces something kept. An output that is the
ledger, upkeep.yml, the fleet file or a file upkeep.yml names (other than the export's own, the
metrics textfile for `export textfile`) is refused with exit code 2 and nothing written, and so is
an empty one. The real command line, in process."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from helpers.anchoring import publish_run
from helpers.fleet import SimulatedHost, make_fleet
from helpers.project import Project


@pytest.fixture
def project(make_project) -> Project:
    project = make_project("""\
        version: 1
        evidence_dir: evidence
        state_dir: state
        metrics: {textfile: metrics/upkeep.prom}
    """)
    publish_run(project.evidence, 1)
    return project


@pytest.mark.parametrize("command", ["prometheus-rules", "textfile"])
@pytest.mark.parametrize(
    ("output", "why"),
    [
        ("evidence/ledger.jsonl", "is inside the evidence directory"),
        ("upkeep.yml", "is upkeep.yml itself"),
        ("state/anything", "is inside upkeep's state directory"),
        ("", "expected a file name, got an empty one"),
    ],
)
def test_an_output_that_would_replace_something_kept_is_refused(
    project: Project, command: str, output: str, why: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project.root)  # -o is relative to where upkeep runs
    kept = {path: path.read_bytes() for path in project.root.rglob("*") if path.is_file()}
    result = project.upkeep_in_process("export", command, "-o", output)
    assert result.code == 2, result.text
    assert "--output" in result.err and why in result.err
    assert {path: path.read_bytes() for path in project.root.rglob("*") if path.is_file()} == kept


def _symlink(path: Path) -> None:
    (path.parent / "target.txt").write_text("the link's target\n")
    path.symlink_to(path.parent / "target.txt")


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _device(path: Path) -> None:
    os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 7))  # /dev/full's numbers, in tmp


@pytest.mark.parametrize("command", ["prometheus-rules", "textfile"])
@pytest.mark.parametrize(
    ("make", "kind"),
    [(_symlink, "a symlink"), (_fifo, "a FIFO"), (_device, "a character device")],
    ids=["symlink", "fifo", "device"],
)
def test_an_output_that_is_not_a_regular_file_is_refused_not_replaced(
    project: Project, tmp_path: Path, command: str, make, kind: str
) -> None:
    # Written whole and renamed into place, the export replaced the link itself, the FIFO,
    # and, as root, a device: `-o /dev/full` left a regular file in its place.
    output = tmp_path / "out" / "export.txt"
    output.parent.mkdir()
    make(output)
    before = os.lstat(output)

    result = project.upkeep_in_process("export", command, "-o", str(output))

    assert result.code == 2, result.text
    assert result.err == (
        f"upkeep: error: --output: {output} is {kind}; expected a regular file or a new path "
        "(it is replaced whole)\n"
    )
    after = os.lstat(output)
    assert (after.st_ino, after.st_mode) == (before.st_ino, before.st_mode)


def test_the_textfile_may_be_written_where_upkeep_yml_says(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project.root)
    written = project.upkeep_in_process("export", "textfile", "-o", "metrics/upkeep.prom")
    assert written.code == 0, written.text
    assert (
        "upkeep_runbook_last_run_timestamp_seconds"
        in (project.root / "metrics" / "upkeep.prom").read_text()
    )
    # The rules, though, are not the textfile: another export's file is not theirs to replace.
    refused = project.upkeep_in_process("export", "prometheus-rules", "-o", "metrics/upkeep.prom")
    assert refused.code == 2 and "what upkeep.yml names as metrics.textfile" in refused.err


def test_a_fleet_export_never_replaces_the_fleet_file_or_a_hosts_ledger(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from upkeep.cli import main

    fleet = make_fleet(tmp_path, [SimulatedHost("db-1", {"probe": ("daily", "ok")})])
    publish_run(tmp_path / "db-1" / "evidence", 1)
    ledger = (tmp_path / "db-1" / "evidence" / "ledger.jsonl").read_bytes()
    for output, why in (
        (fleet, "is the fleet file"),
        (tmp_path / "db-1" / "evidence" / "ledger.jsonl", "is inside the evidence directory"),
    ):
        text = fleet.read_text()
        result = CliRunner().invoke(
            main, ["export", "airflow", "--fleet", str(fleet), "-o", str(output)]
        )
        assert result.exit_code == 2 and why in result.stderr, result.output
        assert fleet.read_text() == text
    assert (tmp_path / "db-1" / "evidence" / "ledger.jsonl").read_bytes() == ledger
