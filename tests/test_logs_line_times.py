"""Tests for upkeep.logs.line_times: when a line was written, read from the timestamps of the
formats real systems write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from helpers.real_logs import FORMATS, generate

from upkeep.logs.line_times import line_time

NOW = datetime(2026, 11, 16, 12, 0, tzinfo=UTC)
PLUS_ONE = timezone(timedelta(hours=1))


@pytest.mark.parametrize(
    ("line", "written"),
    [
        (b"2026-11-16 02:15:00,123 ERROR x", datetime(2026, 11, 16, 2, 15, 0, 123000, UTC)),
        (b"2026-11-16T02:15:00.5Z x", datetime(2026, 11, 16, 2, 15, 0, 500000, UTC)),
        (b"2026-11-16T03:15:00+01:00 h x[1]: y", datetime(2026, 11, 16, 3, 15, tzinfo=PLUS_ONE)),
        (b"2026-11-16T03:15:00+0100 h x: y", datetime(2026, 11, 16, 3, 15, tzinfo=PLUS_ONE)),
        (b"[2026-11-16 02:15:00] [ERROR] x", datetime(2026, 11, 16, 2, 15, tzinfo=UTC)),
        (b"Mon 2026-11-16 02:15:00 UTC h x", datetime(2026, 11, 16, 2, 15, tzinfo=UTC)),
        (b"2026/11/16 02:15:00 [error] 1#1: x", datetime(2026, 11, 16, 2, 15, tzinfo=UTC)),
        (
            b"[Mon Nov 16 02:15:00.250000 2026] [core:error] x",
            datetime(2026, 11, 16, 2, 15, 0, 250000, UTC),
        ),
        (
            b'10.0.0.1 - - [16/Nov/2026:03:15:00 +0100] "GET / HTTP/1.1" 200 1',
            datetime(2026, 11, 16, 3, 15, tzinfo=PLUS_ONE),
        ),
        (b"Nov  6 02:15:00 web1 sshd[1]: x", datetime(2026, 11, 6, 2, 15, tzinfo=UTC)),
        (b"Nov 16 02:15:00.5 web1 sshd[1]: x", datetime(2026, 11, 16, 2, 15, 0, 500000, UTC)),
        (
            b'{"__REALTIME_TIMESTAMP":"1794795300000000","MESSAGE":"x"}',
            datetime(2026, 11, 16, 2, 15, tzinfo=UTC),
        ),
        # Structured loggers: a JSON time field (ISO, or seconds, ms, us, ns since 1970), or
        # logfmt's first key. 1794795300 is 2026-11-16 02:15:00 UTC.
        (
            b'{"level":"error","time":"2026-11-16T03:15:00+01:00","msg":"x"}',
            datetime(2026, 11, 16, 3, 15, tzinfo=PLUS_ONE),
        ),
        (b'{"ts":1794795300.5,"msg":"x"}', datetime(2026, 11, 16, 2, 15, 0, 500000, UTC)),
        (b'{"msg":"x","time":1794795300000}', datetime(2026, 11, 16, 2, 15, tzinfo=UTC)),
        (b'{"@timestamp":"2026-11-16T02:15:00.000Z"}', datetime(2026, 11, 16, 2, 15, tzinfo=UTC)),
        (b'{"timestamp":1794795300000000000}', datetime(2026, 11, 16, 2, 15, tzinfo=UTC)),
        (
            b'time="2026-11-16T02:15:00Z" level=error msg="x"',
            datetime(2026, 11, 16, 2, 15, tzinfo=UTC),
        ),
        (b'{"msg":"x","time":"soon"}', None),
        (b'{"time":"2026-11-16T02:15:00+25:00","msg":"x"}', None),  # no zone is that far
        (b"2026-11-16T02:15:00+99:00 x", None),
        (b"Traceback (most recent call last):", None),
        (b"2026-02-31 02:15:00 impossible day", None),
        (b"Foo 16 02:15:00 not a month", None),
    ],
)
def test_each_format_gives_the_moment_it_shows(line: bytes, written: datetime | None) -> None:
    assert line_time(line, NOW, UTC) == written


def test_a_stamp_without_a_zone_is_in_the_local_zone_given() -> None:
    assert line_time(b"2026-11-16 03:15:00 x", NOW, PLUS_ONE) == datetime(
        2026, 11, 16, 2, 15, tzinfo=UTC
    )


def test_a_syslog_stamp_is_in_the_latest_year_not_in_the_future() -> None:
    new_year = datetime(2027, 1, 1, 0, 30, tzinfo=UTC)
    assert line_time(b"Dec 31 23:59:00 h x: y", new_year, UTC) == datetime(
        2026, 12, 31, 23, 59, tzinfo=UTC
    )
    assert line_time(b"Jan  1 00:29:00 h x: y", new_year, UTC) == datetime(
        2027, 1, 1, 0, 29, tzinfo=UTC
    )


@pytest.mark.parametrize("kind", list(FORMATS))
def test_every_generated_real_format_line_has_its_moment(kind: str) -> None:
    for line in generate(kind, 200):
        moment = line_time(line.text.encode(), NOW, UTC)
        assert moment is not None and moment.replace(microsecond=0) == line.at, line.text
