"""Responsible for the `alerts:` section of `upkeep.yml`: where messages go (`targets`, each an
apprise URL given only as a secret reference, or a local inbox folder), which statuses each
target is told about, how often a runbook that stays failing is recalled (`remind_every`) and
where run pages are published (`site_url`, for the link in a message)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from upkeep.config.reader import Section
from upkeep.errors import ConfigError
from upkeep.records import Status
from upkeep.secrets import is_reference

__all__ = ["AlertSettings", "AlertTarget", "read_alerts"]

ALERTING = (Status.WARN, Status.FAIL, Status.ERROR)
_PERIOD = re.compile(r"(?P<amount>[1-9]\d*)(?P<unit>[mhd])")
_PERIOD_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}


@dataclass(frozen=True)
class AlertTarget:
    """Where messages go: an apprise URL behind the secret reference `url` (env:NAME or
    file:/path; the URL often holds a token), or a local `inbox` folder that receives one JSON
    file per message. `on`: the statuses that alert it (`statuses:`; fail and error unless
    said). `schedule`: the on-call schedule whose
    person the message names."""

    name: str
    url: str | None = None
    inbox: Path | None = None
    on: frozenset[Status] = frozenset({Status.FAIL, Status.ERROR})
    schedule: str | None = None


@dataclass(frozen=True)
class AlertSettings:
    targets: tuple[AlertTarget, ...] = ()
    remind_every: timedelta | None = timedelta(hours=4)
    site_url: str | None = None


def read_alerts(s: Section | None, base: Path, schedules: tuple[str, ...] | None) -> AlertSettings:
    if s is None:
        return AlertSettings()
    settings = AlertSettings(
        targets=s.items("targets", lambda t: _target(t, base, schedules)),
        remind_every=_period(s),
        site_url=_site_url(s),
    )
    s.done()
    names = [target.name for target in settings.targets]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"{s.file}: alerts.targets: {name!r} is named twice")
    return settings


def _target(s: Section, base: Path, schedules: tuple[str, ...] | None) -> AlertTarget:
    name = s.name("name")
    url = s.str("url", None)
    inbox = s.folder("inbox", base, "a folder each alert is written into as a file", None)
    on = s.strings("statuses", ("fail", "error"))
    schedule = s.str("schedule", None)
    s.done()
    if (url is None) == (inbox is None):
        raise ConfigError(
            f"{s.file}: {s.where}: expected exactly one of url (an apprise URL as env:NAME or "
            "file:/path) or inbox (a local folder)"
        )
    if url is not None and not is_reference(url):
        raise ConfigError(
            f"{s.file}: {s.where}.url: expected a secret reference such as env:UPKEEP_ALERT_URL "
            "or file:/etc/upkeep/alert-url holding the apprise URL (it usually holds a token), "
            "got a literal value"
        )
    statuses = []
    for word in on:
        if word not in {status.value for status in ALERTING}:
            s.fail("statuses", "statuses among warn, fail, error", list(on))
        statuses.append(Status(word))
    if schedule is not None and schedules is not None and schedule not in schedules:
        known = ", ".join(schedules) or "none (no oncall.yml)"
        raise ConfigError(
            f"{s.file}: {s.where}.schedule: no on-call schedule {schedule!r}; expected one of: "
            f"{known}"
        )
    return AlertTarget(name, url, inbox, frozenset(statuses), schedule)


def _period(s: Section) -> timedelta | None:
    value = s.get("remind_every", str, "a period such as 30m, 4h or 1d, or never", "4h")
    if value.strip() == "never":
        return None
    match = _PERIOD.fullmatch(value.strip())
    if match is None:
        s.fail("remind_every", "a period such as 30m, 4h or 1d, or never", value)
    assert match is not None
    expected = "a period such as 30m, 4h or 1d, or never"
    return s.period(
        "remind_every", int(match["amount"]), _PERIOD_UNITS[match["unit"]], value, expected
    )


def _site_url(s: Section) -> str | None:
    value = s.str("site_url", None)
    if value is not None and not re.match(r"https?://[^\s/]+", value):
        s.fail("site_url", "the published site's address, such as https://ops.example.org/", value)
    return value.rstrip("/") + "/" if value else None
