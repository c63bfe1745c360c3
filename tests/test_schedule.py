"""Cadences and due-ness, at exact boundaries and in other time zones."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from cronsim import CronSim

from upkeep import schedule

UTC = ZoneInfo("UTC")


def at(text: str, tz: ZoneInfo = UTC) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=tz)


@pytest.mark.parametrize(
    ("cadence", "moment", "previous"),
    [
        ("daily", "2026-11-27T00:00:00", "2026-11-27T00:00:00"),  # a slot counts at its own instant
        ("daily", "2026-11-26T23:59:59", "2026-11-26T00:00:00"),
        ("weekly", "2026-11-27T12:00:00", "2026-11-23T00:00:00"),  # the Monday before
        ("monthly", "2026-11-27T12:00:00", "2026-11-01T00:00:00"),
        ("quarterly", "2026-11-27T12:00:00", "2026-10-01T00:00:00"),
        ("quarterly", "2026-10-01T00:00:00", "2026-10-01T00:00:00"),
        ("quarterly", "2026-09-30T23:59:59", "2026-07-01T00:00:00"),
        ("quarterly", "2027-03-31T23:59:59", "2027-01-01T00:00:00"),
        ("yearly", "2026-11-27T12:00:00", "2026-01-01T00:00:00"),
        ("30 2 * * *", "2026-11-27T02:29:00", "2026-11-26T02:30:00"),
    ],
)
def test_previous_time(cadence: str, moment: str, previous: str) -> None:
    assert schedule.previous_time(cadence, at(moment)) == at(previous)


def test_quarterly_falls_on_the_first_day_of_each_quarter() -> None:
    assert schedule.next_time("quarterly", at("2026-10-01T00:00:00")) == at("2027-01-01T00:00:00")
    berlin = ZoneInfo("Europe/Berlin")
    steps = list(
        schedule.times_from(
            "quarterly", at("2026-01-01T00:00:00", berlin), at("2027-01-01T00:00:00", berlin)
        )
    )
    assert [t.date().isoformat() for t in steps] == [
        "2026-01-01",
        "2026-04-01",
        "2026-07-01",
        "2026-10-01",
        "2027-01-01",
    ]
    assert all(t.hour == 0 and t.tzinfo is berlin for t in steps)  # local midnight


def test_next_time_is_strictly_after() -> None:
    assert schedule.next_time("daily", at("2026-11-27T08:00:00")) == at("2026-11-28T00:00:00")
    assert schedule.next_time("daily", at("2026-11-27T00:00:00")) == at("2026-11-28T00:00:00")
    assert schedule.next_time("weekly", at("2026-11-27T08:00:00")) == at("2026-11-30T00:00:00")


def test_dst_day_in_local_time() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    # 2026-03-29: clocks jump from 02:00 to 03:00 in Berlin; daily slot at local midnight holds.
    assert schedule.previous_time("daily", at("2026-03-29T12:00:00", berlin)) == at(
        "2026-03-29T00:00:00", berlin
    )


@pytest.mark.parametrize("bad", ["fortnightly", "* * *", "61 * * * *", ""])
def test_bad_cadences_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        schedule.cron_for(bad)


# Zones that change clocks at local midnight (Santiago, Havana, Asunción, Beirut, Cairo: some
# days have no 00:00, or two), at 02:00 (Berlin, New York) or never (UTC), Sydney south of the
# equator.
ZONES = (
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "America/Santiago",
    "America/Havana",
    "America/Asuncion",
    "Asia/Beirut",
    "Africa/Cairo",
    "Australia/Sydney",
)


@pytest.mark.parametrize(
    "cadence", ["daily", "weekly", "monthly", "quarterly", "yearly", "30 2 * * *"]
)
@pytest.mark.parametrize("zone", ZONES)
def test_times_from_are_the_times_cron_gives(cadence: str, zone: str) -> None:
    """Stepping a named cadence on the calendar gives every time cronsim gives, including on
    days whose midnight a clock change skips or repeats, over eight years."""
    tz = ZoneInfo(zone)
    first = schedule.previous_time(cadence, datetime(2019, 1, 3, tzinfo=tz))
    until = datetime(2027, 1, 1, tzinfo=tz)
    expected = [first]
    for moment in CronSim(schedule.cron_for(cadence), first):
        if moment > until:
            break
        expected.append(moment)

    got = list(schedule.times_from(cadence, first, until))

    assert got == expected
    assert [moment.utcoffset() for moment in got] == [moment.utcoffset() for moment in expected]


# Zones whose clocks change by an hour (New York, Santiago), by half an hour (Lord Howe), or
# never but sit at a part of an hour from UTC (Kathmandu +5:45, St John's -3:30, Chatham).
ODD_ZONES = (
    "America/New_York",
    "America/Santiago",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "America/St_Johns",
    "Pacific/Chatham",
)


def _clock_changes(tz: ZoneInfo, year: int) -> list[datetime]:
    """Noon of each day of `year` after which the zone's offset was different."""
    days = [datetime(year, 1, 1, 12, tzinfo=tz) + timedelta(days=n) for n in range(366)]
    return [day for day, after in pairwise(days) if day.utcoffset() != after.utcoffset()]


