"""Silences: `upkeep silence add|list|expire` keep people's decisions in the evidence ledger; a
silenced runbook's or check's alerts are not sent while the silence lasts, and are once it expires
or is expired by hand; bad input is refused with exit 2 and nothing recorded."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from helpers.project import Project

from upkeep.records import Status

CELLS = [("markdown", "# Probe\n"), ("code", "from upkeep import report\n")]


@pytest.fixture
def project(make_project) -> Project:
    made = make_project(
        """\
        version: 1
        timezone: Europe/Berlin
        evidence_dir: evidence
        state_dir: state
        runbooks_dir: runbooks
        alerts:
          targets:
            - {name: inbox, inbox: alerts-inbox}
        """
    )
    made.add_runbook("probe", CELLS)
    return made


def _failing_run(project: Project, checks: dict[str, Status]) -> None:
    """One failing run of `probe` with these checks, published through the evidence API."""
    from upkeep.evidence import EvidenceStore
    from upkeep.records import Check, RunbookRef, RunRecord

    store = EvidenceStore(project.evidence)
    started = datetime.now(UTC) - timedelta(minutes=10)
    record = RunRecord(
        run_id=f"{started:%Y%m%dT%H%M%SZ}-probe-0001",
        runbook=RunbookRef("probe", "Probe", "runbooks/daily/probe.ipynb"),
        status=Status.FAIL,
        started_at=started,
        ended_at=started + timedelta(seconds=5),
        as_of=started,
        checks=tuple(Check(name, status) for name, status in checks.items()),
    )
    store.publish(store.new_staging(record.run_id), record)


def _alert(project: Project, at: datetime) -> tuple[list[str], list[str]]:
    """What alerting sent at `at` (kinds) and what it said about what it held back."""
    from upkeep.alerts import alert
    from upkeep.config import load_config
    from upkeep.evidence import EvidenceStore

    config = load_config(str(project.config))
    said: list[str] = []
    sent = alert(config, EvidenceStore(config.evidence_dir), at, said.append)
    return [item.kind for item in sent], said


def _inbox(project: Project) -> list[dict]:
    folder = project.root / "alerts-inbox"
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


def _add(project: Project, *args: str) -> str:
    result = project.upkeep_in_process("silence", "add", *args, "--author", "ana")
    assert result.code == 0, result.text
    return result.out.rsplit("id ", 1)[1].strip()


def test_a_silenced_runbook_is_not_alerted_until_the_silence_expires(project: Project) -> None:
    _failing_run(project, {"probe:disk": Status.FAIL})
    _add(project, "runbook", "probe", "--until", "2h", "--reason", "disk swap, INC-42")
    now = datetime.now(UTC)

    kinds, said = _alert(project, now)
    assert kinds == [] and not (project.root / "alerts-inbox").exists()
    assert "probe: not sent, silenced (runbook probe) by ana" in said[0]
    assert "disk swap, INC-42" in said[0]

    listed = project.upkeep_in_process("silence", "list")
    assert "runbook probe" in listed.out and "active" in listed.out

    # two hours later the silence has expired: the alert goes out, once
    kinds, said = _alert(project, now + timedelta(hours=2, minutes=1))
    assert kinds == ["worse"] and said == []
    assert [m["kind"] for m in _inbox(project)] == ["worse"]
    assert _alert(project, now + timedelta(hours=2, minutes=2))[0] == []


def test_a_silence_expired_by_hand_stops_suppressing_and_is_kept_on_record(
    project: Project,
) -> None:
    _failing_run(project, {"probe:disk": Status.FAIL})
    record_id = _add(project, "runbook", "probe", "--until", "1w", "--reason", "noisy")
    assert _alert(project, datetime.now(UTC))[0] == []

    ended = project.upkeep_in_process("silence", "expire", record_id, "--reason", "fixed")
    assert ended.code == 0, ended.text
    assert _alert(project, datetime.now(UTC) + timedelta(seconds=1))[0] == ["worse"]

    assert "no active silences" in project.upkeep_in_process("silence", "list").out
    [item] = json.loads(project.upkeep_in_process("silence", "list", "--all", "--json").out)
    assert (item["id"], item["active"], item["author"]) == (record_id, False, "ana")
    decisions = [
        json.loads(line)
        for line in (project.evidence / "ledger.jsonl").read_text().splitlines()
        if '"decision"' in line
    ]
    assert [d["decision"]["type"] for d in decisions][:2] == ["silence", "silence-expired"]
    assert project.upkeep_in_process("verify").code == 0

    again = project.upkeep_in_process("silence", "expire", record_id)
    assert again.code == 2 and f"no active silence {record_id!r}" in again.err


def test_check_silences_suppress_only_when_every_check_that_is_not_ok_is_silenced(
    project: Project,
) -> None:
    _failing_run(project, {"probe:disk": Status.FAIL, "probe:load": Status.WARN})
    _add(project, "check", "probe:disk", "--until", "1d", "--reason", "new disk on order")
    now = datetime.now(UTC)
    assert _alert(project, now)[0] == ["worse"]  # probe:load is not silenced

    _failing_run_later(project)
    assert _alert(project, now + timedelta(minutes=1))[0] == []


def _failing_run_later(project: Project) -> None:
    """A newer run where only the silenced check fails."""
    from upkeep.evidence import EvidenceStore
    from upkeep.records import Check, RunbookRef, RunRecord

    store = EvidenceStore(project.evidence)
    started = datetime.now(UTC) - timedelta(minutes=5)
    record = RunRecord(
        run_id=f"{started:%Y%m%dT%H%M%SZ}-probe-0002",
        runbook=RunbookRef("probe", "Probe", "runbooks/daily/probe.ipynb"),
        status=Status.FAIL,
        started_at=started,
        ended_at=started + timedelta(seconds=5),
        as_of=started,
        checks=(Check("probe:disk", Status.FAIL), Check("probe:load", Status.OK)),
    )
    store.publish(store.new_staging(record.run_id), record)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("runbook", "nope", "--until", "1d", "--reason", "x"), "no runbook 'nope'"),
        (("runbook", "probe", "--until", "soon", "--reason", "x"), "--until: expected a period"),
        (("runbook", "probe", "--until", "1d", "--reason", " "), "--reason: expected why"),
        (
            ("runbook", "probe", "--until", "2020-01-01T00:00", "--reason", "x"),
            "--until: expected a moment after now",
        ),
    ],
)
def test_bad_input_is_refused_naming_what_and_nothing_is_recorded(
    project: Project, args: tuple[str, ...], message: str
) -> None:
    result = project.upkeep_in_process("silence", "add", *args)
    assert result.code == 2 and message in result.err
    assert not (project.evidence / "ledger.jsonl").exists()


def test_until_takes_a_date_time_in_the_configured_time_zone(project: Project) -> None:
    from upkeep.alerts.suppression import parse_until

    now = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
    assert parse_until("1d", now) == now + timedelta(days=1)
    assert parse_until("2026-12-24T08:00+01:00", now).astimezone(UTC).hour == 7
    assert parse_until("2026-12-24T08:00", now).tzinfo is UTC
