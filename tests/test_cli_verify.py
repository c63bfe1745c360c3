"""End-to-end: `upkeep verify` catches an edited byte, a deleted run and reordered ledger lines."""

from __future__ import annotations

import json
import shutil

import pytest
from helpers.project import CHECK_OK, Project

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory: pytest.TempPathFactory) -> Project:
    root = tmp_path_factory.mktemp("verify")
    (root / "runbooks").mkdir()
    (root / "upkeep.yml").write_text("version: 1\nevidence_dir: evidence\nstate_dir: state\n")
    project = Project(root)
    for name in ("first", "second", "third"):
        project.add_runbook(name, [CHECK_OK])
    result = project.upkeep("run", "first", "second", "third", "--jobs", "1")
    assert result.code == 0, result.text
    return project


@pytest.fixture
def runs(three_runs: Project, tmp_path) -> Project:
    """A fresh copy of the three-run evidence, free to tamper with."""
    copy = tmp_path / "copy"
    shutil.copytree(three_runs.root, copy)
    return Project(copy)


def _verify_fails(project: Project) -> str:
    result = project.upkeep("verify")
    assert result.code == 1, result.text
    return result.err


def test_untouched_evidence_verifies_and_says_what_only_an_anchor_would_show(
    runs: Project,
) -> None:
    result = runs.upkeep("verify")
    assert result.code == 0 and "3 runs verified" in result.out
    # "ok" alone was read as proof that nothing was cut off or rewritten: it is not.
    assert "runs cut off its end, or a history rewritten whole, show only against an anchor" in (
        result.out
    )


@pytest.mark.parametrize("name", ["runs", "ledger.jsonl"])
def test_runs_or_ledger_kept_outside_the_evidence_through_a_symlink_is_named(
    runs: Project, tmp_path, name: str
) -> None:
    elsewhere = tmp_path / "elsewhere" / name
    elsewhere.parent.mkdir()
    (runs.evidence / name).rename(elsewhere)
    (runs.evidence / name).symlink_to(elsewhere)
    err = _verify_fails(runs)
    assert f"{name} is a symlink (to {elsewhere}); expected the evidence folder to hold it" in err


def test_one_edited_byte_in_a_report_is_named(runs: Project) -> None:
    target = runs.run_dirs()[1] / "report.html"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    err = _verify_fails(runs)
    assert runs.run_dirs()[1].name in err and "report.html" in err


def test_a_deleted_run_folder_is_named(runs: Project) -> None:
    victim = runs.run_dirs()[0]
    shutil.rmtree(victim)
    err = _verify_fails(runs)
    assert victim.name in err and "missing" in err


def test_swapped_ledger_lines_are_named(runs: Project) -> None:
    ledger = runs.evidence / "ledger.jsonl"
    lines = ledger.read_text().splitlines(keepends=True)
    lines[0], lines[1] = lines[1], lines[0]
    ledger.write_text("".join(lines))
    err = _verify_fails(runs)
    assert "ledger line" in err


def test_an_edited_status_in_run_json_is_named(runs: Project) -> None:
    target = runs.run_dirs()[2] / "run.json"
    record = json.loads(target.read_text())
    record["status"] = "ok" if record["status"] != "ok" else "warn"
    target.write_text(json.dumps(record))
    err = _verify_fails(runs)
    assert "run.json" in err and runs.run_dirs()[2].name in err
