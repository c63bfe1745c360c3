"""Tests for `seal.scrub_artifacts`: a secret the run's code wrote into files of its own, in its
folder, is scrubbed from text and removes any other file, with a warning; before, such a file
was sealed into the evidence as it was."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from helpers.project import Project

from upkeep.records import Status
from upkeep.redact import Scrubber
from upkeep.run.seal import _SCAN_CHUNK, SCRUB_IN_PLACE_BYTES, SECRET_CHECK, scrub_artifacts

SECRET = "Sup3rSecretValue-42"
REFERENCE = "env:TEST_TOKEN"


def _scrubber() -> Scrubber:
    return Scrubber({REFERENCE: SECRET})


def test_text_is_scrubbed_in_place_and_other_files_are_removed(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "leak.txt").write_text(f"token={SECRET}\nnext line\n")
    (tmp_path / "sub" / "utf16.txt").write_bytes(f"t={SECRET}".encode("utf-16-le"))
    (tmp_path / "dump.bin").write_bytes(b"\xff\xfe\x00" + SECRET.encode() + b"\x80")
    (tmp_path / "clean.txt").write_text("nothing secret\n")
    (tmp_path / "notebook.ipynb").write_text(SECRET)  # upkeep's own: scrubbed by seal itself
    before = (tmp_path / "clean.txt").stat()
    check = scrub_artifacts(tmp_path, _scrubber())
    assert check is not None and check.name == SECRET_CHECK and check.status is Status.WARN
    assert "scrubbed in place: leak.txt, sub/utf16.txt" in check.message
    assert "removed (not text, or over 16 MiB): dump.bin" in check.message
    assert check.value == 3
    leak = (tmp_path / "leak.txt").read_text()
    assert SECRET not in leak and leak.endswith("next line\n") and "«secret:" in leak
    assert SECRET.encode("utf-16-le") not in (tmp_path / "sub" / "utf16.txt").read_bytes()
    assert not (tmp_path / "dump.bin").exists()
    assert (tmp_path / "clean.txt").stat().st_mtime_ns == before.st_mtime_ns
    assert (tmp_path / "notebook.ipynb").read_text() == SECRET


def test_a_secret_across_two_reads_is_found(tmp_path: Path) -> None:
    data = b"a" * (_SCAN_CHUNK - 5) + SECRET.encode() + b"b" * 10
    (tmp_path / "big.txt").write_bytes(data)
    check = scrub_artifacts(tmp_path, _scrubber())
    assert check is not None and "scrubbed in place: big.txt" in check.message
    assert SECRET.encode() not in (tmp_path / "big.txt").read_bytes()


def test_a_file_over_the_in_place_size_is_removed(tmp_path: Path) -> None:
    with open(tmp_path / "huge.log", "wb") as huge:
        huge.truncate(SCRUB_IN_PLACE_BYTES)
        huge.seek(0, os.SEEK_END)
        huge.write(SECRET.encode())
    check = scrub_artifacts(tmp_path, _scrubber())
    assert check is not None and "removed (not text, or over 16 MiB): huge.log" in check.message
    assert not (tmp_path / "huge.log").exists()


def test_no_secret_means_nothing_is_read(tmp_path: Path) -> None:
    (tmp_path / "leak.txt").write_text(SECRET)
    assert scrub_artifacts(tmp_path, Scrubber({})) is None
    assert (tmp_path / "leak.txt").read_text() == SECRET


@pytest.mark.slow
def test_a_secret_a_runbook_writes_into_its_own_files_is_not_kept(project: Project) -> None:
    cells = """
        import os
        from upkeep import report
        from upkeep.run_artifacts import write_artifact
        from upkeep.secrets import resolve
        value = resolve(token)
        folder = os.environ["UPKEEP_RUN_DIR"]
        with open(os.path.join(folder, "leak.txt"), "w") as leak:
            leak.write(f"the token is {value}\\n")
        write_artifact("plan.json", ('{"auth": "%s"}' % value).encode())
        report.check("own", "ok")
    """
    project.add_runbook(
        "leaker",
        [("code", textwrap.dedent(cells))],
        params='token: str = ""',
        meta={"parameters": {"token": {"secret": True}}},
    )
    result = project.upkeep("run", "leaker", "-p", f"token={REFERENCE}", env={"TEST_TOKEN": SECRET})
    assert result.code == 0, result.text
    [record] = project.records()
    checks = {check["name"]: check for check in record["checks"]}
    assert record["status"] == "warn"
    assert "scrubbed in place: leak.txt, plan.json" in checks[SECRET_CHECK]["message"]
    for path in project.evidence_files():
        assert SECRET.encode() not in path.read_bytes(), path
    assert "«secret:env:TEST_TOKEN»" in (project.run_dirs()[0] / "leak.txt").read_text()
    assert project.upkeep("verify").code == 0
