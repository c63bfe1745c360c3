"""upkeep.metrics.evidence_fold: the per-runbook fold of the ledger, taken up from its checkpoint
when the ledger line it names is still there, and from the first line when it is not."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from test_metrics_textfile import DAY0, publish, record

from upkeep.evidence import EvidenceStore
from upkeep.metrics.evidence_fold import fold_evidence
from upkeep.records import Decision, Finding, Severity, Status

WARN = Finding("orphans:a", "3 orphans", Severity.WARN)
STICKY = Finding("log:x", "timeouts", Severity.FAIL, sticky=True)


def summary(store: EvidenceStore, checkpoint: Path | None) -> dict[str, object]:
    fold = fold_evidence(store, checkpoint)
    return {
        "seq": fold.seq,
        "runs": {
            name: tuple(
                entry.run_id if entry else None
                for entry in (runs.last_run, runs.last_success, runs.last_executed)
            )
            for name, runs in fold.runbooks.items()
        },
        "open": sorted((s.runbook, s.key, s.times_seen, s.first_seen) for s in fold.open_states()),
    }


def test_a_fold_taken_up_from_its_checkpoint_equals_one_from_the_start(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path / "evidence")
    checkpoint = tmp_path / "state/fold.json"
    drill = Finding("drill:restore", "restore took too long", Severity.INFO)
    publish(
        store,
        record("review", 0, findings=(WARN, STICKY)),
        record("backup", 0),
        record("drill", 0, findings=(drill, WARN)),  # no run of its own later
    )
    fold_evidence(store, checkpoint)
    assert json.loads(checkpoint.read_text())["seq"] == 3
    publish(
        store,
        record("review", 1, findings=(WARN,)),
        record("backup", 1, Status.FAIL),
        record("backup", 2, Status.SKIPPED),
    )
    store.record_decision(Decision("acknowledge", "orphans:a", "dana", DAY0, "known"))
    publish(store, record("review", 3, findings=(WARN,)))
    taken_up = summary(store, checkpoint)
    assert taken_up == summary(store, None)
    assert taken_up["runs"]["backup"] == (  # type: ignore[index]
        record("backup", 2).run_id,
        record("backup", 0).run_id,
        record("backup", 1).run_id,
    )
    # orphans:a was acknowledged (for drill too), then reported again by review: open anew.
    assert taken_up["open"] == [
        ("drill", "drill:restore", 1, DAY0),
        ("review", "log:x", 1, DAY0),
        ("review", "orphans:a", 1, DAY0 + timedelta(days=3)),
    ]


def test_a_taken_up_fold_reads_only_the_run_records_published_since(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path / "evidence")
    checkpoint = tmp_path / "fold.json"
    publish(store, record("review", 0, findings=(STICKY,)))
    fold_evidence(store, checkpoint)
    # Were the first run.json read again, its finding could not be known any more.
    (run_json,) = (tmp_path / "evidence/runs").rglob("run.json")
    run_json.unlink()
    publish(store, record("review", 1, Status.WARN))
    assert [s.key for s in fold_evidence(store, checkpoint).open_states()] == ["log:x"]
    assert fold_evidence(store, None).open_states() == []  # from the start: the record is gone


def test_a_checkpoint_of_another_ledger_is_not_taken_up(tmp_path: Path) -> None:
    checkpoint = tmp_path / "fold.json"
    first = EvidenceStore(tmp_path / "one")
    publish(first, record("review", 0, findings=(STICKY,)), record("review", 1))
    fold_evidence(first, checkpoint)
    # The same file name and line count, other lines: a ledger started again from nothing.
    for path in sorted((tmp_path / "one").rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    publish(first, record("backup", 0), record("backup", 1), record("backup", 2))
    assert set(summary(first, checkpoint)["runs"]) == {"backup"}  # type: ignore[arg-type]


def test_a_damaged_checkpoint_means_a_fold_from_the_start(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path / "evidence")
    checkpoint = tmp_path / "fold.json"
    publish(store, record("review", 0, findings=(WARN,)))
    fold_evidence(store, checkpoint)
    checkpoint.write_text('{"format": 1, "seq": ')
    assert summary(store, checkpoint) == summary(store, None)
    assert json.loads(checkpoint.read_text())["seq"] == 1  # and it is written again


def test_an_unreadable_open_finding_in_the_checkpoint_means_a_fold_from_the_start(
    tmp_path: Path,
) -> None:
    store = EvidenceStore(tmp_path / "evidence")
    checkpoint = tmp_path / "fold.json"
    publish(store, record("review", 0, findings=(WARN,)))
    fold_evidence(store, checkpoint)
    value = json.loads(checkpoint.read_text())
    value["open_findings"][0]["first_seen"] = "yesterday"
    checkpoint.write_text(json.dumps(value))
    publish(store, record("review", 1, findings=(WARN,)))  # a run that reads that finding
    assert summary(store, checkpoint) == summary(store, None)


def test_a_torn_last_line_is_left_for_the_next_fold(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path / "evidence")
    checkpoint = tmp_path / "fold.json"
    publish(store, record("review", 0))
    with open(store.ledger_path, "ab") as ledger:
        ledger.write(b'{"seq": 2, "run_id": "half')  # a writer killed mid-line
    fold = fold_evidence(store, checkpoint)
    assert fold.seq == 1
    # The next publish cuts the torn line and appends its own: the fold takes it up.
    publish(store, record("review", 1, Status.FAIL))
    fold = fold_evidence(store, checkpoint)
    assert fold.seq == 2 and fold.runbooks["review"].last_run.status is Status.FAIL
