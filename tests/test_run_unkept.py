"""Tests for what a run leaves in its own folder that cannot be evidence (`seal.drop_unkept`):
removed unread and named in a warning, where before the store refused the whole run and the
run left no record at all."""

from __future__ import annotations

import json
import os
import socket
import stat
import textwrap
from pathlib import Path
from typing import Any

import pytest
from helpers.project import Project
from helpers.unprivileged import run_bound_by_permissions

from upkeep.records import Status
from upkeep.run.seal import UNKEPT_CHECK, drop_unkept


def test_links_fifos_and_sockets_are_removed_unread_and_named(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "sub").mkdir(parents=True)
    target = tmp_path / "target"
    target.mkdir()
    (target / "secret.txt").write_text("not evidence\n")
    (run / "kept.txt").write_text("an artifact\n")
    (run / "to-file").symlink_to(target / "secret.txt")
    (run / "to-folder").symlink_to(target)
    (run / "sub" / "dangling").symlink_to(tmp_path / "nowhere")
    os.mkfifo(run / "pipe")
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(run / "sub" / "sock"))
    check = drop_unkept(run)
    assert check is not None
    assert check.name == UNKEPT_CHECK and check.status is Status.WARN and check.value == 5
    for named in (
        "pipe (a FIFO)",
        "to-file (a symlink)",
        "to-folder (a symlink)",
        "sub/dangling (a symlink)",
        "sub/sock (a socket)",
    ):
        assert named in check.message
    assert sorted(p.relative_to(run).as_posix() for p in run.rglob("*")) == ["kept.txt", "sub"]
    assert (target / "secret.txt").read_text() == "not evidence\n"  # a link's target stays


def test_a_folder_of_regular_files_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "b.txt").write_text("x")
    assert drop_unkept(tmp_path) is None
    assert (tmp_path / "a" / "b.txt").read_text() == "x"


def test_a_name_of_any_bytes_is_shown_as_text(tmp_path: Path) -> None:
    """The record is JSON: a name that is not UTF-8, or holds a line break, is shown, not
    carried raw into the message."""
    os.symlink("/nowhere", os.path.join(os.fsencode(tmp_path), b"bad\xff\nname"))
    check = drop_unkept(tmp_path)
    assert check is not None
    assert "bad\ufffd\u240aname (a symlink)" in check.message
    json.dumps(check.message, ensure_ascii=False).encode("utf-8")  # no lone surrogate


def test_many_entries_make_one_message_cut_with_a_mark(tmp_path: Path) -> None:
    for n in range(500):
        os.mkfifo(tmp_path / f"fifo-{n:04d}")
    check = drop_unkept(tmp_path)
    assert check is not None and check.value == 500
    assert len(check.message) == 2000 and check.message.endswith("…")
    assert not list(tmp_path.iterdir())


