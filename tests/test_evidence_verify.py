"""Tests for `upkeep verify`'s reading of run folders: one listing per folder, run.json read once,
folders checked in turn while they come off the page cache and in worker threads once they are
slow (read from disk). Every kind of tampering still names the same problem, in ledger order,
either way. Real files under tmp_path, no mocks."""

from __future__ import annotations

import gc
import hashlib
import json
import os
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from helpers.project import Project

from upkeep.evidence import EvidenceStore, PublishedRun, verify
from upkeep.evidence.layout import (
    CHUNK,
    LEDGER,
    canonical,
    entries_under,
    files_under,
    line_hash,
    sha256_file,
)
from upkeep.evidence.ledger import LedgerEntry, LedgerLine
from upkeep.evidence.verify import Mismatch, _canonical_and_hashed, check_recorded_folder
from upkeep.records import RunbookRef, RunRecord, Status, parse_time
from upkeep.records.run import RunIdentity

START = parse_time("2026-01-01T03:00:00Z")
BIG = 3 * CHUNK + 17  # more than one read of the hashing buffer


def publish(store: EvidenceStore, index: int, files: dict[str, bytes]) -> PublishedRun:
    started = START + timedelta(days=index)
    run_id = f"{started:%Y%m%dT%H%M%SZ}-nightly-{index:04x}"
    staging = store.new_staging(run_id)
    for name, data in files.items():
        (staging / name).parent.mkdir(parents=True, exist_ok=True)
        (staging / name).write_bytes(data)
    record = RunRecord(run_id, RunbookRef("nightly"), Status.OK, started, started, started)
    return store.publish(staging, record)


def files_of(index: int) -> dict[str, bytes]:
    return {
        "notebook.ipynb": json.dumps({"cells": [], "n": index}).encode(),
        "report.html": f"<html><body>run {index}</body></html>\n".encode(),
        "data/table.csv": f"n,{index}\n".encode(),
    }


@pytest.fixture
def runs(tmp_path: Path) -> tuple[Path, list[PublishedRun]]:
    """150 runs: more than the folders checked ahead of the ledger line being read."""
    store = EvidenceStore(tmp_path / "evidence")
    published = [publish(store, index, files_of(index)) for index in range(150)]
    assert verify(store.root).ok
    return store.root, published


def messages(root: Path) -> list[str]:
    return [problem.message for problem in verify(root).problems]


# `upkeep.evidence.verify` is also the name of the function the package exports.
VERIFY_MODULE = sys.modules["upkeep.evidence.verify"]
SAMPLE = VERIFY_MODULE._SAMPLE


def threads_of(root: Path) -> list[str]:
    """The thread each run folder was checked in, in ledger order."""
    names: list[str] = []

    def check(root: Path, relpath: str, entry: LedgerEntry) -> list[Mismatch]:
        names.append(threading.current_thread().name)
        return check_recorded_folder(root, relpath, entry)

    assert verify(root, check).ok
    return names


