"""Responsible for when a log line was written, read from its timestamp in the formats real
systems write: ISO 8601 (bracketed or not, with a comma or a dot before the fraction), nginx's
error log (`2026/11/16 02:15:00`), an access line's `[16/Nov/2026:02:15:00 +0000]`, Apache's
`[Sun Nov 16 02:15:00.123456 2026]`, syslog's `Nov 16 02:15:00` (the year is the latest that
is not in the future), journalctl's short formats and its json `__REALTIME_TIMESTAMP`. A stamp
without a zone is in the machine's local time, as the writers on it wrote it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo

__all__ = ["line_time"]

_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_ISO = re.compile(
    rb"^\[?(?:[A-Z][a-z]{2} )?(?P<year>\d{4})[-/](?P<month>\d{2})[-/](?P<day>\d{2})[T ]"
    rb"(?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2})(?:[.,](?P<fraction>\d+))?"
    rb"(?: ?(?P<zone>Z|[+-]\d{2}:?\d{2}|UTC|GMT)\b)?"
)
_ACCESS = re.compile(
    rb"\[(?P<day>\d{2})/(?P<monthname>[A-Z][a-z]{2})/(?P<year>\d{4}):(?P<hour>\d{2}):"
    rb"(?P<minute>\d{2}):(?P<second>\d{2}) (?P<zone>[+-]\d{4})\]"
)
_APACHE = re.compile(
    rb"^\[[A-Z][a-z]{2} (?P<monthname>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) (?P<hour>\d{2}):"
    rb"(?P<minute>\d{2}):(?P<second>\d{2})(?:\.(?P<fraction>\d+))? (?P<year>\d{4})\]"
)
_SYSLOG = re.compile(
    rb"^(?P<monthname>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) (?P<hour>\d{2}):(?P<minute>\d{2}):"
    rb"(?P<second>\d{2})(?:\.(?P<fraction>\d+))?\s"
)
_JOURNAL_JSON = re.compile(rb'"__REALTIME_TIMESTAMP":"(?P<micros>\d{1,20})"')
# A JSON line's time field (the names zap, logrus, pino, structlog, Bunyan and Logstash write):
# ISO text, or a number of seconds, milliseconds, microseconds or nanoseconds since 1970.
_JSON_TIME = re.compile(
    rb'"(?:@?timestamp|time|ts|t|datetime)"\s*:\s*'
    rb'(?:"(?P<text>\d{4}-[^"]{5,40})"|(?P<number>\d{9,19})(?:\.(?P<fraction>\d+))?\b)'
)
# logfmt: `time=2026-11-16T02:15:00Z level=error msg="..."` (ts=, timestamp= or t= too).
_LOGFMT_TIME = re.compile(rb'^(?:ts|time|timestamp|t)="?(?P<text>\d{4}-[^"\s]{5,40})')
# An access line's stamp comes after the client, ident and user (and a vhost): not far in.
ACCESS_STAMP_WITHIN = 300


def _zone(text: bytes | None, local: tzinfo) -> tzinfo | None:
    if text is None:
        return local
    if text in (b"Z", b"UTC", b"GMT"):
        return UTC
    sign = -1 if text.startswith(b"-") else 1
    digits = text[1:].replace(b":", b"")
    minutes = int(digits[:2]) * 60 + int(digits[2:])
    if minutes >= 24 * 60:  # no zone is a day or more away: the stamp is not one
        return None
    return UTC if minutes == 0 else timezone(timedelta(minutes=sign * minutes))


def _built(match: re.Match[bytes], year: int, month: int, zone: tzinfo | None) -> datetime | None:
    if zone is None:  # an offset no zone has
        return None
    fraction = match.groupdict().get("fraction") or b"0"
    try:
        return datetime(
            year,
            month,
            int(match["day"]),
            int(match["hour"]),
            int(match["minute"]),
            int(match["second"]),
            int(fraction[:6].ljust(6, b"0")),
            tzinfo=zone,
        )
    except ValueError:  # 31 February, hour 25: no timestamp after all
        return None


def line_time(line: bytes, now: datetime, local: tzinfo | None = None) -> datetime | None:
    """When `line` was written by its timestamp, or None when it has none that is known.

    `now` (timezone-aware) places a syslog stamp, which has no year, in the latest year that is
    not more than a day ahead of it; `local` (the machine's zone by default) is the zone of a
    stamp written without one.
    """
    local = local or now.astimezone().tzinfo or UTC
    if match := _ISO.match(line):
        zone = _zone(match["zone"], local)
        return _built(match, int(match["year"]), int(match["month"]), zone)
    if match := _APACHE.match(line):
        month = _MONTHS.get(match["monthname"].decode("ascii"))
        return _built(match, int(match["year"]), month, local) if month else None
    if match := _SYSLOG.match(line):
        month = _MONTHS.get(match["monthname"].decode("ascii"))
        if month is None:
            return None
        moment = _built(match, now.year, month, local)
        if moment is not None and moment > now + timedelta(days=1):
            moment = _built(match, now.year - 1, month, local)
        return moment
    if line.startswith(b"{") and (match := _JOURNAL_JSON.search(line)):
        try:
            return datetime.fromtimestamp(int(match["micros"]) / 1e6, tz=UTC)
        except (OverflowError, OSError, ValueError):  # past year 9999: no stamp that is known
            return None
    if line.startswith(b"{") and (match := _JSON_TIME.search(line)):
        return _json_time(match, local)
    if match := _LOGFMT_TIME.match(line):
        return line_time(match["text"], now, local)
    if match := _ACCESS.search(line, 0, ACCESS_STAMP_WITHIN):
        month = _MONTHS.get(match["monthname"].decode("ascii"))
        zone = _zone(match["zone"], local)
        return _built(match, int(match["year"]), month, zone) if month else None
    return None


def _json_time(match: re.Match[bytes], local: tzinfo) -> datetime | None:
    """A JSON time field's moment: its ISO text, or its number of seconds since 1970 (in
    milliseconds, microseconds or nanoseconds when it is that large)."""
    if match["text"] is not None:
        iso = _ISO.match(match["text"])
        return (
            _built(iso, int(iso["year"]), int(iso["month"]), _zone(iso["zone"], local))
            if iso
            else None
        )
    number = int(match["number"])
    scale = next(scale for limit, scale in _EPOCH_SCALES if number < limit)
    fraction = float(b"0." + match["fraction"]) if match["fraction"] and scale == 1 else 0.0
    try:
        return datetime.fromtimestamp(number / scale + fraction, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


# Seconds up to 1e11 (year 5138), then milliseconds, microseconds, nanoseconds.
_EPOCH_SCALES = ((10**11, 1), (10**14, 10**3), (10**17, 10**6), (10**20, 10**9))