def test_a_folder_swapped_for_a_link_during_the_walk_is_not_entered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process the run left behind swaps a folder for a link to another one just after it
    was looked at: the walk, by descriptor, does not enter the other folder and removes
    nothing there (walked by path, it removed the links and FIFOs it found there)."""
    run, outside = tmp_path / "run", tmp_path / "outside"
    (run / "sub").mkdir(parents=True)
    outside.mkdir()
    (outside / "precious-link").symlink_to("/etc/hostname")
    os.mkfifo(outside / "precious-fifo")
    real_lstat = os.lstat

    def swapping_lstat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        found = real_lstat(path, *args, **kwargs)
        if path == "sub" and stat.S_ISDIR(found.st_mode):
            (run / "sub").rename(tmp_path / "sub-moved")
            (run / "sub").symlink_to(outside)
        return found

    monkeypatch.setattr(os, "lstat", swapping_lstat)
    drop_unkept(run)
    monkeypatch.undo()
    assert sorted(p.name for p in outside.iterdir()) == ["precious-fifo", "precious-link"]


def test_links_in_folders_the_run_locked_are_removed_too(tmp_path: Path) -> None:
    """A run that left a link in a read-only folder, and a FIFO in one nobody may read: with
    file modes binding (not as root), removing them raised, and the run was lost."""
    run = tmp_path / "run"
    (run / "ro").mkdir(parents=True)
    (run / "locked").mkdir()
    (run / "ro" / "link").symlink_to("/etc/hostname")
    (run / "ro" / "kept.txt").write_text("kept\n")
    os.mkfifo(run / "locked" / "pipe")
    (run / "ro").chmod(0o555)
    (run / "locked").chmod(0o000)
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from upkeep.run.seal import drop_unkept\n"
        "print(drop_unkept(Path(sys.argv[1])).message)"
    )
    done = run_bound_by_permissions(code, str(run))
    assert done.returncode == 0, done.stderr
    assert "ro/link (a symlink)" in done.stdout and "locked/pipe (a FIFO)" in done.stdout
    assert sorted(p.relative_to(run).as_posix() for p in run.rglob("*")) == [
        "locked",
        "ro",
        "ro/kept.txt",
    ]


@pytest.mark.slow
def test_a_run_that_leaves_a_link_in_its_folder_is_recorded(
    project: Project, tmp_path: Path
) -> None:
    """Before, the store refused the folder and the run left no record, no report, no line."""
    canary = tmp_path / "canary.txt"
    canary.write_text("CANARY-outside-the-evidence\n")
    cells = f"""
        import os
        from upkeep import report
        folder = os.environ["UPKEEP_RUN_DIR"]
        os.symlink({str(canary)!r}, os.path.join(folder, "canary-link"))
        os.mkfifo(os.path.join(folder, "pipe"))
        report.check("own", "ok")
    """
    project.add_runbook("leaver", [("code", textwrap.dedent(cells))])
    result = project.upkeep("run", "leaver")
    assert result.code == 0, result.text
    [record] = project.records()
    assert record["status"] == "warn"
    checks = {check["name"]: check for check in record["checks"]}
    assert checks["own"]["status"] == "ok"
    assert "canary-link (a symlink)" in checks[UNKEPT_CHECK]["message"]
    assert "pipe (a FIFO)" in checks[UNKEPT_CHECK]["message"]
    for path in project.evidence_files():
        assert b"CANARY-outside-the-evidence" not in path.read_bytes(), path
    assert canary.read_text() == "CANARY-outside-the-evidence\n"
    assert project.upkeep("verify").code == 0


def test_names_a_record_cannot_list_are_renamed_kept_and_sealed(tmp_path: Path) -> None:
    """A file and a folder whose names are bytes that are no UTF-8: run.json lists every file
    by name, in JSON, and sealing failed with an internal error, losing the run. A backslash
    in a name was sealed, and verify then refused the name."""
    from upkeep.evidence import EvidenceStore, verify
    from upkeep.records import RunbookRef, RunRecord, parse_time

    store = EvidenceStore(tmp_path / "evidence")
    run_id = "20261127T021500Z-odd-1a2b"
    staging = store.new_staging(run_id)
    raw = os.fsencode(staging)
    with open(os.path.join(raw, b"inv\xffutf8"), "w") as kept:
        kept.write("file content\n")
    (staging / "inv%FFutf8").write_text("taken already\n")  # the name it would get
    (staging / "back\\slash.txt").write_text("a backslash\n")  # verify refused the name
    os.mkdir(os.path.join(raw, b"dir\xfe"))
    with open(os.path.join(raw, b"dir\xfe", b"inner.txt"), "w") as inner:
        inner.write("inner\n")
    check = drop_unkept(staging)
    assert check is not None and check.status is Status.WARN and check.value == 3
    assert "3 names a record cannot list (not UTF-8, or a backslash), renamed: " in check.message
    assert "inv\ufffdutf8 as inv%FFutf8-1" in check.message
    assert "dir\ufffd as dir%FE" in check.message
    assert "back\\slash.txt as back%5Cslash.txt" in check.message
    assert (staging / "inv%FFutf8-1").read_text() == "file content\n"
    assert (staging / "inv%FFutf8").read_text() == "taken already\n"
    assert (staging / "dir%FE" / "inner.txt").read_text() == "inner\n"
    assert (staging / "back%5Cslash.txt").read_text() == "a backslash\n"
    at = parse_time("2026-11-27T02:15:00Z")
    store.publish(staging, RunRecord(run_id, RunbookRef("odd"), Status.OK, at, at, at))
    assert verify(store.root).ok


FOLDER_GONE = {
    "removed": "shutil.rmtree(folder)",
    "renamed": "os.rename(folder, folder + '-moved')",
    "replaced by a link": ("os.rename(folder, folder + '-moved'); os.symlink({outside!r}, folder)"),
}


@pytest.mark.slow
@pytest.mark.parametrize("how", sorted(FOLDER_GONE))
def test_a_run_that_removes_its_own_folder_is_still_recorded(
    project: Project, tmp_path: Path, how: str
) -> None:
    """Before, publishing found no folder and the run left no record, no line, nothing."""
    from upkeep.run.seal import FOLDER_CHECK

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("not evidence\n")
    cells = f"""
        import os, shutil
        from upkeep import report
        report.check("own", "ok")
        folder = os.environ["UPKEEP_RUN_DIR"]
        {FOLDER_GONE[how].format(outside=str(outside))}
    """
    project.add_runbook("vanisher", [("code", textwrap.dedent(cells))])
    result = project.upkeep("run", "vanisher")
    assert result.code == 0, result.text
    [record] = project.records()
    checks = {check["name"]: check for check in record["checks"]}
    assert record["status"] == "warn" and checks["own"]["status"] == "ok"
    assert "the run's folder was gone when the run ended" in checks[FOLDER_CHECK]["message"]
    assert (outside / "keep.txt").read_text() == "not evidence\n"
    assert sorted(p.name for p in outside.iterdir()) == ["keep.txt"]
    assert project.upkeep("verify").code == 0
