"""SLA due times (upkeep.sla.clock) against an independent oracle that steps minute by minute
and asks the wall clock, across weekends, public holidays, DST changes and pauses."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
from hypothesis import given, settings
from hypothesis import strategies as st

from upkeep.config.support import BusinessHours
from upkeep.sla.clock import counted_minutes, due_at

MINUTE = timedelta(minutes=1)


def oracle_due(start, minutes, hours, pauses, limit=timedelta(days=40)):
    """Step one minute at a time; a minute counts when its wall time, weekday and date say so
    and no pause covers it. Written without the clock module's helpers."""
    calendar = holidays.country_holidays(hours.country) if hours and hours.country else {}
    at, left = start, minutes
    if left == 0:
        return start
    while at - start < limit:
        paused = any(p <= at and (r is None or at < r) for p, r in pauses)
        if not paused and _open(at, hours, calendar):
            left -= 1
            if left == 0:
                return at + MINUTE
        at += MINUTE
    return None


def _open(at, hours, calendar):
    if hours is None:
        return True
    local = at.astimezone(ZoneInfo(hours.timezone))
    if local.weekday() not in hours.days or local.date() in calendar:
        return False
    wall = time(local.hour, local.minute)
    return hours.start <= wall and (hours.end is None or wall < hours.end)


BERLIN = BusinessHours("Europe/Berlin", frozenset(range(5)), time(9), time(17), "DE")
NIGHT = BusinessHours("Europe/Berlin", frozenset(range(7)), time(1, 30), time(3, 30))
NEW_YORK = BusinessHours("America/New_York", frozenset({0, 2, 5, 6}), time(0), None, "US")

# Starts near weekends, Christmas/Easter and both DST changes of 2026 (EU: 29 Mar, 25 Oct;
# US: 8 Mar, 1 Nov), at whole minutes.
ANCHORS = [
    datetime(2026, 3, 27, 15, 0, tzinfo=UTC),
    datetime(2026, 3, 7, 20, 0, tzinfo=UTC),
    datetime(2026, 4, 2, 12, 0, tzinfo=UTC),
    datetime(2026, 10, 23, 14, 0, tzinfo=UTC),
    datetime(2026, 10, 31, 22, 0, tzinfo=UTC),
    datetime(2026, 12, 23, 10, 0, tzinfo=UTC),
]

walls = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))


@st.composite
def business_hours(draw):
    """Any zone of three, any weekdays, any hours (often around the 02:00-03:00 DST change)."""
    start = draw(st.one_of(walls, st.builds(time, st.just(2), st.integers(0, 59))))
    end = draw(st.one_of(st.none(), walls.filter(lambda t: t > start)))
    zone = draw(st.sampled_from(["Europe/Berlin", "America/New_York", "UTC"]))
    days = draw(st.frozensets(st.integers(0, 6), min_size=1))
    country = draw(st.sampled_from([None, "DE" if zone == "Europe/Berlin" else "US"]))
    return BusinessHours(zone, days, start, end, country)


hour_choices = st.one_of(st.sampled_from([BERLIN, NIGHT, NEW_YORK, None]), business_hours())

starts = st.builds(
    lambda anchor, offset: anchor + offset * MINUTE,
    st.sampled_from(ANCHORS),
    st.integers(0, 4 * 24 * 60),
)


@st.composite
def pause_lists(draw, start):
    pauses, at = [], start
    for _ in range(draw(st.integers(0, 3))):
        paused = at + draw(st.integers(0, 3000)) * MINUTE
        if draw(st.integers(0, 9)) == 0:
            pauses.append((paused, None))
            break
        resumed = paused + draw(st.integers(1, 3000)) * MINUTE
        pauses.append((paused, resumed))
        at = resumed
    return pauses


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_due_time_matches_the_minute_stepping_oracle(data):
    start = data.draw(starts)
    hours = data.draw(hour_choices)
    minutes = data.draw(st.integers(0, 3 * 8 * 60))
    pauses = data.draw(pause_lists(start))
    due, expected = due_at(start, minutes, hours, pauses), oracle_due(start, minutes, hours, pauses)
    if expected is None:  # beyond the oracle's 40 days: the clock says later, or never
        assert due is None or due - start >= timedelta(days=40)
    else:
        assert due == expected


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_counted_minutes_up_to_the_due_time_are_the_target(data):
    start = data.draw(starts)
    hours = data.draw(hour_choices)
    minutes = data.draw(st.integers(1, 2 * 8 * 60))
    pauses = data.draw(pause_lists(start))
    due = due_at(start, minutes, hours, pauses)
    if due is not None:
        assert counted_minutes(start, due, hours, pauses) == minutes
        assert counted_minutes(start, due - MINUTE, hours, pauses) == minutes - 1


def test_friday_afternoon_p3_is_due_on_tuesday_after_easter_monday():
    # 2 April 2026 is Maundy Thursday; Good Friday 3 Apr and Easter Monday 6 Apr are holidays
    start = datetime(2026, 4, 2, 15, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    due = due_at(start, 4 * 60, BERLIN)
    assert due == datetime(2026, 4, 7, 11, 0, tzinfo=ZoneInfo("Europe/Berlin"))


def test_a_pause_without_resume_never_falls_due():
    start = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
    assert due_at(start, 60, None, [(start + 10 * MINUTE, None)]) is None
    assert (
        due_at(start, 60, None, [(start + 10 * MINUTE, start + 40 * MINUTE)]) == start + 90 * MINUTE
    )
