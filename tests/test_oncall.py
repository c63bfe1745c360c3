"""The on-call rotation: reading oncall.yml, who answers when (handoffs at local time across
daylight-saving changes, layers, restrictions, overrides, gaps), `upkeep oncall`, and the
iCalendar export checked against `upkeep oncall` over a month with overrides."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from helpers.project import Project
from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar import Calendar

from upkeep.config.oncall import Layer, Override, Restriction, Schedule, read_oncall
from upkeep.errors import ConfigError
from upkeep.oncall import answer, current_shift, shifts

BERLIN = ZoneInfo("Europe/Berlin")

ROTATION = """\
schedules:
  - name: ops-oncall
    timezone: Europe/Berlin
    layers:
      - name: weekly
        people: [ana, ben, chen]
        start: '2026-01-05 09:00'
        handoff_every: 1w
      - name: weekend-days
        people: [dara, eli]
        start: '2026-01-03 08:00'
        handoff_every: 1d
        restrict: {days: [sat, sun], from: '08:00', to: '20:00'}
    overrides:
      - {who: ben, from: '2026-12-24 09:00', until: '2026-12-27 09:00', reason: Christmas swap}
      - {who: fay, from: '2026-12-26 12:00', until: '2026-12-26 13:00', reason: lunch cover}
  - name: db-owner
    layers:
      - name: office-hours
        people: [gus]
        start: '2026-01-05 09:00'
        handoff_every: 1w
        restrict: {days: [mon, tue, wed, thu, fri], from: '09:00', to: '17:00'}
