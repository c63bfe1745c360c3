"""Silences: `upkeep silence add|list|expire` keep people's decisions in the evidence ledger; a
silenced runbook's or check's alerts are not sent while the silence lasts, and are once it expires
or is expired by hand; bad input is refused with exit 2 and nothing recorded."""

from __future__ import annotations

import json
import textwrap
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
    assert "probe: not sent to inbox, silenced (runbook probe) by ana" in said[0]
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


def test_a_check_no_last_run_reported_is_silenced_with_a_note(project: Project) -> None:
    _failing_run(project, {"probe:disk": Status.FAIL})
    seen = project.upkeep_in_process(
        "silence", "add", "check", "probe:disk", "--until", "1d", "--reason", "x"
    )
    assert seen.code == 0 and "note:" not in seen.err
    typo = project.upkeep_in_process(
        "silence", "add", "check", "probe:dsik", "--until", "1d", "--reason", "x"
    )
    assert typo.code == 0, typo.text
    assert "no runbook's last run reported a check named 'probe:dsik'" in typo.err


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
        # A check name no run can report silenced nothing, unseen.
        *(
            (("check", name, "--until", "1d", "--reason", "x"), f"got {name!r}")
            for name in ("", "  ", "probe:disk\nprobe:load", " probe:disk", "probe:disk\t")
        ),
        # A period or a date-time past 9998 overflowed: an internal error with a traceback.
        (
            ("runbook", "probe", "--until", "99999999999999d", "--reason", "x"),
            "--until: expected a moment no later than the year 9998, got '99999999999999d'",
        ),
        (
            ("runbook", "probe", "--until", "9999-12-31T23:00-12:00", "--reason", "x"),
            "--until: expected a moment no later than the year 9998",
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


# --- maintenance windows -----------------------------------------------------------------------

WEEKLY = """\
version: 1
timezone: Europe/Berlin
evidence_dir: evidence
state_dir: state
runbooks_dir: runbooks
maintenance_windows:
  - {name: sunday-night, days: [sun], start: "01:00", duration: 3h}
  - {name: late-saturday, days: [sat], start: "23:00", duration: 3h, runbooks: [probe],
     timezone: America/New_York}
"""


def _windows(make_project, text: str = WEEKLY):
    from upkeep.config import load_config

    project = make_project(text)
    return load_config(str(project.config)).maintenance_windows


@pytest.mark.parametrize(
    ("at", "open_name"),
    [
        # winter (CET, UTC+1): Sunday 01:00-04:00 local is 00:00-03:00 UTC
        (datetime(2026, 3, 22, 0, 0, tzinfo=UTC), "sunday-night"),
        (datetime(2026, 3, 21, 23, 59, tzinfo=UTC), None),
        (datetime(2026, 3, 22, 2, 59, tzinfo=UTC), "sunday-night"),
        (datetime(2026, 3, 22, 3, 0, tzinfo=UTC), None),
        # the night the clocks go forward: opens 01:00 CET, lasts three hours of elapsed time
        (datetime(2026, 3, 29, 0, 0, tzinfo=UTC), "sunday-night"),
        (datetime(2026, 3, 29, 2, 59, tzinfo=UTC), "sunday-night"),
        (datetime(2026, 3, 29, 3, 0, tzinfo=UTC), None),
        # summer (CEST, UTC+2): still 01:00 local, now 23:00 UTC on Saturday
        (datetime(2026, 4, 4, 22, 59, tzinfo=UTC), None),
        (datetime(2026, 4, 4, 23, 0, tzinfo=UTC), "sunday-night"),
        (datetime(2026, 4, 5, 2, 0, tzinfo=UTC), None),
        # the night the clocks go back: 01:00 CEST, three hours to 03:00 CET
        (datetime(2026, 10, 24, 23, 0, tzinfo=UTC), "sunday-night"),
        (datetime(2026, 10, 25, 1, 59, tzinfo=UTC), "sunday-night"),
        (datetime(2026, 10, 25, 2, 0, tzinfo=UTC), None),
    ],
)
def test_a_weekly_window_keeps_its_local_time_across_daylight_saving_changes(
    make_project, at: datetime, open_name: str | None
) -> None:
    from upkeep.config.windows import open_window

    window = open_window(_windows(make_project)[:1], "anything", at)
    assert (window.name if window else None) == open_name


def test_a_window_reaching_past_midnight_and_its_runbooks(make_project) -> None:
    from upkeep.config.windows import open_window

    windows = _windows(make_project)[1:]
    # Saturday 23:00 New York (EST, UTC-5) is Sunday 04:00 UTC; open until 07:00 UTC
    sunday_early = datetime(2026, 12, 6, 6, 30, tzinfo=UTC)
    assert open_window(windows, "probe", sunday_early) is not None
    assert open_window(windows, "other", sunday_early) is None  # not one of its runbooks
    assert open_window(windows, "probe", datetime(2026, 12, 6, 7, 0, tzinfo=UTC)) is None
    assert open_window(windows, "probe", datetime(2026, 12, 6, 3, 59, tzinfo=UTC)) is None


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ("{name: w, days: [sunday], start: '01:00', duration: 3h}", "maintenance_windows[0].days"),
        ("{name: w, days: [sun], start: '25:00', duration: 3h}", "maintenance_windows[0].start"),
        ("{name: w, days: [sun], start: '01:00', duration: 3x}", "[0].duration: expected a dur"),
        ("{name: w, from: '2026-12-20 22:00', until: '2026-12-20 21:00'}", "[0].until: expected"),
        ("{name: w, days: [sun], start: '01:00', duration: 3h, timezone: Mars/Olympus}", "timez"),
        ("{name: w, days: [sun], start: '01:00', duration: 3h, every: week}", "[0].every: unkn"),
    ],
)
def test_a_malformed_window_is_refused_naming_the_key(
    make_project, window: str, message: str
) -> None:
    project = make_project(
        f"version: 1\nevidence_dir: evidence\nstate_dir: state\nrunbooks_dir: runbooks\n"
        f"maintenance_windows:\n  - {window}\n"
    )
    result = project.upkeep_in_process("list")
    assert result.code == 2 and message in result.err