def test_folders_go_to_the_threads_only_once_they_are_slow(
    runs: tuple[Path, list[PublishedRun]], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _ = runs
    monkeypatch.setattr(VERIFY_MODULE, "_COLD_FOLDER_S", float("inf"))  # never slow enough
    assert set(threads_of(root)) == {threading.current_thread().name}

    monkeypatch.setattr(VERIFY_MODULE, "_COLD_FOLDER_S", 0.0)  # every folder as if from disk
    names = threads_of(root)
    assert set(names[:SAMPLE]) == {threading.current_thread().name}
    assert all(name.startswith("upkeep-verify") for name in names[SAMPLE:])
    assert len(names) == 150


@pytest.fixture(params=["in turn", "threads"])
def folder_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Folders checked in turn (a warm cache) or, after the first sample, in the threads."""
    slow = float("inf") if request.param == "in turn" else 0.0
    monkeypatch.setattr(VERIFY_MODULE, "_COLD_FOLDER_S", slow)
    return str(request.param)


def test_a_flipped_byte_a_truncated_file_and_a_missing_file_are_named_in_ledger_order(
    runs: tuple[Path, list[PublishedRun]], folder_mode: str
) -> None:
    root, published = runs
    late, early, middle = published[140], published[3], published[77]
    report = late.path / "report.html"
    report.write_bytes(report.read_bytes().replace(b"run", b"rum"))
    (early.path / "notebook.ipynb").unlink()
    table = middle.path / "data" / "table.csv"
    table.write_bytes(table.read_bytes()[:-1])
    assert messages(root) == [
        f"run {early.run_id}: notebook.ipynb: listed in run.json but missing "
        "(deleted after publication)",
        f"run {middle.run_id}: data/table.csv: sha256 mismatch (edited after publication)",
        f"run {late.run_id}: report.html: sha256 mismatch (edited after publication)",
    ]


def test_files_swapped_within_a_run_and_between_runs_are_named(
    runs: tuple[Path, list[PublishedRun]],
) -> None:
    root, published = runs
    one, other = published[10], published[11]
    notebook, report = one.path / "notebook.ipynb", one.path / "report.html"
    swapped = report.read_bytes()
    report.write_bytes(notebook.read_bytes())
    notebook.write_bytes(swapped)
    (other.path / "report.html").write_bytes((published[12].path / "report.html").read_bytes())
    assert messages(root) == [
        f"run {one.run_id}: notebook.ipynb: sha256 mismatch (edited after publication)",
        f"run {one.run_id}: report.html: sha256 mismatch (edited after publication)",
        f"run {other.run_id}: report.html: sha256 mismatch (edited after publication)",
    ]


def test_an_artifact_replaced_by_a_symlink_a_folder_or_a_fifo_is_not_a_regular_file(
    runs: tuple[Path, list[PublishedRun]],
) -> None:
    root, published = runs
    linked, folded, piped = published[20], published[21], published[22]
    target = linked.path / "report.html"
    kept = target.read_bytes()
    target.unlink()
    (root / "elsewhere.html").write_bytes(kept)  # the same bytes, behind a link
    target.symlink_to(root / "elsewhere.html")
    (folded.path / "report.html").unlink()
    (folded.path / "report.html").mkdir()
    (piped.path / "notebook.ipynb").unlink()
    os.mkfifo(piped.path / "notebook.ipynb")  # never opened: reading it would wait forever
    assert messages(root) == [
        f"run {linked.run_id}: report.html: not a regular file (replaced after publication)",
        f"run {folded.run_id}: report.html: not a regular file (replaced after publication)",
        f"run {piped.run_id}: notebook.ipynb: not a regular file (replaced after publication)",
    ]


def test_a_run_json_replaced_by_a_folder_is_missing_and_by_a_symlink_not_regular(
    runs: tuple[Path, list[PublishedRun]],
) -> None:
    root, published = runs
    folded, linked = published[30], published[31]
    run_json = folded.path / "run.json"
    run_json.unlink()
    run_json.mkdir()
    copy = linked.path.parent / "copy.json"
    copy.write_bytes((linked.path / "run.json").read_bytes())
    (linked.path / "run.json").unlink()
    (linked.path / "run.json").symlink_to(copy)
    assert messages(root)[:2] == [
        f"run {folded.run_id}: run.json is missing",
        f"run {linked.run_id}: run.json: not a regular file (replaced after publication)",
    ]


def test_a_run_folder_replaced_by_a_file_or_a_symlink_is_named(
    runs: tuple[Path, list[PublishedRun]],
) -> None:
    root, published = runs
    filed, linked = published[40], published[41]
    moved = filed.path.with_name("moved-away")
    filed.path.rename(moved)
    filed.path.write_text("not a folder")
    linked_relpath = linked.path.relative_to(root).as_posix()
    linked.path.rename(linked.path.with_name("real"))
    linked.path.symlink_to(linked.path.with_name("real"))
    relpath = filed.path.relative_to(root).as_posix()
    assert messages(root)[:2] == [
        f"run {filed.run_id}: {relpath} is not a folder (replaced after publication)",
        f"run {linked.run_id}: {linked_relpath} is not a folder (replaced after publication)",
    ]


def test_a_file_added_in_a_subfolder_is_named(runs: tuple[Path, list[PublishedRun]]) -> None:
    root, published = runs
    added = published[50]
    (added.path / "data" / "extra.csv").write_text("n,0\n")
    assert messages(root) == [
        f"run {added.run_id}: data/extra.csv: not listed in run.json (added after publication)"
    ]


def test_a_byte_flipped_past_the_first_read_of_a_big_artifact_is_named(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path / "evidence")
    big = bytes(range(256)) * (BIG // 256) + b"end"
    run = publish(store, 0, {"dump.bin": big})
    assert verify(store.root).ok
    path = run.path / "dump.bin"
    path.write_bytes(big[:-1] + b"D")
    assert messages(store.root) == [
        f"run {run.run_id}: dump.bin: sha256 mismatch (edited after publication)"
    ]


def test_sha256_file_with_a_small_shared_buffer_matches_hashlib(tmp_path: Path) -> None:
    path = tmp_path / "data"
    data = os.urandom(10_000)
    path.write_bytes(data)
    buffer = bytearray(4096)  # three reads, the last one short
    assert sha256_file(path, buffer) == hashlib.sha256(data).hexdigest()
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()
    (tmp_path / "empty").write_bytes(b"")
    assert sha256_file(tmp_path / "empty", buffer) == hashlib.sha256(b"").hexdigest()


def test_entries_under_lists_files_and_links_not_folders(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "top.txt").write_text("x")
    (tmp_path / "a" / "b" / "deep.txt").write_text("y")
    (tmp_path / "link").symlink_to(tmp_path / "a")
    (tmp_path / "empty").mkdir()
    assert entries_under(str(tmp_path)) == {"top.txt": True, "a/b/deep.txt": True, "link": False}
    assert files_under(tmp_path) == ["a/b/deep.txt", "link", "top.txt"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"status": "bogus"}, "status 'bogus' is not one of"),
        ({"started_at": "yesterday"}, "started_at 'yesterday' is not an ISO-8601 time"),
        ({"as_of": 7}, "as_of is not a string"),
        ({"runbook": {"title": "no name"}}, "runbook.name is missing or not a string"),
    ],
)
def test_the_identity_is_refused_as_the_whole_record_is(change: dict, message: str) -> None:
    started = START
    value = RunRecord("r-1", RunbookRef("nightly"), Status.OK, started, started, started).to_json()
    value.update(change)
    with pytest.raises(ValueError, match=message):
        RunIdentity.from_json(value)
    with pytest.raises(ValueError, match=message):
        RunRecord.from_json(value)


def test_a_malformed_identity_in_run_json_is_named(runs: tuple[Path, list[PublishedRun]]) -> None:
    root, published = runs
    run = published[60]
    run_json = run.path / "run.json"
    value = json.loads(run_json.read_text())
    value["status"] = "bogus"
    run_json.write_text(json.dumps(value))
    assert messages(root)[1:] == [
        f"run {run.run_id}: run.json: status 'bogus' is not one of ok, warn, fail, error, skipped",
        f"run {run.run_id}: run.json says status 'bogus', the ledger says 'ok'",
    ]


def _line(value: dict) -> LedgerLine:
    return LedgerLine(1, canonical(value), True, value)


@pytest.mark.parametrize(
    "value",
    [
        {"as_of": "x", "seq": 1},  # "hash" in the middle, as in every run's line
        {"seq": 1},  # "hash" the first member and the last
        {"z": 1},  # "hash" the first member
        {"a": {"hash": "0" * 64}, "b": [{"hash": "1" * 64}]},  # nested decoys before it
    ],
)
def test_the_one_encoding_check_agrees_with_line_hash_and_canonical(value: dict) -> None:
    line = {**value, "hash": line_hash(value)}
    assert _canonical_and_hashed(_line(line), line["hash"])
    edited = {**line, "extra": 1}
    assert not _canonical_and_hashed(_line(edited), line["hash"])
    spaced = LedgerLine(1, json.dumps(line, sort_keys=True).encode(), True, line)
    assert not _canonical_and_hashed(spaced, line["hash"])


def test_a_ledger_line_out_of_canonical_form_is_named(
    runs: tuple[Path, list[PublishedRun]],
) -> None:
    root, _ = runs
    ledger = root / "ledger.jsonl"
    lines = ledger.read_bytes().splitlines(keepends=True)
    value = json.loads(lines[5])
    lines[5] = json.dumps(value, sort_keys=True).encode() + b"\n"  # ", " and ": ": same content
    ledger.write_bytes(b"".join(lines))
    assert messages(root) == [
        "ledger line 6: not in canonical form (line edited)",
    ]


def test_listing_a_run_folder_leaves_no_reference_cycle_behind(tmp_path: Path) -> None:
    """Verify lists every run folder: a cycle left by each listing would keep the listings of
    years of runs in memory until the cyclic collector ran (9 MiB on 5 years)."""
    (tmp_path / "report" / "assets").mkdir(parents=True)
    (tmp_path / "run.json").write_text("{}")
    (tmp_path / "report" / "index.html").write_text("<p>")
    (tmp_path / "report" / "assets" / "a.css").write_text("p{}")
    (tmp_path / "link").symlink_to(tmp_path / "run.json")
    gc.collect()
    gc.disable()
    try:
        listed = entries_under(str(tmp_path))
        assert gc.collect() == 0
    finally:
        gc.enable()
    assert listed == {
        "run.json": True,
        "link": False,
        "report/index.html": True,
        "report/assets/a.css": True,
    }


def test_verify_beside_a_publish_waits_for_its_ledger_line(tmp_path: Path) -> None:
    # The folder is renamed into runs/ a moment before its ledger line is appended: a verify in
    # that moment reported "not recorded in the ledger (ledger line removed, or added by hand)".
    store = EvidenceStore(tmp_path / "evidence")
    publish(store, 0, files_of(0))
    placed = threading.Event()
    append = store.append

    def slow_append(fields):  # type: ignore[no-untyped-def]
        placed.set()  # the folder is in runs/ now, its line not yet in the ledger
        time.sleep(1.0)
        return append(fields)

    store.append = slow_append  # type: ignore[method-assign]
    publishing = threading.Thread(target=publish, args=(store, 1, files_of(1)))
    publishing.start()
    assert placed.wait(30)
    report = verify(store.root)
    publishing.join()
    assert report.ok, report.problems
    assert report.runs_checked >= 1


def test_a_publish_cut_off_before_its_ledger_line_is_named_as_such(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path / "evidence")
    publish(store, 0, files_of(0))
    last = publish(store, 1, files_of(1))
    ledger_path = store.root / LEDGER
    lines = ledger_path.read_bytes().splitlines(keepends=True)
    ledger_path.write_bytes(b"".join(lines[:-1]))  # killed between the rename and the append
    relpath = last.path.relative_to(store.root).as_posix()
    (store.root / ".publishing.json").write_text(
        json.dumps({"path": relpath, "run_json_sha256": last.run_json_sha256})
    )
    [problem] = verify(store.root).problems
    assert problem.message == (
        f"run {last.record.run_id}: folder {relpath} is not recorded in the ledger (its publish"
        " was interrupted before the ledger line was written: the next `upkeep run` finishes it)"
    )


def test_a_whole_last_line_that_lost_its_newline_is_kept_by_the_next_publish(
    tmp_path: Path,
) -> None:
    # The torn-tail repair cut it: a whole, chained record gone for good, its folder unrecorded.
    store = EvidenceStore(tmp_path / "evidence")
    publish(store, 0, files_of(0))
    publish(store, 1, files_of(1))
    ledger_path = store.root / LEDGER
    ledger_path.write_bytes(ledger_path.read_bytes()[:-1])
    published = publish(store, 2, files_of(2))
    assert published.notes == (
        "ledger.jsonl: its last line, whole and chained, had lost its newline: added it back",
    )
    report = verify(store.root)
    assert report.ok and report.runs_checked == 3


def test_a_torn_last_line_is_still_cut(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path / "evidence")
    publish(store, 0, files_of(0))
    ledger_path = store.root / LEDGER
    with ledger_path.open("ab") as handle:
        handle.write(b'{"seq": 2, "kind": "run", "run_')  # a writer killed mid-line
    published = publish(store, 1, files_of(1))
    assert "removed an incomplete last line" in published.notes[0]
    assert verify(store.root).ok


def test_a_fifo_for_a_ledger_is_an_error_not_a_wait_for_ever(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path / "evidence")
    publish(store, 0, files_of(0))
    (store.root / LEDGER).unlink()
    os.mkfifo(store.root / LEDGER)
    assert messages(store.root) == [
        "ledger.jsonl is not a regular file (a folder or a FIFO in its place); expected the ledger"
    ]
    with pytest.raises(OSError, match="not a regular file"):
        publish(store, 1, files_of(1))


def test_a_file_where_the_evidence_folder_should_be_does_not_verify(tmp_path: Path) -> None:
    (tmp_path / "evidence").write_text("x\n")
    report = verify(tmp_path / "evidence")
    assert not report.ok
    assert report.problems[0].message.endswith("is not a folder; expected the evidence folder")


DEEP = b"[" * 100_000 + b"]" * 100_000  # nested past what Python's stack can parse


def test_a_ledger_line_nested_too_deep_is_named_not_a_crash(project: Project) -> None:
    store = EvidenceStore(project.evidence)
    publish(store, 0, files_of(0))
    with open(store.root / LEDGER, "ab") as ledger:
        ledger.write(DEEP + b"\n")
    [problem] = verify(store.root).problems
    assert problem.message == "ledger line 2: not a ledger line (nested too deeply to read)"
    result = project.upkeep_in_process("verify")
    assert result.code == 1 and "line 2" in result.err, result.text


def test_a_run_json_nested_too_deep_is_named_not_a_crash(project: Project) -> None:
    store = EvidenceStore(project.evidence)
    run = publish(store, 0, files_of(0))
    (run.path / "run.json").write_bytes(DEEP)
    messages_ = [problem.message for problem in verify(store.root).problems]
    assert f"run {run.record.run_id}: run.json is not valid JSON (nested too deeply to read)" in (
        messages_
    )
    assert store.read_record(run.path.relative_to(store.root).as_posix()) is None
    result = project.upkeep_in_process("verify")
    assert result.code == 1 and "nested too deeply" in result.err, result.text


def test_a_folder_in_place_of_the_ledger_is_a_named_failure(project: Project) -> None:
    store = EvidenceStore(project.evidence)
    publish(store, 0, files_of(0))
    (store.root / LEDGER).unlink()
    (store.root / LEDGER).mkdir()
    result = project.upkeep_in_process("verify")
    assert result.code == 1, result.text
    assert "ledger.jsonl is not a regular file" in result.err
