"""The monthly and quarterly reviews report SLA attainment per severity from the incident
decisions in the real evidence ledger (and "not configured" without a support: section)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from upkeep import registry
from upkeep.config import load_config
from upkeep.evidence import EvidenceStore
from upkeep.records import Decision
from upkeep.review.evidence_pass import read_evidence
from upkeep.review.month import review_month
from upkeep.review.quarter import SLA_NOT_CONFIGURED, review_quarter
from upkeep.review.quarter_text import quarter_text
from upkeep.review.text import month_text
from upkeep.sla.incidents import INCIDENT

CONFIG = """\
version: 1
timezone: UTC
evidence_dir: evidence
state_dir: state
runbooks_dir: runbooks
support:
  severities:
    P1: {response: 15m, resolution: 4h, clock: always}
    P2: {response: 1h, resolution: 8h}
"""
END = datetime(2027, 1, 1, tzinfo=UTC)


def _incidents(store: EvidenceStore) -> None:
    def event(subject: str, at: datetime, **details) -> None:
        store.record_decision(Decision(INCIDENT, subject, "ana", at, "x", details))

    october = datetime(2026, 10, 5, 8, tzinfo=UTC)
    event("A", october, event="open", severity="P1", title="a")
    event("A", october + timedelta(minutes=5), event="ack")
    event("A", october + timedelta(hours=1), event="resolve")  # met
    december = datetime(2026, 12, 14, 8, tzinfo=UTC)
    event("B", december, event="open", severity="P1", title="b")
    event("B", december + timedelta(hours=5), event="resolve")  # missed both


def _reviews(project):
    config = load_config(project.config)
    runbooks = registry.discover(config.runbooks_dir, config.root)
    evidence = read_evidence(EvidenceStore(project.evidence))
    return (
        review_month(evidence, runbooks, config, END),
        review_quarter(evidence, runbooks, config, END),
        config,
    )


def test_both_reviews_report_attainment_per_severity(make_project) -> None:
    project = make_project(CONFIG)
    _incidents(EvidenceStore(project.evidence))
    month, quarter, config = _reviews(project)
    assert month.sla == "P1 0 of 1 met (0%); P2 none resolved"  # only December in the window
    assert quarter.sla == "P1 1 of 2 met (50%); P2 none resolved"
    assert "SLA attainment per severity: P1 0 of 1 met (0%)" in month_text(month, config.tz)
    assert "SLA attainment per severity: P1 1 of 2 met (50%)" in quarter_text(quarter, config.tz)


def test_without_support_targets_the_reviews_say_not_configured(make_project) -> None:
    project = make_project(CONFIG.split("support:")[0])
    month, quarter, _ = _reviews(project)
    assert month.sla == quarter.sla == SLA_NOT_CONFIGURED