"""


def _project(make_project, rotation: str = ROTATION) -> Project:
    project = make_project(
        "version: 1\ntimezone: Europe/Berlin\nevidence_dir: evidence\nstate_dir: state\n"
        "runbooks_dir: runbooks\n"
    )
    (project.root / "oncall.yml").write_text(rotation)
    return project


def _local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN)


def _who(project: Project, at: str, schedule: str = "ops-oncall") -> str | None:
    result = project.upkeep_in_process("oncall", schedule, "--at", at, "--json")
    assert result.code in (0, 1), result.text
    return json.loads(result.out)[0]["who"]


def test_the_person_on_call_follows_the_weekly_handoff(make_project) -> None:
    project = _project(make_project)
    # 2026-01-05 09:00 is ana's first shift; each Monday 09:00 the next person takes over.
    assert _who(project, "2026-01-07T12:00") == "ana"
    assert _who(project, "2026-01-12T08:59") == "ana"
    assert _who(project, "2026-01-12T09:00") == "ben"
    assert _who(project, "2026-01-19T09:00") == "chen"
    assert _who(project, "2026-01-26T09:00") == "ana"


def test_a_handoff_stays_at_local_time_across_daylight_saving_changes(make_project) -> None:
    project = _project(make_project)
    # Berlin leaves summer time on 2026-10-25: the Monday handoff is at 09:00 CET (08:00 UTC)
    # after it, and at 09:00 CEST (07:00 UTC) before it.
    schedule = project_schedule(project)
    before = answer(schedule, datetime(2026, 10, 19, 6, 59, tzinfo=UTC)).who
    assert answer(schedule, datetime(2026, 10, 19, 7, 0, tzinfo=UTC)).who != before
    after = answer(schedule, datetime(2026, 10, 26, 7, 59, tzinfo=UTC)).who
    assert answer(schedule, datetime(2026, 10, 26, 8, 0, tzinfo=UTC)).who != after


def project_schedule(project: Project, name: str = "ops-oncall") -> Schedule:
    return read_oncall(project.root / "oncall.yml", "UTC").schedule(name)


def test_a_later_layer_answers_within_its_hours_and_overrides_answer_first(make_project) -> None:
    project = _project(make_project)
    # Saturday 2026-12-05, 47 weeks after ana's first Monday (47 mod 3 = 2: chen) and 336 days
    # after the weekend layer's start (even: dara): dara from 08:00 to 20:00, chen otherwise.
    assert _who(project, "2026-12-05T07:59") == "chen"
    assert _who(project, "2026-12-05T08:00") == "dara"
    assert _who(project, "2026-12-06T12:00") == "eli"
    assert _who(project, "2026-12-05T20:00") == "chen"
    # The Christmas swap holds over the weekend layer, and a later override over an earlier one.
    assert _who(project, "2026-12-26T10:00") == "ben"
    assert _who(project, "2026-12-26T12:30") == "fay"
    # When the swap ends on Sunday 2026-12-27 (358 days: dara), the weekend layer answers again.
    assert _who(project, "2026-12-27T09:00") == "dara"


def test_a_gap_in_the_rotation_is_shown_as_nobody_and_exits_1(make_project) -> None:
    project = _project(make_project)
    result = project.upkeep_in_process("oncall", "db-owner", "--at", "2026-12-05T12:00")
    assert result.code == 1
    assert "NOBODY" in result.out and "no layer answers" in result.out
    weekday = project.upkeep_in_process("oncall", "db-owner", "--at", "2026-12-07T12:00")
    assert weekday.code == 0
    assert "gus" in weekday.out
    assert "2026-12-07 09:00 CET" in weekday.out and "2026-12-07 17:00 CET" in weekday.out


def test_a_one_person_layer_does_not_claim_when_its_shift_began(make_project) -> None:
    project = _project(
        make_project,
        "schedules:\n  - name: solo\n    layers:\n      - {name: all, people: [hal],"
        " start: '2026-01-01 00:00'}\n",
    )
    # Now, and at moments whose 112 days of reach cross a DST change in the config's zone
    # (2027-03-28 in Europe): the end of that reach is not the shift's end either.
    for at in ([], ["--at", "2026-12-06T12:00"], ["--at", "2027-07-01T12:00"]):
        result = json.loads(project.upkeep_in_process("oncall", "--json", *at).out)
        assert result == [
            {
                "schedule": "solo",
                "who": "hal",
                "layer": "all",
                "override": None,
                "since": None,
                "until": None,
            }
        ], at


def test_every_schedule_is_listed_in_the_config_time_zone(make_project) -> None:
    project = _project(make_project)
    result = project.upkeep_in_process("oncall", "--at", "2026-12-24T10:00")
    lines = result.out.splitlines()
    assert lines[0].split() == ["SCHEDULE", "ON", "CALL", "SINCE", "UNTIL", "BECAUSE"]
    assert lines[1].split()[:2] == ["ops-oncall", "ben"]
    assert "2026-12-24 09:00 CET" in lines[1] and "override: Christmas swap" in lines[1]
    assert lines[2].split()[:2] == ["db-owner", "gus"]


def test_without_a_rotation_the_command_says_what_to_write(make_project) -> None:
    project = make_project("version: 1\nevidence_dir: evidence\nrunbooks_dir: runbooks\n")
    result = project.upkeep_in_process("oncall")
    assert result.code == 2
    assert "no on-call rotation: expected oncall.yml beside upkeep.yml" in result.err


@pytest.mark.parametrize(
    ("rotation", "message"),
    [
        ("schedules:\n  - {name: a, layers: []}\n", "schedules[0].layers: expected at least one"),
        (
            "schedules:\n  - name: a\n    layers:\n      - {name: l, people: [], start:"
            " '2026-01-01 09:00'}\n",
            "schedules[0].layers[0].people: expected at least one person",
        ),
        (
            "schedules:\n  - name: a\n    layers:\n      - {name: l, people: [x], start:"
            " '2026-01-01 09:00', handoff_every: 1 week}\n",
            "schedules[0].layers[0].handoff_every: expected a period such as 12h, 1d or 1w,"
            " got '1 week'",
        ),
        (  # OverflowError escaped from timedelta: exit 3, "internal error"
            "schedules:\n  - name: a\n    layers:\n      - {name: l, people: [x], start:"
            " '2026-01-01 09:00', handoff_every: 99999999999999w}\n",
            "schedules[0].layers[0].handoff_every: expected a period of at most 8w",
        ),
        (
            "schedules:\n  - name: a\n    layers:\n      - {name: l, people: [x], start:"
            " '2026-01-01T09:00+01:00'}\n",
            "schedules[0].layers[0].start: expected a local date and time such as"
            " '2026-12-24 09:00', without an offset",
        ),
        (
            "schedules:\n  - name: a\n    timezone: Mars/Olympus\n    layers:\n      - {name: l,"
            " people: [x], start: '2026-01-01 09:00'}\n",
            "schedules[0].timezone: expected an IANA time zone",
        ),
        (
            "schedules:\n  - name: a\n    layers:\n      - {name: l, people: [x], start:"
            " '2026-01-01 09:00', restrict: {days: [someday]}}\n",
            "schedules[0].layers[0].restrict.days: expected days among mon, tue",
        ),
        (
            "schedules:\n  - name: a\n    layers:\n      - {name: l, people: [x], start:"
            " '2026-01-01 09:00'}\n    overrides:\n      - {who: y, from: '2026-02-01 09:00',"
            " until: '2026-01-01 09:00', reason: r}\n",
            "schedules[0].overrides[0].until: expected a time after `from` (2026-02-01 09:00)",
        ),
        (
            "schedules:\n  - name: a\n    layers:\n      - {name: l, people: [x], start:"
            " '2026-01-01 09:00', shift: 1}\n",
            "schedules[0].layers[0].shift: unknown key",
        ),
    ],
)
def test_a_malformed_rotation_is_refused_at_load_naming_the_key(
    make_project, rotation: str, message: str
) -> None:
    project = _project(make_project, rotation)
    result = project.upkeep_in_process("list")
    assert result.code == 2
    assert message in result.err
    with pytest.raises(ConfigError, match="oncall.yml"):
        read_oncall(project.root / "oncall.yml", "UTC")


def test_a_named_rotation_file_must_exist(make_project) -> None:
    project = make_project("version: 1\nrunbooks_dir: runbooks\noncall: team/oncall.yml\n")
    result = project.upkeep_in_process("oncall")
    assert result.code == 2
    assert "oncall: " in result.err and "team/oncall.yml is not a file" in result.err


def test_the_calendar_export_matches_upkeep_oncall_over_a_month(make_project) -> None:
    project = _project(make_project)
    result = project.upkeep_in_process(
        "oncall", "--ical", "--at", "2026-12-01T00:00", "--days", "31"
    )
    assert result.code == 0, result.text
    events = [c for c in Calendar.from_ical(result.out).walk("VEVENT")]
    by_schedule: dict[str, list] = {}
    for event in events:
        by_schedule.setdefault(str(event["categories"].cats[0]), []).append(event)
    assert set(by_schedule) == {"ops-oncall", "db-owner"}
    for name, found in by_schedule.items():
        found.sort(key=lambda e: e["dtstart"].dt)
        # The shifts of one schedule follow each other without a hole or an overlap.
        for earlier, later in zip(found, found[1:], strict=False):
            assert earlier["dtend"].dt == later["dtstart"].dt
        assert found[0]["dtstart"].dt <= _local("2026-12-01T00:00")
        assert found[-1]["dtend"].dt >= _local("2027-01-01T00:00")
        # Every shift's first and last minute and its middle say the same as `upkeep oncall`.
        for event in found:
            start, end = event["dtstart"].dt, event["dtend"].dt
            for moment in (start, start + (end - start) / 2, end - timedelta(minutes=1)):
                at = moment.astimezone(BERLIN).replace(tzinfo=None).isoformat()
                who = _who(project, at, name)
                expected = f"{who} on call ({name})" if who else f"NOBODY on call ({name})"
                assert str(event["summary"]) == expected, (at, name)
    swaps = [e for e in by_schedule["ops-oncall"] if "Christmas swap" in str(e["description"])]
    assert [(e["dtstart"].dt, e["dtend"].dt) for e in swaps] == [
        (_local("2026-12-24T09:00"), _local("2026-12-26T12:00")),
        (_local("2026-12-26T13:00"), _local("2026-12-27T09:00")),
    ]
    # A refresh later the same day gives the same events, so a subscription updates in place.
    again = project.upkeep_in_process(
        "oncall", "--ical", "--at", "2026-12-01T15:00", "--days", "31"
    )
    uids = [str(e["uid"]) for e in Calendar.from_ical(again.out).walk("VEVENT")]
    assert uids == [str(e["uid"]) for e in events]


def test_a_calendar_that_would_end_past_9998_is_refused_naming_the_days_left(
    make_project,
) -> None:
    # 3660 days from the last day --at accepts overflowed the year 9999: a traceback (exit 3).
    project = _project(make_project)
    refused = project.upkeep_in_process(
        "oncall", "--ical", "--days", "3660", "--at", "9998-12-31T23:59"
    )
    assert refused.code == 2, refused.text
    assert "--days" in refused.err and "expected a number of days up to 1 from 9998-12-31" in (
        refused.err
    )
    last_day = project.upkeep_in_process(
        "oncall", "--ical", "--days", "1", "--at", "9998-12-31T23:59"
    )
    assert last_day.code == 0, last_day.text
    assert Calendar.from_ical(last_day.out).walk("VEVENT")


def test_days_without_ical_is_refused_not_ignored(make_project) -> None:
    project = _project(make_project)
    result = project.upkeep_in_process("oncall", "--days", "3")
    assert result.code == 2
    assert "--days only applies with --ical" in result.err and not result.out


def test_an_empty_schedule_name_is_refused_not_read_as_every_schedule(make_project) -> None:
    project = _project(make_project)
    result = project.upkeep_in_process("oncall", "", "--at", "2026-12-24T10:00")
    assert result.code == 2
    assert "no on-call schedule ''; expected one of: ops-oncall, db-owner" in result.err
    assert not result.out


def test_the_shipped_rotation_answers(tmp_path: Path) -> None:
    from helpers.project import REPO

    rotation = read_oncall(REPO / "oncall.yml", "UTC")
    schedule = rotation.schedule("ops-oncall")
    assert answer(schedule, datetime(2026, 12, 25, 12, tzinfo=UTC)).who == "ben"


# --- properties: the answer at a moment and the shifts over a span agree ----------------------

_PEOPLE = st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=3).map(tuple)
_ZONES = st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"])
_STARTS = st.datetimes(datetime(2026, 1, 1), datetime(2027, 12, 31))


@st.composite
def _schedules(draw: st.DrawFn) -> Schedule:
    layers = []
    for index in range(draw(st.integers(1, 3))):
        restrict = None
        if draw(st.booleans()):
            restrict = Restriction(
                frozenset(draw(st.sets(st.integers(0, 6), min_size=1))),
                time(draw(st.integers(0, 23)), draw(st.sampled_from([0, 30]))),
                time(draw(st.integers(0, 23)), draw(st.sampled_from([15, 45]))),
            )
        layers.append(
            Layer(
                f"l{index}",
                draw(_PEOPLE),
                draw(_STARTS),
                timedelta(hours=draw(st.sampled_from([1, 12, 24, 72, 168]))),
                restrict,
            )
        )
    overrides = []
    for _ in range(draw(st.integers(0, 3))):
        start = draw(_STARTS)
        overrides.append(
            Override("o", start, start + timedelta(hours=draw(st.integers(1, 200))), "r")
        )
    return Schedule("s", draw(_ZONES), tuple(layers), tuple(overrides))


@settings(max_examples=80, deadline=None)
@given(_schedules(), _STARTS, st.integers(1, 21))
def test_shifts_cover_the_span_and_agree_with_the_answer_at_every_moment(
    schedule: Schedule, start: datetime, days: int
) -> None:
    begin = start.replace(tzinfo=UTC)
    end = begin + timedelta(days=days)
    found = shifts(schedule, begin, end)
    assert found[0].start == begin and found[-1].end == end
    for earlier, later in zip(found, found[1:], strict=False):
        assert earlier.end == later.start
        assert earlier.answer != later.answer  # cut only where the answer changes
    for shift in found:
        # The last second of the shift, or its start: a layer starting a microsecond after
        # another (a config may say so) makes a shift shorter than a second.
        for moment in (shift.start, max(shift.start, shift.end - timedelta(seconds=1))):
            assert answer(schedule, moment) == shift.answer
    middle = begin + (end - begin) / 3
    held = current_shift(schedule, middle)
    assert held.start <= middle < held.end and held.answer == answer(schedule, middle)


@settings(max_examples=100, deadline=None)
@given(_PEOPLE, _STARTS, _ZONES, st.integers(0, 400))
def test_each_person_takes_a_turn_in_order(
    people: tuple[str, ...], start: datetime, zone: str, week: int
) -> None:
    schedule = Schedule("s", zone, (Layer("w", people, start, timedelta(weeks=1)),))
    # The middle of week `week` after the start, in local time: the (week mod n)-th person.
    local = (start + timedelta(weeks=week, days=3, hours=12)).replace(tzinfo=ZoneInfo(zone))
    assert answer(schedule, local).who == people[week % len(people)]


def test_a_layer_does_not_answer_before_it_starts() -> None:
    # A layer starting next June answered today with made-up shifts (and its calendar export).
    start = datetime(2027, 6, 1, 9, 0)
    schedule = Schedule(
        "s", "Europe/Berlin", (Layer("next-year", ("zoe", "yan"), start, timedelta(weeks=1)),)
    )
    berlin = ZoneInfo("Europe/Berlin")
    assert answer(schedule, datetime(2026, 12, 7, 10, tzinfo=berlin)).who is None
    assert answer(schedule, datetime(2027, 6, 1, 8, 59, tzinfo=berlin)).who is None
    assert answer(schedule, datetime(2027, 6, 1, 9, 0, tzinfo=berlin)).who == "zoe"
    [gap, first] = shifts(
        schedule, datetime(2027, 5, 30, tzinfo=berlin), datetime(2027, 6, 2, tzinfo=berlin)
    )
    assert (gap.answer.who, first.answer.who) == (None, "zoe")
    assert first.start == datetime(2027, 6, 1, 9, 0, tzinfo=berlin)


# --- the site's page ----------------------------------------------------------------------------


def test_the_site_page_shows_layers_overrides_and_the_next_shifts_with_gaps(make_project) -> None:
    from types import SimpleNamespace

    from upkeep.config import load_config
    from upkeep.site.oncall import oncall_page

    project = _project(make_project)
    config = load_config(str(project.config))
    page = oncall_page(SimpleNamespace(config=config), _local("2026-12-21T10:00"))  # type: ignore[arg-type]
    ops, db = page.split("## ops-oncall")[1].split("## db-owner")
    assert "| weekend-days | dara, eli | 2026-01-03 08:00 | 1 day | sat, sun, 08:00–20:00 |" in ops
    assert "| ben | 2026-12-24 09:00 | 2026-12-27 09:00 | Christmas swap |" in ops
    # Shifts from the one holding the build time for 14 days: Monday 2026-12-21 is 50 weeks
    # after ana's first (50 mod 3 = 2: chen's week), until ben's Christmas swap.
    assert "| chen | Mon 2026-12-21 09:00 | Thu 2026-12-24 09:00 | layer weekly |" in ops
    assert "| ben | Thu 2026-12-24 09:00 | Sat 2026-12-26 12:00 | override: Christmas swap |" in ops
    assert "| fay | Sat 2026-12-26 12:00 | Sat 2026-12-26 13:00 | override: lunch cover |" in ops
    assert "| **NOBODY** | Mon 2026-12-21 17:00 | Tue 2026-12-22 09:00 | no layer answers |" in db


def test_without_a_rotation_the_site_page_says_so(make_project) -> None:
    from types import SimpleNamespace

    from upkeep.config import load_config
    from upkeep.site.oncall import oncall_page

    project = make_project("version: 1\nrunbooks_dir: runbooks\n")
    page = oncall_page(SimpleNamespace(config=load_config(str(project.config))))  # type: ignore[arg-type]
    assert "No on-call rotation: there is no `oncall.yml` beside `upkeep.yml`." in page


def test_one_bad_value_in_oncall_yml_is_one_problem_not_four(make_project) -> None:
    # The alert target, the escalation level and the support severity naming its schedule
    # each said "no on-call schedule 'ops-oncall' (no oncall.yml)": three false problems.
    project = _project(make_project, ROTATION.replace("handoff_every: 1d", "handoff_every: 0w"))
    project.config.write_text(
        project.config.read_text()
        + "alerts:\n  targets:\n    - {name: chat, inbox: inbox, schedule: ops-oncall}\n"
        + "escalation:\n  fail:\n    levels:\n"
        + "      - {page: 'oncall:ops-oncall', targets: [chat]}\n"
    )
    result = project.upkeep_in_process("check")
    assert result.code == 2, result.text
    assert "handoff_every" in result.err
    assert "no on-call schedule" not in result.err
    assert result.err.count("upkeep: error:") == 1, result.err