def test_an_open_window_holds_back_its_runbooks_alerts(make_project) -> None:
    now = datetime.now(UTC)
    project = make_project(
        f"""\
        version: 1
        evidence_dir: evidence
        state_dir: state
        runbooks_dir: runbooks
        alerts:
          targets:
            - {{name: inbox, inbox: alerts-inbox}}
        maintenance_windows:
          - name: disk-swap
            from: "{(now - timedelta(hours=1)).isoformat()}"
            until: "{(now + timedelta(hours=1)).isoformat()}"
            runbooks: [probe]
        """
    )
    project.add_runbook("probe", CELLS)
    _failing_run(project, {"probe:disk": Status.FAIL})
    kinds, said = _alert(project, now)
    assert kinds == [] and said == [
        "alerts: probe: not sent to inbox, inside maintenance window disk-swap "
        "(maintenance_windows in upkeep.yml)"
    ]
    # once the window has closed, a runbook still failing is told about
    assert _alert(project, now + timedelta(hours=1, minutes=1))[0] == ["worse"]


@pytest.mark.slow
def test_a_window_only_runbook_is_skipped_outside_a_window_and_runs_inside_one(
    make_project,
) -> None:
    now = datetime.now(UTC)
    config = """\
        version: 1
        evidence_dir: evidence
        state_dir: state
        runbooks_dir: runbooks
        maintenance_windows:
          - {{name: swap, from: "{start}", until: "{end}", runbooks: [swap-disks]}}
        """
    past = config.format(
        start=(now - timedelta(days=2)).isoformat(), end=(now - timedelta(days=1)).isoformat()
    )
    project = make_project(past)
    project.add_runbook(
        "swap-disks",
        [("code", "from upkeep import report\nreport.check('swap:done', 'ok')")],
        meta={"window": "required"},
    )
    outside = project.upkeep("run", "swap-disks")
    [record] = project.records()
    assert record["status"] == "skipped" and outside.code == 0, outside.text
    assert "SKIPPED" in outside.err
    assert "outside every maintenance window" in record["skipped_reason"]
    assert "swap:done" not in json.dumps(record)

    inside = config.format(
        start=(now - timedelta(hours=1)).isoformat(), end=(now + timedelta(hours=1)).isoformat()
    )
    project.config.write_text(textwrap.dedent(inside))
    ran = project.upkeep("run", "swap-disks")
    assert ran.code == 0, ran.text
    assert [r["status"] for r in project.records()] == ["skipped", "ok"]


def test_window_takes_only_required(make_project) -> None:
    project = make_project("version: 1\nrunbooks_dir: runbooks\n")
    project.add_runbook("probe", CELLS, meta={"window": "sometimes"})
    result = project.upkeep_in_process("list")
    assert result.code == 2 and "metadata.upkeep.window: expected 'required'" in result.err


