"""Escalation: a failing critical runbook pages the levels in turn as `now` moves on (real
delivery to a local HTTP receiver), an acknowledgement by run id or fingerprint stops it (`upkeep
ack ... --by`), a recovery and a new failure page again, warn never pages, `upkeep watch` drives
it, the policy is checked at load, and the noise replay of the demo's synthetic month keeps the
shipped defaults at two pages or fewer per on-call shift with no fail-level problem missed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from helpers.alert_month import END, START, write_month
from helpers.project import REPO, Project
from test_alerts import PROBE_CELLS, _Receiver, receiver  # noqa: F401 (a fixture)

from upkeep.alerts import alert
from upkeep.alerts.escalate import PAGE, RunSeen, pages_due
from upkeep.alerts.replay import replay
from upkeep.config import load_config
from upkeep.config.escalation import Escalation, EscalationLevel, EscalationPolicy
from upkeep.evidence import EvidenceStore
from upkeep.records import Check, RunbookRef, RunRecord, Status

T0 = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)

CONFIG = """\
version: 1
timezone: UTC
evidence_dir: evidence
state_dir: state
runbooks_dir: runbooks
alerts:
  remind_every: never
  targets:
    - {name: chat, url: 'env:CHAT_URL', schedule: ops-oncall}
    - {name: lead-inbox, inbox: lead-inbox}
escalation:
  critical: [probe]
  fail:
    repeat: 1
    levels:
      - {page: 'oncall:ops-oncall', targets: [chat], wait: 30m}
      - {page: ops-lead, targets: [lead-inbox], wait: 1h}
