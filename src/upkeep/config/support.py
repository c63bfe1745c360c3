"""Responsible for the `support:` section of `upkeep.yml`: how users reach support (e-mail,
ticket URL, chat), the business hours and public holidays the SLA clock counts in, and per
severity (P1-P4) the response and resolution targets and the escalation path (which on-call
schedule, which role), each refused at load with the key named."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from upkeep.config.reader import Section
from upkeep.errors import ConfigError

__all__ = ["BusinessHours", "SEVERITIES", "SeverityTarget", "Support", "read_support"]

SEVERITIES = ("P1", "P2", "P3", "P4")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CLOCKS = ("business", "always")
_DURATION = re.compile(r"(?P<amount>[1-9]\d*)(?P<unit>[mhd])")
_MINUTES = {"m": 1, "h": 60, "d": 24 * 60}
# A response or resolution target longer than a quarter is no target; a bound also keeps a
# business-hours clock's due time within the clock's reach.
MAX_TARGET_MINUTES = 90 * 24 * 60
_HHMM = re.compile(r"(?P<h>[01]\d|2[0-4]):(?P<m>[0-5]\d)")


@dataclass(frozen=True)
class BusinessHours:
    """When the business clock runs: on `days` (0 = Monday), from `start` to `end` local time
    (`end` None: until midnight), in `timezone`, except on the public holidays of `country`
    (and `subdivision`) as the offline `holidays` library knows them."""

    timezone: str = "UTC"
    days: frozenset[int] = frozenset(range(5))
    start: time = time(9, 0)
    end: time | None = time(17, 0)
    country: str | None = None
    subdivision: str | None = None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class SeverityTarget:
    """One severity's promise: first response within `response_min` and resolution within
    `resolution_min` minutes of counted time (`clock`: business hours, or always), and whom it
    escalates to (the on-call `schedule`, the `role` that takes over)."""

    name: str
    description: str
    response_min: int
    resolution_min: int
    clock: str = "business"
    schedule: str | None = None
    role: str | None = None


@dataclass(frozen=True)
class Support:
    """The `support:` section; `configured` is False when upkeep.yml has none."""

    email: str | None = None
    ticket_url: str | None = None
    chat: str | None = None
    hours: BusinessHours = field(default_factory=BusinessHours)
    severities: tuple[SeverityTarget, ...] = ()
    warn_at: float = 0.8

    @property
    def configured(self) -> bool:
        return bool(self.severities)

    def severity(self, name: str) -> SeverityTarget:
        """The target of severity `name`; ConfigError naming the ones there are."""
        for target in self.severities:
            if target.name == name:
                return target
        names = ", ".join(t.name for t in self.severities) or "(support: not configured)"
        raise ConfigError(f"support: no severity {name!r}; expected one of {names}")


def read_support(s: Section | None, timezone: str, schedules: tuple[str, ...] | None) -> Support:
    if s is None:
        return Support()
    channels = s.section("channels")
    email = ticket_url = chat = None
    if channels is not None:
        email = channels.str("email", None)
        ticket_url = channels.str("ticket_url", None)
        chat = channels.str("chat", None)
        channels.done()
        if email is not None and "@" not in email:
            raise ConfigError(
                f"{s.file}: support.channels.email: expected an address, got {email!r}"
            )
        if ticket_url is not None and not ticket_url.startswith(("https://", "http://")):
            raise ConfigError(
                f"{s.file}: support.channels.ticket_url: expected an http(s) URL, "
                f"got {ticket_url!r}"
            )
    hours = _hours(s.section("business_hours"), timezone)
    warn_at = s.number("warn_at", 0.8)
    if not 0 < warn_at < 1:
        raise ConfigError(
            f"{s.file}: support.warn_at: expected a fraction between 0 and 1, got {warn_at}"
        )
    levels = s.section("severities")
    if levels is None:
        raise ConfigError(f"{s.file}: support.severities: expected P1-P4 targets, got nothing")
    sections = {name: levels.section(name) for name in SEVERITIES}
    targets = tuple(
        _severity(section, name, schedules)
        for name, section in sections.items()
        if section is not None
    )
    levels.done()
    s.done()
    if not targets:
        raise ConfigError(f"{s.file}: support.severities: expected at least one of P1-P4")
    return Support(email, ticket_url, chat, hours, targets, warn_at)


def _hours(s: Section | None, timezone: str) -> BusinessHours:
    if s is None:
        return BusinessHours(timezone=timezone)
    zone = s.str("timezone", timezone)
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{s.file}: {s.where}.timezone: expected an IANA time zone such as Europe/Berlin, "
            f"got {zone!r}"
        ) from None
    days = s.strings("days", WEEKDAYS[:5])
    unknown = [day for day in days if day not in WEEKDAYS]
    if unknown or not days:
        raise ConfigError(
            f"{s.file}: {s.where}.days: expected weekdays among {', '.join(WEEKDAYS)}, "
            f"got {', '.join(unknown) or 'none'}"
        )
    start = _clock_time(s, "start", "09:00")
    end = _clock_time(s, "end", "17:00")
    country = s.str("holidays", None)
    subdivision = s.str("subdivision", None)
    s.done()
    if start is None:
        raise ConfigError(f"{s.file}: {s.where}.start: expected a time before 24:00")
    if end is not None and end <= start:
        raise ConfigError(f"{s.file}: {s.where}.end: expected a time after start ({start:%H:%M})")
    if country is not None:
        import holidays

        try:
            holidays.country_holidays(country, subdiv=subdivision)
        except NotImplementedError as err:
            raise ConfigError(
                f"{s.file}: {s.where}.holidays: expected a country code the holidays library "
                f"knows (such as DE, FR, US) and its subdivision, got {country!r}: {err}"
            ) from None
    return BusinessHours(
        zone, frozenset(WEEKDAYS.index(d) for d in days), start, end, country, subdivision
    )


def _clock_time(s: Section, key: str, default: str) -> time | None:
    """`HH:MM` as a time; 24:00 as None (midnight at the end of the day)."""
    text = s.str(key, default)
    match = _HHMM.fullmatch(text)
    if match is None or (match["h"] == "24" and match["m"] != "00"):
        raise ConfigError(
            f"{s.file}: {s.where}.{key}: expected HH:MM (such as 09:00), got {text!r}"
        )
    if match["h"] == "24":
        return None
    return time(int(match["h"]), int(match["m"]))


def _severity(s: Section | None, name: str, schedules: tuple[str, ...] | None) -> SeverityTarget:
    assert s is not None
    description = s.str("description", name)
    response = _minutes(s, "response")
    resolution = _minutes(s, "resolution")
    clock = s.choice("clock", CLOCKS, "business")
    escalate = s.section("escalate")
    schedule = role = None
    if escalate is not None:
        schedule = escalate.str("schedule", None)
        role = escalate.str("role", None)
        escalate.done()
        if schedule is not None and schedules is not None and schedule not in schedules:
            known = ", ".join(schedules) or "none (no oncall.yml)"
            raise ConfigError(
                f"{s.file}: {s.where}.escalate.schedule: expected an on-call schedule "
                f"(one of: {known}), got {schedule!r}"
            )
    s.done()
    if resolution < response:
        raise ConfigError(
            f"{s.file}: {s.where}.resolution: expected at least the response time "
            f"({response} min), got {resolution} min"
        )
    return SeverityTarget(name, description, response, resolution, clock, schedule, role)


def _minutes(s: Section, key: str) -> int:
    text = s.str(key)
    match = _DURATION.fullmatch(text)
    if match is None:
        raise ConfigError(
            f"{s.file}: {s.where}.{key}: expected a duration such as 30m, 4h or 2d, got {text!r}"
        )
    minutes = int(match["amount"]) * _MINUTES[match["unit"]]
    if minutes > MAX_TARGET_MINUTES:
        raise ConfigError(
            f"{s.file}: {s.where}.{key}: expected a duration of at most"
            f" {MAX_TARGET_MINUTES // _MINUTES['d']}d, got {text!r}"
        )
    return minutes