def test_the_site_lists_windows_and_silences_active_ones_first(make_project) -> None:
    from types import SimpleNamespace

    from upkeep.config import load_config
    from upkeep.evidence import EvidenceStore
    from upkeep.site.silences import silences_page

    project = make_project(WEEKLY.replace("evidence_dir", "alerts: {}\nevidence_dir"))
    project.add_runbook("probe", CELLS)
    first = _add(project, "runbook", "probe", "--until", "1d", "--reason", "old | noisy")
    project.upkeep_in_process("silence", "expire", first, "--author", "bo")
    _add(project, "check", "probe:disk", "--until", "2d", "--reason", "disk on order")
    config = load_config(str(project.config))
    model = SimpleNamespace(config=config, decisions=EvidenceStore(project.evidence).decisions())
    page = silences_page(model, datetime(2026, 12, 6, 0, 30, tzinfo=UTC))  # type: ignore[arg-type]

    assert (
        "| sunday-night | sun from 01:00 for 3 h (Europe/Berlin) | every runbook | **open** |"
        in page
    )
    assert "| late-saturday | sat from 23:00 for 3 h (America/New_York) | probe | closed |" in page
    # The silences began at the real now: whether one is active is judged then (the fixed
    # Sunday above, which the windows need, is before them from 2026-12-06 00:30 UTC on).
    page = silences_page(model, datetime.now(UTC))  # type: ignore[arg-type]
    rows = [line for line in page.splitlines() if line.startswith(("| check", "| runbook"))]
    assert rows[0].startswith("| check <code>probe:disk</code>") and "disk on order" in rows[0]
    assert "expired (ended by bo)" in rows[1] and "old &#124; noisy" in rows[1]


def test_a_silence_about_to_end_is_announced_to_the_targets_once(project: Project) -> None:
    from upkeep.alerts.suppression import announce_ending
    from upkeep.config import load_config
    from upkeep.evidence import EvidenceStore

    soon = _add(project, "check", "disk:/var", "--until", "2h", "--reason", "new disk on order")
    later = _add(project, "runbook", "probe", "--until", "3d", "--reason", "migration")

    sent = project.upkeep_in_process("alerts", "send")
    assert sent.code == 0 and f"the silence {soon} ends soon" in sent.out
    [told] = _inbox(project)
    assert told["kind"] == "silence-ending" and told["silence"] == soon
    assert told["title"].startswith("[SILENCE ENDING] check disk:/var is alerted on again from")
    assert "new disk on order" in told["body"]
    again = project.upkeep_in_process("alerts", "send")
    assert "nothing to send" in again.out and len(_inbox(project)) == 1

    # two days on, the runbook silence is within a day of its end: told once, too
    config = load_config(str(project.config))
    store = EvidenceStore(config.evidence_dir)
    in_two_days = datetime.now(UTC) + timedelta(days=2, hours=1)
    assert [s.record_id for s in announce_ending(config, store, in_two_days)] == [later]
    assert announce_ending(config, store, in_two_days) == []
    assert [m.get("silence") for m in _inbox(project)] == [soon, later]


def test_a_silenced_critical_runbook_does_not_page_until_the_silence_expires(
    make_project,
) -> None:
    project = make_project(
        """\
        version: 1
        evidence_dir: evidence
        state_dir: state
        runbooks_dir: runbooks
        alerts:
          targets:
            - {name: inbox, inbox: alerts-inbox}
        escalation:
          critical: [probe]
          fail:
            levels:
              - {page: ops-lead, targets: [inbox], wait: 30m}
        """
    )
    project.add_runbook("probe", CELLS)
    _failing_run(project, {"probe:disk": Status.FAIL})
    _add(project, "runbook", "probe", "--until", "1h", "--reason", "disk swap")
    now = datetime.now(UTC)
    assert _alert(project, now)[0] == []  # neither told nor paged
    later = _alert(project, now + timedelta(hours=1, minutes=1))[0]
    assert sorted(later) == ["page", "worse"], later


def test_a_silence_of_the_alert_fingerprint_holds_back_that_runbook_only(
    project: Project,
) -> None:
    """The fingerprint alert messages and `upkeep ack` name (`alert:RUNBOOK`) can be silenced as
    pasted from the message; a fingerprint of no runbook, or not a fingerprint, is refused."""
    _failing_run(project, {"probe:disk": Status.FAIL})
    _add(project, "fingerprint", "alert:probe", "--until", "1h", "--reason", "restore test")
    now = datetime.now(UTC)

    kinds, said = _alert(project, now)
    assert kinds == [] and "silenced (fingerprint alert:probe) by ana" in said[0]
    assert _alert(project, now + timedelta(hours=1, minutes=1))[0] == ["worse"]

    unknown = project.upkeep_in_process(
        "silence", "add", "fingerprint", "alert:nope", "--until", "1h", "--reason", "x"
    )
    assert unknown.code == 2 and "no runbook 'nope'" in unknown.err
    bare = project.upkeep_in_process(
        "silence", "add", "fingerprint", "probe", "--until", "1h", "--reason", "x"
    )
    assert bare.code == 2 and "expected an alert fingerprint such as alert:backup" in bare.err


def test_a_check_named_without_a_colon_by_a_runbook_of_ones_own_can_be_silenced(
    project: Project,
) -> None:
    # report.check("backup-age", ...) is a check name too: only upkeep's own are COMPONENT:THING.
    result = project.upkeep_in_process(
        "silence", "add", "check", "backup-age", "--until", "1d", "--reason", "moving the store"
    )
    assert result.code == 0, result.text
    assert "backup-age" in (project.evidence / "ledger.jsonl").read_text()
