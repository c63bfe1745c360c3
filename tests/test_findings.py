"""upkeep.findings: a finding is open until a complete run no longer reports it (unless it is
sticky), a run clears it, or a person acknowledges it; reported again, it opens anew."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from upkeep.evidence import EvidenceStore
from upkeep.findings import ClosedBy, RunEvent, events_in, follow, run_event
from upkeep.records import (
    Check,
    Clearance,
    Decision,
    Finding,
    RunbookRef,
    RunRecord,
    Severity,
    Status,
)

DAY0 = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


def run(
    day: int,
    *findings: Finding,
    runbook: str = "health-check",
    status: Status = Status.WARN,
    cleared: tuple[Clearance, ...] = (),
) -> RunRecord:
    at = DAY0 + timedelta(days=day)
    return RunRecord(
        f"{at:%Y%m%dT%H%M%SZ}-{runbook}-{day:04x}",
        RunbookRef(runbook),
        status,
        at,
        at,
        at,
        checks=(Check("c", Status.OK),),
        findings=findings,
        cleared=cleared,
    )


def event(record: RunRecord) -> RunEvent:
    return run_event(record.status, record)


def ack(day: int, key: str, reason: str = "known; fixed in the next release") -> Decision:
    return Decision("acknowledge", key, "dana", DAY0 + timedelta(days=day, hours=5), reason)


ORPHANS = Finding("orphans:orders.customer_id", "12 orphaned orders", Severity.WARN)
LOG = Finding("log:app:1a2b3c4d", "3 x timeout talking to <IP>", Severity.FAIL, sticky=True)


def test_a_finding_closes_when_a_complete_run_no_longer_reports_it() -> None:
    states = follow([event(run(0, ORPHANS)), event(run(1, ORPHANS)), event(run(2))])
    [state] = states
    assert not state.open and state.closed.how is ClosedBy.ABSENT
    assert state.times_seen == 2 and state.first_seen == DAY0
    assert state.closed.by == run(2).run_id


def test_a_run_that_errored_or_was_skipped_closes_nothing() -> None:
    errored = run(1, status=Status.ERROR)
    skipped = run(2, status=Status.SKIPPED)
    [state] = follow([event(run(0, ORPHANS)), event(errored), event(skipped)])
    assert state.open and state.last_seen == DAY0


def test_a_dry_run_does_not_close_what_it_does_not_report() -> None:
    dry = replace(run(1), dry_run=True)
    [state] = follow([event(run(0, ORPHANS)), event(dry)])
    assert state.open


def test_a_sticky_finding_stays_open_until_cleared_or_acknowledged() -> None:
    quiet_days = [event(run(day)) for day in range(1, 5)]
    [state] = follow([event(run(0, LOG)), *quiet_days])
    assert state.open, "a log error seen once must not vanish because no new lines came"
    [state] = follow([event(run(0, LOG)), *quiet_days, ack(4, LOG.key)])
    assert state.closed.how is ClosedBy.ACKNOWLEDGED
    assert (state.closed.by, state.closed.reason) == ("dana", "known; fixed in the next release")
    cleared = run(5, cleared=(Clearance(LOG.key, "the upstream answers again"),))
    [state] = follow([event(run(0, LOG)), event(cleared)])
    assert state.closed.how is ClosedBy.CLEARED and "upstream" in state.closed.reason


def test_reported_again_after_an_acknowledgement_it_opens_anew() -> None:
    [state] = follow([event(run(0, LOG)), ack(0, LOG.key), event(run(3, LOG))])
    assert state.open and state.first_seen == DAY0 + timedelta(days=3) and state.times_seen == 1


def test_another_runbooks_runs_do_not_close_it_and_open_ones_come_first() -> None:
    states = follow(
        [
            event(run(0, ORPHANS, runbook="database-review")),
            event(run(0, LOG)),
            event(run(1, runbook="health-check")),  # health-check did not report ORPHANS
            event(run(2, runbook="other")),
        ]
    )
    assert [(s.runbook, s.key, s.open) for s in states] == [
        ("health-check", LOG.key, True),  # fail before warn
        ("database-review", ORPHANS.key, True),
    ]


def test_the_ledger_order_of_a_real_store_is_followed(tmp_path) -> None:
    store = EvidenceStore(tmp_path / "evidence")
    for record in (run(0, LOG), run(1)):
        store.publish(store.new_staging(record.run_id), record)
    store.record_decision(ack(1, LOG.key))
    store.publish(store.new_staging(run(2, LOG).run_id), run(2, LOG))
    [state] = follow(events_in(store))
    assert state.open and state.times_seen == 1 and state.last_run_id == run(2, LOG).run_id