"""


@pytest.fixture
def project(make_project, monkeypatch: pytest.MonkeyPatch, receiver: _Receiver) -> Project:  # noqa: F811
    host, port = receiver.server_address[:2]
    monkeypatch.setenv("CHAT_URL", f"json://{host}:{port}/hook")
    made = make_project(CONFIG)
    (made.root / "oncall.yml").write_text(
        "schedules:\n  - name: ops-oncall\n    layers:\n      - {name: solo, people: [ana],"
        " start: '2026-01-05 09:00'}\n"
    )
    made.add_runbook("probe", PROBE_CELLS, params='outcome = "ok"\n')
    return made


def _run(project: Project, status: Status, at: datetime, name: str = "probe") -> str:
    store = EvidenceStore(project.evidence)
    record = RunRecord(
        run_id=f"{at:%Y%m%dT%H%M%SZ}-{name}-{at.minute:04x}",
        runbook=RunbookRef(name, name.title(), f"runbooks/daily/{name}.ipynb"),
        status=status,
        started_at=at,
        ended_at=at + timedelta(seconds=5),
        as_of=at,
        checks=(Check("probe:disk", Status.FAIL if status is Status.ERROR else status),),
    )
    store.publish(store.new_staging(record.run_id), record)
    return record.run_id


def _page_records(project: Project) -> list[dict]:
    return [
        dict(d.decision.details)
        for d in EvidenceStore(project.evidence).decisions()
        if d.decision.type == PAGE
    ]


def _evaluate(project: Project, at: datetime, kinds: tuple[str, ...] = ("page",)) -> list[str]:
    """Evaluate at `at`; `kind:target` of each message of `kinds` delivered."""
    config = load_config(str(project.config))
    sent = alert(config, EvidenceStore(config.evidence_dir), at)
    return [f"{s.kind}:{s.target}" for s in sent if s.delivered and s.kind in kinds]


def test_a_failing_critical_runbook_pages_level_after_level_until_the_policy_ends(
    project: Project,
    receiver: _Receiver,  # noqa: F811
) -> None:
    _run(project, Status.OK, T0 - timedelta(days=1))
    failing = _run(project, Status.FAIL, T0)
    assert _evaluate(project, T0, ("worse", "page")) == [
        "worse:chat",
        "worse:lead-inbox",
        "page:chat",
    ]
    [(path, page)] = [post for post in receiver.posts if "PAGE" in post[1]["title"]]
    assert path == "/hook"
    assert page["title"] == "[PAGE FAIL] probe: ana paged (level 1)"
    assert f"upkeep ack {failing} --by NAME" in page["message"]
    assert "First action: restart the thing service" in page["message"]
    assert _evaluate(project, T0 + timedelta(minutes=29)) == []
    assert _evaluate(project, T0 + timedelta(minutes=30)) == ["page:lead-inbox"]
    inbox = [json.loads(p.read_text()) for p in (project.root / "lead-inbox").glob("*.json")]
    [lead] = [message for message in inbox if message["kind"] == "page"]
    assert lead["title"] == "[PAGE FAIL] probe: ops-lead paged (level 2)" and lead["level"] == 2
    assert "Paged: ops-lead (level 2)." in lead["body"] and "On call:" not in lead["body"]
    assert _evaluate(project, T0 + timedelta(minutes=89)) == []
    assert _evaluate(project, T0 + timedelta(minutes=90)) == ["page:chat"]  # round 2
    assert _evaluate(project, T0 + timedelta(minutes=120)) == ["page:lead-inbox"]
    assert _evaluate(project, T0 + timedelta(days=1)) == []  # the policy has ended
    records = _page_records(project)
    assert [(r["level"], r["round"], r["who"]) for r in records] == [
        (1, 0, "ana"),
        (2, 0, "ops-lead"),
        (1, 1, "ana"),
        (2, 1, "ops-lead"),
    ]
    assert {r["opening"] for r in records} == {failing}
    assert project.upkeep_in_process("verify").code == 0


@pytest.mark.parametrize("key", ["run", "alert:probe"])
def test_an_ack_by_run_id_or_fingerprint_stops_the_escalation_on_record(
    project: Project, key: str
) -> None:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=6)
    failing = _run(project, Status.FAIL, start)
    assert _evaluate(project, start) == ["page:chat"]
    later = _run(project, Status.FAIL, start + timedelta(minutes=10))  # still failing: same streak
    subject = failing if key == "run" else key
    acked = project.upkeep_in_process("ack", subject, "--by", "ana")
    assert acked.code == 0, acked.err
    assert f"acknowledged {subject} as ana: probe's escalation stops" in acked.out
    assert _evaluate(project, datetime.now(UTC) + timedelta(hours=3)) == []
    [ack] = [
        d.decision
        for d in EvidenceStore(project.evidence).decisions()
        if d.decision.type == "acknowledge-alert"
    ]
    assert (ack.subject, ack.author) == (subject, "ana")
    # Recovered, then failing anew: a new streak pages again, whatever was acknowledged.
    again = datetime.now(UTC) + timedelta(hours=4)
    _run(project, Status.OK, again)
    _run(project, Status.FAIL, again + timedelta(hours=1))
    assert _evaluate(project, again + timedelta(hours=1, minutes=1)) == ["page:chat"]
    assert later != failing


def test_a_second_ack_of_a_stopped_escalation_says_who_stopped_it(project: Project) -> None:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=6)
    failing = _run(project, Status.FAIL, start)
    first = project.upkeep_in_process("ack", failing, "--by", "ana")
    assert "probe's escalation stops" in first.out, first.err
    [recorded] = [
        d.decision
        for d in EvidenceStore(project.evidence).decisions()
        if d.decision.type == "acknowledge-alert"
    ]
    again = project.upkeep_in_process("ack", "alert:probe", "--by", "bo")
    assert again.code == 0, again.err
    at = recorded.at.strftime("%Y-%m-%d %H:%M:%S UTC")  # the project's zone is UTC
    assert (
        f"acknowledged alert:probe as bo: probe's escalation had already stopped: ana"
        f" acknowledged {failing} at {at}; ledger line"
    ) in again.out
    assert "escalation stops" not in again.out
    acks = [
        (d.decision.subject, d.decision.author)
        for d in EvidenceStore(project.evidence).decisions()
        if d.decision.type == "acknowledge-alert"
    ]
    assert acks == [(failing, "ana"), ("alert:probe", "bo")]  # recorded all the same


def test_an_error_pages_as_a_fail_and_a_warning_never_pages(project: Project) -> None:
    config = project.config.read_text().replace(
        "- {name: lead-inbox, inbox: lead-inbox}",
        "- {name: lead-inbox, inbox: lead-inbox, statuses: [warn, fail, error]}",
    )
    project.config.write_text(config)
    _run(project, Status.WARN, T0)
    assert _evaluate(project, T0, ("worse", "page")) == ["worse:lead-inbox"]  # told, not paged
    assert _evaluate(project, T0 + timedelta(days=2)) == []
    assert _page_records(project) == []
    _run(project, Status.ERROR, T0 + timedelta(days=2))
    assert "page:chat" in _evaluate(project, T0 + timedelta(days=2, minutes=1))


def test_a_runbook_that_is_not_critical_never_pages(project: Project) -> None:
    _run(project, Status.FAIL, T0, name="other")
    assert _evaluate(project, T0, ("worse", "page")) == ["worse:chat", "worse:lead-inbox"]
    assert _page_records(project) == []


def test_upkeep_watch_sends_the_pages_due(project: Project) -> None:
    _run(project, Status.FAIL, datetime.now(UTC) - timedelta(minutes=5))
    project.upkeep_in_process("watch")
    assert [r["level"] for r in _page_records(project)] == [1]


def test_upkeep_watch_that_cannot_evaluate_the_alerts_fails(project: Project) -> None:
    # The dead man's switch said "not evaluated" and exited 0: nobody paged, all well.
    _run(project, Status.FAIL, datetime.now(UTC) - timedelta(minutes=5))
    locks = project.root / "state" / "locks"
    locks.parent.mkdir(parents=True, exist_ok=True)
    locks.write_text("a file where the lock folder goes\n")
    result = project.upkeep_in_process("watch")
    assert result.code == 3, result.text
    assert f"upkeep: alerts: not evaluated: {locks}: File exists (errno 17, EEXIST)" in result.err
    assert _page_records(project) == []


def test_ack_refuses_a_fingerprint_of_no_critical_runbook_and_records_nothing(
    project: Project,
) -> None:
    _run(project, Status.FAIL, T0)
    refused = project.upkeep_in_process("ack", "alert:nope", "--by", "ana")
    assert refused.code == 2
    assert "alert:nope: no critical runbook 'nope'" in refused.err
    assert EvidenceStore(project.evidence).decisions() == []


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            "escalation:\n  critical: [x]\n  warn:\n    levels: []\n",
            "escalation.warn: expected no policy for warn: a warning never pages",
        ),
        ("escalation:\n  critical: [x]\n", "escalation.fail: expected a policy for fail"),
        (
            "escalation:\n  critical: [x]\n  fail:\n    levels:\n      - {page: 'oncall:nights',"
            " targets: [inbox]}\n",
            "escalation.fail.levels[0].page: no on-call schedule 'nights'",
        ),
        (
            "escalation:\n  fail:\n    levels:\n      - {page: lead, targets: [pager]}\n",
            "escalation.fail.levels[0].targets: expected names of alerts.targets (inbox), "
            "got pager",
        ),
        (
            "escalation:\n  fail:\n    levels:\n      - {page: lead, targets: [inbox], "
            "wait: soon}\n",
            "escalation.fail.levels[0].wait: expected a period such as 15m",
        ),
        (  # OverflowError escaped from timedelta: exit 3, "internal error"
            "escalation:\n  fail:\n    levels:\n      - {page: lead, targets: [inbox], "
            "wait: 99999999999999m}\n",
            "escalation.fail.levels[0].wait: expected a period such as 15m",
        ),
        (
            "escalation:\n  fail:\n    repeat: -1\n    levels:\n"
            "      - {page: lead, targets: [inbox]}\n",
            "escalation.fail.repeat: expected an integer from 0 to 100, got -1",
        ),
        (
            # 100000000 passed `upkeep check`, then a failing run took minutes to page
            "escalation:\n  fail:\n    repeat: 100000000\n    levels:\n"
            "      - {page: lead, targets: [inbox]}\n",
            "escalation.fail.repeat: expected an integer from 0 to 100, got 100000000",
        ),
    ],
)
def test_a_malformed_escalation_policy_is_refused_naming_the_key(
    make_project, section: str, message: str
) -> None:
    project = make_project(
        "version: 1\nrunbooks_dir: runbooks\nalerts:\n  targets:\n    - {name: inbox, inbox: x}\n"
        + section
    )
    result = project.upkeep_in_process("check")
    assert result.code == 2
    assert message in result.err


def test_pages_due_waits_for_each_level_and_counts_from_the_first_page() -> None:
    levels = (
        EscalationLevel("oncall:s", ("a",), timedelta(minutes=10)),
        EscalationLevel("lead", ("b",), timedelta(minutes=20)),
    )
    escalation = Escalation(frozenset({"x"}), ((Status.FAIL, EscalationPolicy(levels, 0)),))
    runs = [RunSeen("r1", Status.FAIL, T0)]
    [first] = pages_due(escalation, "x", runs, [], [], T0 + timedelta(hours=2))
    assert (first.level, first.round) == (0, 0)  # the first page goes out when first evaluated
    assert pages_due(escalation, "x", [RunSeen("r1", Status.WARN, T0)], [], [], T0) == []


# --- the noise replay --------------------------------------------------------------------------


def test_the_shipped_defaults_page_at_most_twice_a_shift_on_the_demo_month_and_miss_nothing(
    tmp_path: Path,
) -> None:
    store = EvidenceStore(tmp_path / "evidence")
    month = write_month(store)
    config = load_config(str(REPO / "upkeep.yml"))
    result = replay(config, store, START, END, timedelta(minutes=15))
    assert result.most_in_a_shift <= 2
    assert result.missed == []
    assert sorted({page.opening for page in result.pages}) == sorted(month.failing_critical)
    needing = {page.opening for page in result.pages if page.needed_action}
    assert needing == set(month.needing_action)
    # acknowledged streaks page level 1 only; the unanswered one reaches level 2
    levels = {(p.runbook, p.level) for p in result.pages}
    assert ("health-check", 2) in levels and ("backup", 2) not in levels
    assert all(page.runbook != "cleaning" for page in result.pages)  # not critical


def test_upkeep_alerts_replay_reports_pages_per_shift(make_project, tmp_path: Path) -> None:
    shipped = yaml.safe_load((REPO / "upkeep.yml").read_text())
    policy = {key: shipped[key] for key in ("timezone", "alerts", "escalation")}
    project = make_project("version: 1\nrunbooks_dir: runbooks\n" + yaml.safe_dump(policy))
    (project.root / "oncall.yml").write_text((REPO / "oncall.yml").read_text())
    write_month(EvidenceStore(project.evidence))
    result = project.upkeep_in_process(
        "alerts", "replay", "--from", "2026-11-01", "--to", "2026-12-01"
    )
    assert result.code == 0, result.err
    assert "5 pages, 2 for problems that later needed action; at most 1 in one on-call shift" in (
        result.out
    )
    assert "no fail-level problem of a critical runbook was missed" in result.out
    as_json = project.upkeep_in_process(
        "alerts", "replay", "--from", "2026-11-01", "--to", "2026-12-01", "--json"
    )
    document = json.loads(as_json.out)
    assert document["most_in_a_shift"] == 1 and document["missed"] == []
    assert sum(shift["pages"] for shift in document["shifts"]) == 4  # one went to ops-lead
    bad = project.upkeep_in_process(
        "alerts", "replay", "--from", "2026-12-01", "--to", "2026-11-01"
    )
    assert bad.code == 2 and "--to" in bad.err
    # The future has no runs yet: replaying it made up pages.
    future = project.upkeep_in_process(
        "alerts", "replay", "--from", "2026-11-01", "--to", "2099-01-01"
    )
    assert future.code == 2 and "Invalid value for --to: expected a time up to now" in future.err
    garbage = project.upkeep_in_process("alerts", "replay", "--from", "soon", "--to", "2026-12-01")
    assert garbage.code == 2 and "Invalid value for --from" in garbage.err  # it said --at


def test_the_replay_holds_back_what_a_silence_held_and_names_a_real_miss(
    make_project, tmp_path: Path
) -> None:
    """A silence recorded during the month holds back the page it would have sent, as the live
    evaluation does (listed as held back, not missed); a policy that pages only for `error`
    misses a failing critical runbook, and the replay says so and exits 1."""
    policy = CONFIG.replace("critical: [probe]", "critical: [probe, other]")
    project = make_project(policy.replace("  fail:\n", "  error:\n"))
    (project.root / "oncall.yml").write_text(
        "schedules:\n  - name: ops-oncall\n    layers:\n      - {name: solo, people: [ana],"
        " start: '2026-01-05 09:00'}\n"
    )
    store = EvidenceStore(project.evidence)
    _run(project, Status.OK, T0 - timedelta(days=1))
    from upkeep.alerts.suppression import silence

    silence(
        store,
        "runbook",
        "probe",
        until=T0 + timedelta(hours=6),
        author="ana",
        reason="disk swap",
        now=T0 - timedelta(hours=1),
    )
    held = _run(project, Status.ERROR, T0)
    _run(project, Status.OK, T0 + timedelta(hours=2))  # cleared inside the silence
    paged = _run(project, Status.ERROR, T0 + timedelta(days=1))  # after it: pages
    failed = _run(project, Status.FAIL, T0 + timedelta(days=2), name="other")
    config = load_config(project.config)

    result = replay(
        config, store, T0 - timedelta(days=2), T0 + timedelta(days=3), timedelta(minutes=5)
    )

    assert {page.opening for page in result.pages} == {paged}
    # no run ended that streak: it was labelled "cleared by itself"
    assert all(page.still_failing and not page.needed_action for page in result.pages)
    assert list(result.held) == [("probe", held)]
    assert "silenced (runbook probe) by ana" in result.held[("probe", held)]
    assert [run.run_id for run in result.missed] == [failed]
    cli = project.upkeep_in_process(
        "alerts", "replay", "--from", "2026-12-02", "--to", "2026-12-07"
    )
    assert cli.code == 1 and f"MISSED: {failed} (fail) was never paged" in cli.err
    assert "still failing (no run since)" in cli.out and "cleared by itself" not in cli.out
    assert f"held back: probe ({held}): silenced (runbook probe)" in cli.out


def test_pages_in_a_gap_of_the_rota_count_in_their_shift(project: Project) -> None:
    # Pages that reached nobody (no layer answers yet) were summed as "at most 0 in one on-call
    # shift" although they went out.
    (project.root / "oncall.yml").write_text(
        "schedules:\n  - name: ops-oncall\n    layers:\n      - {name: solo, people: [ana],"
        " start: '2026-12-10 09:00'}\n"  # a rota that starts after the failure
    )
    store = EvidenceStore(project.evidence)
    _run(project, Status.FAIL, T0)
    config = load_config(project.config)
    result = replay(
        config, store, T0 - timedelta(hours=1), T0 + timedelta(hours=5), timedelta(minutes=5)
    )
    to_nobody = [page for page in result.pages if page.who == "NOBODY"]
    assert len(to_nobody) >= 2  # the first level, then its repeat round
    assert result.most_in_a_shift == len(to_nobody)
    [gap] = [item for item in result.shifts if item.shift.answer.who is None]
    assert gap.pages == len(to_nobody)