@pytest.mark.parametrize(
    "cadence", ["* * * * *", "*/7 * * * *", "0 * * * *", "45 * * * *", "10,50 * * * *"]
)
@pytest.mark.parametrize("zone", ODD_ZONES)
def test_times_every_hour_are_the_times_cron_gives(cadence: str, zone: str) -> None:
    """A cadence of minutes past every hour is stepped by adding minutes while the offset holds
    (cronsim only across a clock change): the same times, and the same offsets, as cronsim
    gives, over the days around each change of 2026 and over a plain week."""
    tz = ZoneInfo(zone)
    windows = [day - timedelta(days=1) for day in _clock_changes(tz, 2026)]
    windows.append(datetime(2026, 6, 1, tzinfo=tz))
    for start in windows:
        first = schedule.previous_time(cadence, start)
        until = start + timedelta(days=3)
        expected = [first]
        for moment in CronSim(schedule.cron_for(cadence), first):
            if moment.astimezone(UTC) > until.astimezone(UTC):
                break
            expected.append(moment)
        got = list(schedule.times_from(cadence, first, until))
        assert got == expected
        assert [m.utcoffset() for m in got] == [m.utcoffset() for m in expected]


NEW_YORK = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("cadence", "at", "previous", "following"),
    [
        # 2026-11-01: clocks go back at 02:00 EDT, so 01:00-01:59 happens twice.
        ("0 * * * *", "01:10-04:00", "01:00-04:00", "01:00-05:00"),
        ("0 * * * *", "01:10-05:00", "01:00-05:00", "02:00-05:00"),  # the hour's second time
        # Reverse cronsim found yesterday's 01:30 from inside the repeated hour, and the next
        # time given there was today's 01:30 EDT, already past.
        ("30 1 * * *", "01:10-05:00", "01:30-04:00", "2026-11-02T01:30-05:00"),
        ("30 1 * * *", "01:45-04:00", "01:30-04:00", "2026-11-02T01:30-05:00"),
    ],
)
def test_the_repeated_hour_when_clocks_go_back(
    cadence: str, at: str, previous: str, following: str
) -> None:
    def moment(text: str) -> datetime:
        full = text if "T" in text else f"2026-11-01T{text}"
        return datetime.fromisoformat(full).astimezone(NEW_YORK)

    when = moment(at)
    assert schedule.previous_time(cadence, when) == moment(previous)
    assert schedule.previous_time(cadence, when).utcoffset() == moment(previous).utcoffset()
    found = schedule.next_time(cadence, when)
    assert (found, found.utcoffset()) == (moment(following), moment(following).utcoffset())
    # What is due agrees with the times going forward (what `upkeep status` counts).
    slots = list(schedule.times_from(cadence, moment("2026-10-31T00:00-04:00"), when))
    assert slots[-1].astimezone(NEW_YORK) == schedule.previous_time(cadence, when)
