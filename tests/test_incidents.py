"""`upkeep incident`: incident events kept as decisions in the real evidence ledger, their SLA
clocks computed from those events alone, incidents opened from a failing run (executed for real
by papermill), and the SLA clock's warnings and breach escalations delivered to a real inbox
target by `upkeep alerts send` once per clock and state."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from helpers.project import Project

from upkeep.config import load_config
from upkeep.evidence import EvidenceStore
from upkeep.records import Decision
from upkeep.sla.escalate import escalate
from upkeep.sla.incidents import INCIDENT, attainment, clocks, follow, incident_events

CONFIG = """\
version: 1
timezone: Europe/Berlin
evidence_dir: evidence
state_dir: state
runbooks_dir: runbooks
alerts:
  targets:
    - {name: inbox, inbox: alerts-inbox, statuses: [warn, fail, error]}
support:
  channels: {email: help@example.org}
  business_hours: {start: '09:00', end: '17:00', holidays: DE}
  severities:
    P1: {response: 30m, resolution: 4h, clock: always,
         escalate: {schedule: ops-oncall, role: incident lead}}
    P3: {response: 4h, resolution: 5d}
"""
ONCALL = (
    "schedules:\n  - name: ops-oncall\n    layers:\n      - {name: solo, people: [ana],"
    " start: '2026-01-05 09:00'}\n"
)


@pytest.fixture
def project(make_project) -> Project:
    project = make_project(CONFIG)
    (project.root / "oncall.yml").write_text(ONCALL)
    return project


def _incident_decisions(project: Project) -> list[Decision]:
    store = EvidenceStore(project.evidence)
    return incident_events(entry.decision for entry in store.decisions())


def test_an_incident_s_life_is_kept_as_decisions_and_its_clocks_follow(project: Project) -> None:
    opened = project.upkeep_in_process("incident", "open", "checkout 502", "--severity", "P1")
    assert opened.code == 0, opened.text
    incident_id = opened.out.split()[1]
    assert "response   running" in opened.out
    env = {"UPKEEP_AUTHOR": "ana"}
    for event in ("ack", "pause", "resume", "update", "resolve"):
        result = project.upkeep_in_process(
            "incident", event, incident_id, "--reason", f"{event} it", env=env
        )
        assert result.code == 0, result.text
    events = _incident_decisions(project)
    assert [d.details["event"] for d in events] == [
        "open",
        "ack",
        "pause",
        "resume",
        "update",
        "resolve",
    ]
    assert {d.subject for d in events} == {incident_id}
    assert [d.author for d in events[1:]] == ["ana"] * 5
    incident = follow(events)[incident_id]
    assert not incident.open and incident.pauses[0][1] is not None
    response, resolution = clocks(incident, load_config(project.config).support, datetime.now(UTC))
    assert (response.state, resolution.state) == ("met", "met")
    assert project.upkeep_in_process("incident", "list").out.strip() == "no open incidents"
    assert "P1 resolved: checkout 502" in project.upkeep_in_process("incident", "list", "--all").out
    assert project.upkeep("verify").code == 0  # the events are chained in the ledger


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["open", "x", "--severity", "P2"], "no severity 'P2'; expected one of P1, P3"),
        (["open", "--severity", "P1"], "TITLE: expected what is wrong"),
        (["ack", "INC-nope", "-m", "x"], "no incident 'INC-nope'"),
        (["open", "x", "--severity", "P1", "--from-run", "r-1"], "--from-run: no run 'r-1'"),
    ],
)
def test_bad_input_is_refused_with_exit_2_and_nothing_recorded(project, args, message) -> None:
    result = project.upkeep_in_process("incident", *args)
    assert result.code == 2
    assert message in result.text
    assert not (project.evidence / "ledger.jsonl").exists() or not _incident_decisions(project)


def test_resume_needs_a_pause_and_a_resolved_incident_takes_no_more_events(project) -> None:
    incident_id = project.upkeep_in_process(
        "incident", "open", "x", "--severity", "P3"
    ).out.split()[1]
    resumed = project.upkeep_in_process("incident", "resume", incident_id, "-m", "x")
    assert resumed.code == 2 and "is not paused" in resumed.text
    assert project.upkeep_in_process("incident", "resolve", incident_id, "-m", "done").code == 0
    again = project.upkeep_in_process("incident", "ack", incident_id, "-m", "late")
    assert again.code == 2 and "is resolved" in again.text
    assert len(_incident_decisions(project)) == 2


def test_without_a_support_section_the_command_says_so(make_project) -> None:
    project = make_project("version: 1\n")
    result = project.upkeep_in_process("incident", "list")
    assert result.code == 2 and "support: not configured" in result.text


def test_an_incident_is_opened_from_a_failing_run(project: Project) -> None:
    project.add_runbook(
        "probe",
        [
            ("markdown", "# Probe"),
            ("code", "from upkeep import report\nreport.check('probe', 'fail')"),
        ],
    )
    run = project.upkeep("run", "probe")
    assert run.code == 1, run.text
    run_id = project.records()[0]["run_id"]
    opened = project.upkeep_in_process("incident", "open", "--from-run", run_id, "--severity", "P3")
    assert opened.code == 0, opened.text
    (event,) = _incident_decisions(project)
    assert event.details["run_id"] == run_id
    assert event.details["title"] == f"probe FAIL (run {run_id})"


def _record(store: EvidenceStore, subject: str, at: datetime, **details) -> None:
    store.record_decision(Decision(INCIDENT, subject, "ana", at, "test", details))


def _inbox(project: Project) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((project.root / "alerts-inbox").glob("*"))]


def test_the_sla_clock_warns_at_80_percent_then_escalates_at_the_breach(project) -> None:
    config = load_config(project.config)
    store = EvidenceStore(config.evidence_dir)
    start = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)  # a Saturday: P1 counts always
    _record(store, "INC-1", start, event="open", severity="P1", title="site down")
    _record(store, "INC-2", start, event="open", severity="P3", title="slow report")

    assert escalate(config, store, start + timedelta(minutes=23), print) == []
    warned = escalate(config, store, start + timedelta(minutes=24), print)
    assert [(s.incident, s.clock, s.state) for s in warned] == [("INC-1", "response", "warn")]
    assert escalate(config, store, start + timedelta(minutes=25), print) == []  # told once

    _record(store, "INC-1", start + timedelta(minutes=26), event="pause")
    _record(store, "INC-1", start + timedelta(minutes=40), event="resume")
    assert escalate(config, store, start + timedelta(minutes=43), print) == []  # paused 14 min
    breached = escalate(config, store, start + timedelta(minutes=44), print)
    assert [(s.clock, s.state, s.delivered) for s in breached] == [("response", "breached", True)]
    messages = _inbox(project)
    assert [m["state"] for m in messages] == ["warn", "breached"]
    assert messages[1]["title"].startswith("[SLA breached] INC-1 P1 response was due")
    assert "Escalate to the incident lead of schedule ops-oncall." in messages[1]["body"]
    told = [e.decision for e in store.decisions() if e.decision.type == "notification"]
    assert [d.details["sla"] for d in told] == ["response:warn", "response:breached"]

    # P3 counts business hours only: opened Saturday, its response is due Monday 13:00 Berlin
    incident = follow(incident_events(e.decision for e in store.decisions()))["INC-2"]
    response, _ = clocks(incident, config.support, start)
    assert response.due == datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def test_attainment_per_severity_counts_resolved_incidents_that_met_both_targets(project):
    config = load_config(project.config)
    store = EvidenceStore(config.evidence_dir)
    start = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    _record(store, "A", start, event="open", severity="P1", title="a")
    _record(store, "A", start + timedelta(minutes=10), event="ack")
    _record(store, "A", start + timedelta(hours=1), event="resolve")
    _record(store, "B", start, event="open", severity="P1", title="b")
    _record(store, "B", start + timedelta(hours=2), event="resolve")  # answered 90 min late
    incidents = follow(incident_events(e.decision for e in store.decisions())).values()
    month = attainment(
        incidents,
        config.support,
        datetime(2026, 11, 1, tzinfo=UTC),
        datetime(2026, 12, 1, tzinfo=UTC),
    )
    assert [(a.severity, a.resolved, a.met, a.percent) for a in month] == [
        ("P1", 2, 1, 50.0),
        ("P3", 0, 0, None),
    ]


def test_alerts_send_and_run_tell_the_targets_about_a_breached_clock_once(project) -> None:
    store = EvidenceStore(project.evidence)
    opened = datetime.now(UTC) - timedelta(hours=1)  # P1 counts always: response 30m breached
    _record(store, "INC-9", opened, event="open", severity="P1", title="site down")
    sent = project.upkeep_in_process("alerts", "send")
    assert sent.code == 0, sent.text
    assert "told inbox that INC-9's response SLA breached" in sent.out
    assert [m["clock"] for m in _inbox(project)] == ["response"]
    project.add_runbook("noop", [("code", "from upkeep import report\nreport.check('x', 'ok')")])
    run = project.upkeep("run", "noop")
    assert run.code == 0, run.text
    assert "sla: told" not in run.err  # told once already
    _record(store, "INC-10", opened, event="open", severity="P1", title="db down")
    run = project.upkeep("run", "noop")
    assert "upkeep: sla: told inbox INC-10 response breached" in run.err


def test_an_incident_of_a_severity_taken_out_of_the_config_blocks_no_other(project) -> None:
    # `alerts send` stopped at it (exit 2) and told nobody of the P1 breach beside it;
    # `incident list` stopped half-way.
    store = EvidenceStore(project.evidence)
    opened = datetime.now(UTC) - timedelta(hours=1)
    _record(store, "INC-3", opened, event="open", severity="P3", title="slow report")
    _record(store, "INC-4", opened, event="open", severity="P1", title="site down")
    project.config.write_text(
        project.config.read_text().replace("    P3: {response", "    P2: {response")
    )

    sent = project.upkeep_in_process("alerts", "send")
    listed = project.upkeep_in_process("incident", "list")
    site = project.upkeep("site", "build", timeout=300)

    assert sent.code == 0, sent.text
    assert "told inbox that INC-4's response SLA breached" in sent.out
    assert "INC-3: clocks not evaluated: support: no severity 'P3'" in sent.text
    assert listed.code == 0, listed.text
    assert (
        "INC-3 P3 open: slow report\n  clocks not evaluated: support: no severity 'P3'"
        in listed.out
    )
    assert "INC-4 P1 open: site down\n  response" in listed.out
    assert site.code == 0, site.text
    support = (project.root / "site" / "support" / "index.html").read_text()
    assert "not evaluated: no severity P3" in support


def test_a_secret_typed_into_a_title_or_reason_is_masked_in_the_ledger(project) -> None:
    token = "ghp_" + "abcdefghijklmnopqrstuvwxyz0123456789"
    opened = project.upkeep_in_process(
        "incident", "open", f"db password=hunter2-x9 and token {token} leaked", "--severity", "P3"
    )
    assert opened.code == 0, opened.text
    incident_id = opened.out.split()[1]
    paused = project.upkeep_in_process(
        "incident", "pause", incident_id, "-m", f"waiting; rotated password=hunter2-x9 {token}"
    )
    assert paused.code == 0, paused.text
    ledger = (project.evidence / "ledger.jsonl").read_text()
    assert "hunter2-x9" not in ledger and token not in ledger
    [opening, pause] = _incident_decisions(project)
    assert opening.details["title"].startswith("db password=«")  # masked, not dropped
    assert pause.reason.startswith("waiting; rotated password=«")
