"""A synthetic quarter of evidence, written through the evidence API, with planted cases for the
quarterly review: a runbook that never fails, one that fails every month (its finding opening a
backlog item that goes overdue), a check that warns every month, a runbook that misses a run every
month, restore times that double, a disaster drill, four monthly reviews with their own figures,
hand-written maintenance-log entries, and backlog items closed and reopened in the quarter."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from upkeep import schedule
from upkeep.evidence import EvidenceStore
from upkeep.records import (
    Check,
    Decision,
    Finding,
    Metric,
    RunbookRef,
    RunRecord,
    Severity,
    Status,
)
from upkeep.review.backlog import BACKLOG_CHANGE, item_id
from upkeep.review.quarter import month_bounds

WEEKLY = ("steady", "broken", "warner", "gappy", "backup-check")  # registered, weekly
DISK = Finding("disk:/", "root filesystem 97% full", Severity.FAIL)  # broken, every run
OLD = Finding("old-problem", "came back", Severity.WARN)  # legacy: done before, back in month 3
PRE = Finding("pre-problem", "fixed in month 2", Severity.WARN)  # legacy: active, closed
RESTORE_BY_MONTH = (10.0, 14.0, 20.0)  # backup-check's restore seconds: doubles
REVIEW_FIGURES = ({"review_runs": 1001, "review_missed_runs": 7}, {"review_runs": 1002})


@dataclass
class Quarter:
    """What was planted, for the assertions."""

    end: datetime
    months: tuple[tuple[datetime, datetime], ...]
    reviews: list[str] = field(default_factory=list)  # monthly review run ids, oldest first
    drill: str = ""
    warner_runs: list[str] = field(default_factory=list)


class _Writer:
    def __init__(self, store: EvidenceStore) -> None:
        self.store = store
        self.n = 0

    def run(
        self,
        name: str,
        at: datetime,
        checks: tuple[Check, ...] = (),
        metrics: tuple[Metric, ...] = (),
        findings: tuple[Finding, ...] = (),
        summary: str = "",
    ) -> str:
        self.n += 1
        statuses = {c.status for c in checks}
        worst = next((s for s in (Status.FAIL, Status.WARN) if s in statuses), Status.OK)
        record = RunRecord(
            f"{at:%Y%m%dT%H%M%SZ}-{name}-{self.n:04x}",
            RunbookRef(name, sha256="c" * 64),
            worst,
            at,
            at + timedelta(seconds=2),
            at,
            checks=checks or (Check("always", Status.OK),),
            metrics=metrics,
            findings=findings,
            summary=summary,
        )
        self.store.publish(self.store.new_staging(record.run_id), record)
        return record.run_id

    def decide(self, subject: str, at: datetime, details: dict, kind: str = BACKLOG_CHANGE):
        self.store.record_decision(Decision(kind, subject, "alice", at, "planted", details))


def write_quarter(store: EvidenceStore, end: datetime, *, drill: bool = True) -> Quarter:
    """Three months of evidence ending just before `end` (aware, UTC), written in time order."""
    months = month_bounds(end)
    start = months[0][0]
    planted = Quarter(end, months)
    out = _Writer(store)
    events: list[tuple[datetime, object]] = []

    def month_of(at: datetime) -> int:
        return next(i for i, (a, b) in enumerate(months) if a <= at < b)

    # Before the quarter: legacy's two problems open a backlog item each; OLD is marked done.
    for day in (6, 5, 4):
        at = start - timedelta(days=day)
        events.append((at, lambda at=at: out.run("legacy", at, findings=(OLD, PRE))))
    events.append(
        (
            start - timedelta(days=3),
            lambda: out.decide(
                item_id("legacy", OLD.key), start - timedelta(days=3), {"state": "done"}
            ),
        )
    )
    # Weekly runbooks at each scheduled time (plus 5 minutes) in the quarter.
    first = schedule.previous_time("weekly", start)
    seen_month: dict[tuple[str, int], int] = {}
    for slot in schedule.times_from("weekly", first, end - timedelta(hours=1)):
        at = slot + timedelta(minutes=5)
        if at < start or at >= end:
            continue
        index = month_of(at)
        for name in WEEKLY:
            nth = seen_month[(name, index)] = seen_month.get((name, index), 0) + 1
            events.append((at, _weekly(out, planted, name, at, index, nth)))
    # Monthly reviews: four, each with figures of its own (never the evidence's true counts).
    for i, at in enumerate(
        [
            months[0][0] + timedelta(minutes=10),
            months[1][0] + timedelta(minutes=10),
            months[2][0] + timedelta(minutes=10),
            end - timedelta(minutes=30),
        ]
    ):
        figures = REVIEW_FIGURES[i % 2]
        events.append(
            (
                at,
                lambda at=at, i=i, figures=figures: planted.reviews.append(
                    out.run(
                        "maintenance-review",
                        at,
                        metrics=tuple(Metric(k, v) for k, v in figures.items()),
                        summary=f"planted review {i}",
                    )
                ),
            )
        )
    if drill:
        at = months[1][0] + timedelta(days=3, hours=2)
        metrics = (
            Metric("drill_rto_seconds", 1800, "s", {"database": "app"}),
            Metric("drill_rto_seconds", 2400, "s", {"database": "other"}),
            Metric("drill_rpo_seconds", 300, "s", {"database": "app"}),
        )
        events.append(
            (at, lambda at=at: setattr(planted, "drill", out.run("drill", at, metrics=metrics)))
        )
    # PRE is marked done in month 2; OLD comes back in month 3.
    closed = months[1][0] + timedelta(days=5)
    events.append(
        (closed, lambda: out.decide(item_id("legacy", PRE.key), closed, {"state": "done"}))
    )
    back = months[2][0] + timedelta(days=6, hours=1)
    events.append((back, lambda: out.run("legacy", back, findings=(OLD,))))
    for _at, write in sorted(events, key=lambda pair: pair[0]):
        write()
    # Two things done by hand about warner's runs, in the quarter.
    for run_id in planted.warner_runs[:2]:
        out.decide(run_id, end - timedelta(minutes=20), {}, kind="log-entry")
    return planted


def _weekly(out: _Writer, planted: Quarter, name: str, at: datetime, month: int, nth: int):
    """The write of one planted weekly run."""
    if name == "steady":
        return lambda: out.run(name, at)
    if name == "broken":
        return lambda: out.run(name, at, (Check("disk:/", Status.FAIL),), findings=(DISK,))
    if name == "warner":
        status = Status.WARN if nth == 1 else Status.OK

        def warner() -> None:
            planted.warner_runs.append(out.run(name, at, (Check("latency", status),)))

        return warner
    if name == "gappy":
        if nth == 2:
            return lambda: None  # its second run of every month never happened
        status = Status.FAIL if month == 0 and nth == 1 else Status.OK
        return lambda: out.run(name, at, (Check("probe", status),))
    restore = Metric("backup_restore_seconds", RESTORE_BY_MONTH[month], "s", {"database": "app"})
    return lambda: out.run(name, at, metrics=(restore,))
