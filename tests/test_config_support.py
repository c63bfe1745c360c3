"""upkeep.config.support: the `support:` section (channels, business hours and holidays, P1-P4
targets and escalation), read and refused at load (and `upkeep list` refusing such a config
with exit 2, nothing run)."""

from __future__ import annotations

import textwrap
from datetime import time
from pathlib import Path

import pytest
from helpers.project import Project

from upkeep.config import load_config
from upkeep.config.support import Support
from upkeep.errors import ConfigError

BASE = "version: 1\ntimezone: Europe/Berlin\n"
GOOD = """\
support:
  channels: {email: help@example.org, ticket_url: "https://t.example.org/new", chat: "#help"}
  business_hours: {days: [mon, tue, wed, thu, fri], start: "08:30", end: "24:00", holidays: DE,
                   subdivision: BY}
  severities:
    P1: {response: 15m, resolution: 4h, clock: always}
    P3: {description: slow, response: 1d, resolution: 5d}
"""


def load(tmp_path: Path, section: str):
    path = tmp_path / "upkeep.yml"
    path.write_text(BASE + textwrap.dedent(section))
    return load_config(path)


def test_without_the_section_support_is_not_configured(tmp_path: Path) -> None:
    support = load(tmp_path, "").support
    assert support == Support() and not support.configured


def test_channels_hours_holidays_and_targets_are_read(tmp_path: Path) -> None:
    support = load(tmp_path, GOOD).support
    assert (support.email, support.chat) == ("help@example.org", "#help")
    hours = support.hours
    assert hours.timezone == "Europe/Berlin"  # upkeep.yml's unless said
    assert (hours.start, hours.end, hours.days) == (time(8, 30), None, frozenset(range(5)))
    assert (hours.country, hours.subdivision) == ("DE", "BY")
    assert [t.name for t in support.severities] == ["P1", "P3"]
    p1, p3 = support.severities
    assert (p1.response_min, p1.resolution_min, p1.clock) == (15, 240, "always")
    assert (p3.response_min, p3.resolution_min, p3.clock) == (1440, 7200, "business")
    assert support.warn_at == 0.8
    with pytest.raises(ConfigError, match="no severity 'P2'; expected one of P1, P3"):
        support.severity("P2")


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("severities: {}", "support.severities: expected at least one of P1-P4"),
        ("severities: {P5: {response: 1h, resolution: 2h}}", "support.severities.P5: unknown key"),
        (
            "severities: {P1: {response: soon, resolution: 2h}}",
            "support.severities.P1.response: expected a duration such as 30m",
        ),
        (
            # a bound: 99999999999999999999d overflowed the incident clock after passing check
            "severities: {P1: {response: 1h, resolution: 91d}}",
            "support.severities.P1.resolution: expected a duration of at most 90d, got '91d'",
        ),
        (
            "severities: {P1: {response: 3h, resolution: 2h}}",
            "support.severities.P1.resolution: expected at least the response time (180 min)",
        ),
        (
            "severities: {P1: {response: 1h, resolution: 2h, clock: weekdays}}",
            "support.severities.P1.clock",
        ),
        (
            "severities: {P1: {response: 1h, resolution: 2h, escalate: {schedule: nobody}}}",
            "support.severities.P1.escalate.schedule: expected an on-call schedule",
        ),
        (
            "business_hours: {holidays: XX}\nseverities: {P1: {response: 1h, resolution: 2h}}",
            "support.business_hours.holidays: expected a country code",
        ),
        (
            "business_hours: {start: '17:00', end: '09:00'}\n"
            "severities: {P1: {response: 1h, resolution: 2h}}",
            "support.business_hours.end: expected a time after start (17:00)",
        ),
        (
            "business_hours: {days: [monday]}\nseverities: {P1: {response: 1h, resolution: 2h}}",
            "support.business_hours.days: expected weekdays",
        ),
        (
            "channels: {ticket_url: tickets}\nseverities: {P1: {response: 1h, resolution: 2h}}",
            "support.channels.ticket_url: expected an http(s) URL",
        ),
        (
            "warn_at: 1.5\nseverities: {P1: {response: 1h, resolution: 2h}}",
            "support.warn_at: expected a fraction between 0 and 1",
        ),
    ],
)
def test_a_bad_section_is_refused_naming_the_key(tmp_path: Path, section: str, message: str):
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, "support:\n" + textwrap.indent(section, "  ") + "\n")
    assert message in str(caught.value)


def test_the_command_line_refuses_a_bad_section_with_exit_2(make_project) -> None:
    project: Project = make_project(
        BASE + "support:\n  severities: {P2: {response: 1h, resolution: 30m}}\n"
    )
    result = project.upkeep_in_process("list")
    assert result.code == 2
    assert "support.severities.P2.resolution: expected at least the response time" in result.text
    assert not project.evidence.exists()
