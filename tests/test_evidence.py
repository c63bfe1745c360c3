"""Tests for the evidence store: real files under tmp_path, real processes, no mocks."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from helpers.fifo import without_waiting_on
from helpers.folder_lock import held_by_another_process
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from upkeep.errors import EvidenceError
from upkeep.evidence import (
    GENESIS,
    EvidenceStore,
    PublishedRun,
    recover,
    verify,
)
from upkeep.evidence.layout import canonical, line_hash
from upkeep.evidence.ledger import LedgerEntry
from upkeep.records import Decision, RunbookRef, RunRecord, Status, parse_time

RUNS = [
    ("20261127T021500Z-health-check-7f3a", "2026-11-27T02:15:00Z", "health-check"),
    ("20261128T021500Z-log-review-0b1c", "2026-11-28T02:15:00Z", "log-review"),
    ("20261201T021500Z-health-check-99aa", "2026-12-01T02:15:00Z", "health-check"),
]


def publish_run(
    store: EvidenceStore,
    run_id: str,
    started_at: str = "2026-11-27T02:15:00Z",
    runbook: str = "health-check",
    status: str = "ok",
) -> PublishedRun:
    staging = store.new_staging(run_id)
    (staging / "notebook.ipynb").write_text(json.dumps({"cells": [], "run": run_id}))
    (staging / "report.html").write_text(f"<html><body>{run_id} {status}</body></html>\n")
    return store.publish(staging, minimal_record(run_id, started_at, runbook, status))


def minimal_record(run_id: str, started_at: str, runbook: str, status: str = "ok") -> RunRecord:
    started = parse_time(started_at)
    return RunRecord(run_id, RunbookRef(runbook), Status(status), started, started, started)


@pytest.fixture
def store(tmp_path: Path) -> EvidenceStore:
    store = EvidenceStore(tmp_path / "evidence")
    for run_id, started_at, runbook in RUNS:
        publish_run(store, run_id, started_at, runbook)
    return store


def ledger_lines(store: EvidenceStore) -> list[str]:
    return store.ledger_path.read_text().splitlines(keepends=True)


def write_ledger(store: EvidenceStore, lines: list[str]) -> None:
    store.ledger_path.write_text("".join(lines))


def folder(store: EvidenceStore, index: int) -> Path:
    run_id, started_at, _ = RUNS[index]
    year, month = started_at[:4], started_at[5:7]
    return store.root / "runs" / year / month / run_id


def first_message(root: Path) -> str:
    report = verify(root)
    assert not report.ok
    return report.problems[0].message


def test_three_published_runs_verify_ok(store: EvidenceStore) -> None:
    report = verify(store.root)
    assert report.ok, report.problems
    assert report.runs_checked == 3
    entries = store.entries()
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[0].prev == GENESIS
    assert [e.prev for e in entries[1:]] == [e.hash for e in entries[:-1]]
    assert entries[2].path == f"runs/2026/12/{RUNS[2][0]}"
    run_json = (folder(store, 0) / "run.json").read_text()
    assert run_json.endswith("}\n")
    record = store.load(entries[0])
    assert set(record.artifacts) == {"notebook.ipynb", "report.html"}
    assert record.runbook.name == "health-check" and record.status is Status.OK
    assert json.loads(run_json) == record.to_json()
    assert not list((store.root / ".staging").iterdir())


def test_missing_evidence_root_verifies_ok_with_no_runs(tmp_path: Path) -> None:
    report = verify(tmp_path / "nowhere")
    assert report.ok
    assert report.runs_checked == 0


def test_flipped_byte_in_report_is_named(store: EvidenceStore) -> None:
    report_html = folder(store, 1) / "report.html"
    data = bytearray(report_html.read_bytes())
    data[10] ^= 0x01
    report_html.write_bytes(bytes(data))
    report = verify(store.root)
    assert [p.run_id for p in report.problems] == [RUNS[1][0]]
    assert report.problems[0].message == (
        f"run {RUNS[1][0]}: report.html: sha256 mismatch (edited after publication)"
    )


def test_deleted_run_folder_is_named(store: EvidenceStore) -> None:
    gone = folder(store, 1)
    for path in gone.iterdir():
        path.unlink()
    gone.rmdir()
    relpath = gone.relative_to(store.root).as_posix()
    assert first_message(store.root) == f"run {RUNS[1][0]}: folder {relpath} is missing (deleted?)"


def test_swapped_ledger_lines_are_named(store: EvidenceStore) -> None:
    lines = ledger_lines(store)
    write_ledger(store, [lines[0], lines[2], lines[1]])
    assert first_message(store.root) == (
        "ledger line 2: prev hash does not match line 1 (lines reordered, removed or edited)"
    )


def test_edited_status_in_ledger_line_is_named(store: EvidenceStore) -> None:
    lines = ledger_lines(store)
    lines[1] = lines[1].replace('"status":"ok"', '"status":"fail"')
    write_ledger(store, lines)
    report = verify(store.root)
    assert report.problems[0].message == (
        "ledger line 2: hash does not match the line's content (line edited)"
    )
    assert report.problems[0].line == 2
    assert report.problems[0].run_id == RUNS[1][0]


def test_deleted_last_ledger_line_names_the_unrecorded_folder(store: EvidenceStore) -> None:
    write_ledger(store, ledger_lines(store)[:2])
    report = verify(store.root)
    relpath = folder(store, 2).relative_to(store.root).as_posix()
    assert [p.message for p in report.problems] == [
        f"run {RUNS[2][0]}: folder {relpath} is not recorded in the ledger "
        "(ledger line removed, or added by hand)"
    ]


def test_deleted_middle_ledger_line_is_named_first(store: EvidenceStore) -> None:
    lines = ledger_lines(store)
    write_ledger(store, [lines[0], lines[2]])
    messages = [p.message for p in verify(store.root).problems]
    assert messages[0].startswith("ledger line 2: prev hash does not match line 1")
    assert any("not recorded in the ledger" in m and RUNS[1][0] in m for m in messages)


def test_extra_file_in_run_folder_is_named(store: EvidenceStore) -> None:
    (folder(store, 0) / "extra.txt").write_text("slipped in later\n")
    assert first_message(store.root) == (
        f"run {RUNS[0][0]}: extra.txt: not listed in run.json (added after publication)"
    )


def test_torn_last_line_is_cut_on_next_append(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path)
    for run_id, started_at, runbook in RUNS[:2]:
        publish_run(store, run_id, started_at, runbook)
    with open(store.ledger_path, "ab") as handle:
        handle.write(b'{"hash":"12ab","path":"runs/2026/1')
    assert first_message(tmp_path).startswith("ledger line 3: incomplete last line")
    published = publish_run(store, *RUNS[2])
    assert published.seq == 3
    assert len(published.notes) == 1 and "incomplete last line" in published.notes[0]
    report = verify(tmp_path)
    assert report.ok, report.problems
    assert report.runs_checked == 3


def test_a_fifo_in_place_of_a_run_record_is_refused_not_waited_on(store: EvidenceStore) -> None:
    # `upkeep run` (its metrics), findings and review read every record: one FIFO held each of
    # them for good, after the run had been published.
    run_json = folder(store, 1) / "run.json"
    run_json.unlink()
    os.mkfifo(run_json)
    relpath = run_json.parent.relative_to(store.root).as_posix()
    entry = store.entries()[1]

    assert without_waiting_on(run_json, lambda: store.read_record(relpath)) is None
    with pytest.raises(EvidenceError, match="cannot read .*run.json: .*not a regular file"):
        without_waiting_on(run_json, lambda: store.load(entry))


def test_recover_removes_staging_of_dead_process_only(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path)
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True
    )
    dead = tmp_path / ".staging" / f"{int(child.stdout)}-run-of-a-dead-runner"
    dead.mkdir(parents=True)
    (dead / "report.html").write_text("half")
    live = store.new_staging("run-in-progress")
    notes = recover(store)
    assert not dead.exists()
    assert live.is_dir() and live.name == f"{os.getpid()}-run-in-progress"
    assert notes == [
        f"removed .staging/{dead.name}: its process {int(child.stdout)} is no longer running"
    ]


def test_recover_tells_an_earlier_process_with_its_pid_from_another_container(
    tmp_path: Path,
) -> None:
    # Every container's runner is PID 1. A folder with our own pid that nothing holds is a
    # killed runner's (the pod before this one); one another runner holds (a pod beside this
    # one, sharing the evidence volume) is a run going on.
    store = EvidenceStore(tmp_path)
    stale = tmp_path / ".staging" / f"{os.getpid()}-20261201T000000Z-quick-dead"
    stale.mkdir(parents=True)
    (stale / "notebook.ipynb").write_text("half")
    running = tmp_path / ".staging" / f"{os.getpid()}-20261201T000000Z-quick-beside"
    running.mkdir()
    with held_by_another_process(running):
        notes = recover(store)
        assert running.is_dir()
    assert not stale.exists()
    assert notes == [
        f"removed .staging/{stale.name}: left by an earlier process with this one's pid "
        f"{os.getpid()}, and held by none"
    ]
    # A folder this store staged is held until it is published or discarded.
    mine = store.new_staging("20261201T000000Z-quick-mine")
    assert not any(mine.name in note for note in recover(store)) and mine.is_dir()
    store.discard_staging(mine)


def test_recover_keeps_a_held_folder_whose_pid_is_not_alive_here(tmp_path: Path) -> None:
    # A runner in another container sharing the evidence names its folder with a pid of its own
    # pid namespace, which may be no process here. Its flock says it is going on. (The other
    # namespace is stood in for by a process of ours holding the lock: the lock is what counts.)
    store = EvidenceStore(tmp_path)
    beyond_pid_max = 4_194_305  # above Linux's largest pid_max: no process here has it
    running = tmp_path / ".staging" / f"{beyond_pid_max}-20261201T000000Z-quick-beside"
    running.mkdir(parents=True)
    with held_by_another_process(running):
        assert recover(store) == []
        assert running.is_dir()
    assert recover(store) == [
        f"removed .staging/{running.name}: its process {beyond_pid_max} is no longer running"
    ]
    assert not running.exists()


def _announce(store: EvidenceStore, index: int) -> str:
    """Leave what a runner killed between placing run `index` and writing its line leaves."""
    relpath = folder(store, index).relative_to(store.root).as_posix()
    sha = hashlib.sha256((folder(store, index) / "run.json").read_bytes()).hexdigest()
    intent = {"path": relpath, "run_json_sha256": sha}
    (store.root / ".publishing.json").write_text(json.dumps(intent))
    write_ledger(store, ledger_lines(store)[:index])
    return relpath


def test_recover_finishes_a_publish_killed_before_its_ledger_line(store: EvidenceStore) -> None:
    relpath = _announce(store, 2)
    notes = recover(store)
    assert notes == [
        f"finished publishing {relpath} as ledger line 3 "
        "(its runner was killed before writing the line)"
    ]
    assert verify(store.root).ok
    assert store.entries()[2].run_id == RUNS[2][0]
    assert not (store.root / ".publishing.json").exists()
    assert recover(store) == []


def test_recover_never_adopts_a_folder_nobody_was_publishing(store: EvidenceStore) -> None:
    # A removed ledger line, or a run folder added by hand: recovery must not launder it.
    write_ledger(store, ledger_lines(store)[:2])
    relpath = folder(store, 2).relative_to(store.root).as_posix()
    notes = recover(store)
    assert notes == [
        f"run folder {relpath} is not recorded in the ledger and was left in "
        "place; run `upkeep verify`"
    ]
    report = verify(store.root)
    assert not report.ok and relpath in report.problems[0].message
    assert folder(store, 2).is_dir()


def test_recover_does_not_finish_a_tampered_publish(store: EvidenceStore) -> None:
    relpath = _announce(store, 2)
    (folder(store, 2) / "report.html").write_text("tampered")
    recover(store)
    assert len(store.entries()) == 2
    assert relpath in verify(store.root).problems[0].message


def _publish_many(root: str, worker: int, count: int) -> None:
    store = EvidenceStore(Path(root))
    for n in range(count):
        publish_run(store, f"20261127T021500Z-w{worker}-{n:02d}", runbook=f"book-{worker}")


def test_concurrent_publishes_chain_consecutively(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_publish_many, args=(str(tmp_path), w, 10)) for w in range(4)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=120)
        assert process.exitcode == 0
    store = EvidenceStore(tmp_path)
    assert [e.seq for e in store.entries()] == list(range(1, 41))
    report = verify(tmp_path)
    assert report.ok, report.problems
    assert report.runs_checked == 40


def test_latest_by_runbook_respects_status_filter(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path)
    publish_run(store, "a-1", "2026-11-01T00:00:00Z", "backup", "ok")
    publish_run(store, "a-2", "2026-11-02T00:00:00Z", "backup", "skipped")
    publish_run(store, "b-1", "2026-11-03T00:00:00Z", "vacuum", "fail")
    latest = store.latest_by_runbook()
    assert {name: e.run_id for name, e in latest.items()} == {"backup": "a-2", "vacuum": "b-1"}
    ran = store.latest_by_runbook(lambda status: status != "skipped")
    assert ran["backup"].run_id == "a-1"


def test_publish_refuses_symlinks_and_duplicate_run_ids(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path)
    staging = store.new_staging("run-1")
    (staging / "link.html").symlink_to("/etc/hostname")
    record = minimal_record("run-1", "2026-11-27T02:15:00Z", "x")
    with pytest.raises(EvidenceError, match="symlinks"):
        store.publish(staging, record)
    (staging / "link.html").unlink()
    store.publish(staging, record)
    again = store.new_staging("run-1")
    with pytest.raises(EvidenceError, match="already exists"):
        store.publish(again, record)
    assert verify(tmp_path).ok


def test_load_refuses_an_edited_run_json(store: EvidenceStore) -> None:
    run_json = folder(store, 0) / "run.json"
    run_json.write_text(run_json.read_text().replace('"ok"', '"warn"'))
    with pytest.raises(EvidenceError, match="does not match the ledger"):
        store.load(store.entries()[0])
    assert "run.json: sha256 mismatch" in first_message(store.root)


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    root = tmp_path_factory.mktemp("sealed")
    store = EvidenceStore(root)
    publish_run(store, *RUNS[0])
    store.record_decision(_decision())  # decisions are covered like runs
    publish_run(store, *RUNS[1])
    files = sorted(p for p in (root / "runs").rglob("*") if p.is_file())
    return root, [store.ledger_path, *files]


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_single_byte_change_is_detected(
    sealed: tuple[Path, list[Path]], data: st.DataObject
) -> None:
    root, files = sealed
    path = data.draw(st.sampled_from(files))
    original = path.read_bytes()
    offset = data.draw(st.integers(0, len(original) - 1))
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != original[offset]))
    path.write_bytes(original[:offset] + bytes([byte]) + original[offset + 1 :])
    try:
        assert not verify(root).ok
    finally:
        path.write_bytes(original)
    assert verify(root).ok


LEGACY = (
    Path(__file__).parent / "data" / "evidence-0.1.0"
)  # written by upkeep 0.1.0 (main before #8)


def test_evidence_written_by_0_1_0_verifies_loads_and_takes_new_runs(tmp_path: Path) -> None:
    root = tmp_path / "evidence"
    shutil.copytree(LEGACY, root)
    report = verify(root)
    assert report.ok, report.problems
    assert report.runs_checked == 4
    store = EvidenceStore(root)
    records = {
        record.run_id.split("-", 1)[1]: record for record in map(store.load, store.entries())
    }
    kinds = records["all-kinds-fd23"]
    assert kinds.status is Status.WARN
    assert [(c.name, c.status, c.value, c.limit) for c in kinds.checks] == [
        ("disk:/", Status.WARN, 87.1, 85),
        ("service:web", Status.OK, 12.5, None),
    ]
    assert [(m.name, dict(m.labels)) for m in kinds.metrics] == [
        ("disk_used_percent", {"mount": "/"})
    ]
    assert [f.severity for f in kinds.findings] == ["warn", "info"]
    assert kinds.secret_parameters == ("api_token",)
    assert kinds.parameters == {"api_token": "env:LEGACY_TOKEN", "limit": 3}
    assert "«secret:env:LEGACY_TOKEN»" in kinds.findings[1].message
    raised = records["raises-ddfd"]
    assert raised.status is Status.ERROR
    assert (raised.error.ename, raised.error.cell) == ("KeyError", 3)
    skipped = records["fails-8c2f"]
    assert skipped.status is Status.SKIPPED and skipped.skipped_reason.startswith("locked")
    assert records["fails-d7f5"].status is Status.FAIL
    assert {record.summary for record in records.values()} == {""}  # no summary then: none
    # The current version writes onto the same chain.
    published = publish_run(store, "20261205T021500Z-after-upgrade-1a2b", "2026-12-05T02:15:00Z")
    assert published.seq == 5
    assert verify(root).ok


def _decision(subject: str = "log:app:1a2b3c4d", reason: str = "known, fixed upstream") -> Decision:
    at = parse_time("2026-11-28T09:00:00Z")
    return Decision("acknowledge", subject, "ops-oncall", at, reason, {"until": "2026-12-31"})


def test_a_decision_is_chained_with_the_runs_and_verified(store: EvidenceStore) -> None:
    entry = store.record_decision(_decision())
    assert entry.seq == 4 and entry.prev == store.entries()[-1].hash
    published = publish_run(store, "20261202T021500Z-health-check-1111", "2026-12-02T02:15:00Z")
    assert published.seq == 5
    assert [e.seq for e in store.entries()] == [1, 2, 3, 5]  # runs only
    [kept] = store.decisions()
    assert kept.decision == _decision() and kept.record_id.startswith(
        "20261128T090000Z-acknowledge-"
    )
    report = verify(store.root)
    assert report.ok, report.problems
    assert (report.runs_checked, report.decisions_checked) == (4, 1)
    # The chain covers decisions: editing one's reason breaks it at that line.
    lines = ledger_lines(store)
    lines[3] = lines[3].replace("known, fixed upstream", "never mind")
    write_ledger(store, lines)
    assert first_message(store.root) == (
        "ledger line 4: hash does not match the line's content (line edited)"
    )


def test_a_decision_needs_a_type_subject_author_reason_and_time_zone() -> None:
    at = parse_time("2026-11-28T09:00:00Z")
    for bad in (
        {"type": "Acknowledge!"},
        {"subject": " "},
        {"author": ""},
        {"reason": ""},
        {"at": at.replace(tzinfo=None)},
    ):
        values = {"type": "acknowledge", "subject": "x", "author": "a", "at": at, "reason": "r"}
        with pytest.raises(ValueError):
            Decision(**{**values, **bad})
    assert Decision.from_json(_decision().to_json()) == _decision()


def test_a_dry_runs_ledger_line_says_so_and_verify_holds_it_to_run_json(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path / "evidence")
    real = publish_run(store, *RUNS[0][:2], runbook="cleaning")
    staging = store.new_staging(RUNS[1][0])
    dry_record = replace(minimal_record(RUNS[1][0], RUNS[1][1], "cleaning"), dry_run=True)
    dry = store.publish(staging, dry_record)
    real_line, dry_line = (json.loads(line) for line in ledger_lines(store))
    # Only a dry run's line holds the field: a real run's line is as it always was.
    assert "dry_run" not in real_line and dry_line["dry_run"] is True
    assert [entry.dry_run for entry in store.entries()] == [False, True]
    assert store.load(store.entries()[1]).dry_run and not real.record.dry_run
    assert json.loads((dry.path / "run.json").read_text())["dry_run"] is True
    assert verify(store.root).ok
    # A ledger rewritten so that the dry run counts as the day's run, its chain made whole
    # again, still does not verify: run.json says otherwise.
    del dry_line["dry_run"]
    dry_line.pop("hash")
    dry_line["hash"] = line_hash(dry_line)
    lines = ledger_lines(store)
    write_ledger(store, [lines[0], canonical(dry_line).decode() + "\n"])
    assert first_message(store.root) == (
        f"run {RUNS[1][0]}: run.json says dry_run True, the ledger says False"
    )


def test_a_ledger_line_with_a_malformed_dry_run_flag_is_damaged(store: EvidenceStore) -> None:
    line = json.loads(ledger_lines(store)[0])
    assert LedgerEntry.from_json(line).dry_run is False  # absent: a real run
    with pytest.raises(ValueError, match="malformed field.*dry_run"):
        LedgerEntry.from_json({**line, "dry_run": "yes"})


def test_a_file_hard_linked_into_a_run_gets_a_copy_of_its_own(tmp_path: Path) -> None:
    """A runbook that linked a backup into its run rather than copy it: sealing set the
    evidence's mode on the backup, and a later change to the backup broke the run's hash."""
    store = EvidenceStore(tmp_path / "evidence")
    outside = tmp_path / "backup.tar"
    outside.write_bytes(b"backup, first version\n")
    outside.chmod(0o644)
    run_id = "20261127T021500Z-backup-1a2b"
    staging = store.new_staging(run_id)
    os.link(outside, staging / "backup.tar")
    published = store.publish(staging, minimal_record(run_id, "2026-11-27T02:15:00Z", "backup"))
    kept = published.path / "backup.tar"
    assert kept.read_bytes() == b"backup, first version\n"
    assert kept.stat().st_ino != outside.stat().st_ino
    assert outside.stat().st_nlink == 1
    assert outside.stat().st_mode & 0o777 == 0o644  # the evidence's mode was not set on it
    outside.write_bytes(b"backup, rewritten\n")
    report = verify(store.root)
    assert report.ok, report.problems


def test_a_folder_of_the_run_that_cannot_be_read_is_refused_not_skipped(tmp_path: Path) -> None:
    """With file modes binding (not as root), a folder nobody may read was skipped by the walk
    that hashes the run: its files went into the evidence unhashed."""
    from helpers.unprivileged import run_bound_by_permissions

    code = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from upkeep.errors import EvidenceError\n"
        "from upkeep.evidence import EvidenceStore\n"
        "from upkeep.records import RunbookRef, RunRecord, Status, parse_time\n"
        "store = EvidenceStore(Path(sys.argv[1]))\n"
        "staging = store.new_staging('20261127T021500Z-x-1a2b')\n"
        "(staging / 'locked').mkdir()\n"
        "(staging / 'locked' / 'data.txt').write_text('x')\n"
        "(staging / 'locked').chmod(0)\n"
        "at = parse_time('2026-11-27T02:15:00Z')\n"
        "record = RunRecord('20261127T021500Z-x-1a2b', RunbookRef('x'), Status.OK, at, at, at)\n"
        "try:\n"
        "    store.publish(staging, record)\n"
        "except EvidenceError as error:\n"
        "    print('refused:', error)\n"
    )
    done = run_bound_by_permissions(code, str(tmp_path / "evidence"))
    assert done.returncode == 0, done.stderr
    assert "refused:" in done.stdout and "cannot be read" in done.stdout
    assert not list((tmp_path / "evidence").glob("runs/*/*/*"))
    for locked in tmp_path.rglob("locked"):
        locked.chmod(0o700)  # so that pytest can remove its temp folder
