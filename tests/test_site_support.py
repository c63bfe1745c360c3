"""upkeep.site.support: the support policy rendered from the `support:` config (the plan's
macro) and the Support page's open incidents, SLA clocks and month's attainment, read from real
evidence (incident decisions in the ledger)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from helpers.files import make_config

from upkeep.evidence import EvidenceStore
from upkeep.records import Decision
from upkeep.registry import discover
from upkeep.site import support
from upkeep.site.model import load_model
from upkeep.sla.incidents import INCIDENT

CONFIG = """
evidence_dir: evidence
runbooks_dir: upkeep:shipped
timezone: UTC
support:
  channels: {email: help@example.org, chat: "#help"}
  business_hours: {days: [mon, tue, wed, thu, fri], start: '09:00', end: '17:00', holidays: DE}
  severities:
    P1: {description: down, response: 15m, resolution: 4h, clock: always,
         escalate: {role: on-call lead}}
    P3: {description: minor, response: 8h, resolution: 80h}
"""


def test_the_policy_is_the_config(tmp_path: Path) -> None:
    text = support.policy_markdown(make_config(tmp_path, CONFIG))
    assert "| e-mail | help@example.org |" in text
    assert "Business hours: mon, tue, wed, thu, fri, 09:00 to 17:00 UTC, except public " in text
    assert "| P1 | down | 15m | 4h | around the clock | on-call lead |" in text
    assert "| P3 | minor | 8h | 80h | business hours | - |" in text
    assert "At 80% of a target the alert targets are warned" in text


def test_the_page_shows_open_incidents_with_their_clocks_and_the_month_s_attainment(
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path, CONFIG)
    store = EvidenceStore(config.evidence_dir)
    now = datetime(2026, 12, 9, 12, 0, tzinfo=UTC)  # a Wednesday

    def event(subject: str, at: datetime, **details) -> None:
        store.record_decision(Decision(INCIDENT, subject, "ana", at, "x", details))

    event("INC-A", now - timedelta(minutes=13), event="open", severity="P1", title="site down")
    event("INC-B", datetime(2026, 12, 1, 9, tzinfo=UTC), event="open", severity="P1", title="b")
    event("INC-B", datetime(2026, 12, 1, 9, 5, tzinfo=UTC), event="ack")
    event("INC-B", datetime(2026, 12, 1, 10, tzinfo=UTC), event="resolve")
    model = load_model(config, discover(config.runbooks_dir), now)
    page = support.support_page(model, now)
    assert "| INC-A | P1 | site down | 2026-12-09 11:47 | **warn**, due 12-09 12:02 (87%)" in page
    assert "INC-B |" not in page  # resolved
    assert "Incidents resolved since 2026-12-01: P1 1 of 1 met (100%); P3 none resolved." in page
