"""Responsible for the `escalation:` section of `upkeep.yml`: which runbooks are critical (a
`fail` or `error` of theirs pages someone; `warn` never does), and per severity the policy that
pages: levels, each paging someone (the person on call in a schedule, or a named role) through
alert targets and waiting a while for an acknowledgement before the next level is paged, and how
many times the levels are gone through again when nobody acknowledges. Checked at load."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from upkeep.config.reader import Section
from upkeep.errors import ConfigError
from upkeep.records import Status

__all__ = [
    "ONCALL_PREFIX",
    "PAGING",
    "Escalation",
    "EscalationLevel",
    "EscalationPolicy",
    "read_escalation",
]

ONCALL_PREFIX = "oncall:"
PAGING = (Status.FAIL, Status.ERROR)  # the severities that page; warn never does
_PERIOD_HELP = "a period such as 15m, 1h or 1d"
_PERIOD_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}
LONGEST_WAIT = timedelta(days=7)
# Rounds through the levels after the first while nobody acks: past this many a page is noise
# (and each round is worked out on every `alerts send`).
MAX_REPEAT = 100


@dataclass(frozen=True)
class EscalationLevel:
    """`page`: whom this level pages, `oncall:SCHEDULE` (the person on call there at the
    moment) or a role's name; `targets`: the alert targets the page goes to; `wait`: how long
    to wait for an acknowledgement before the next level is paged."""

    page: str
    targets: tuple[str, ...]
    wait: timedelta

    @property
    def schedule(self) -> str | None:
        return (
            self.page.removeprefix(ONCALL_PREFIX) if self.page.startswith(ONCALL_PREFIX) else None
        )


@dataclass(frozen=True)
class EscalationPolicy:
    """The levels paged in turn, then gone through `repeat` more times while nobody acks."""

    levels: tuple[EscalationLevel, ...]
    repeat: int = 0

    def offsets(self) -> tuple[tuple[int, int, timedelta], ...]:
        """Every page of the policy in order: (round, level index, delay after the first)."""
        steps = []
        delay = timedelta(0)
        for round_ in range(self.repeat + 1):
            for index, level in enumerate(self.levels):
                steps.append((round_, index, delay))
                delay += level.wait
        return tuple(steps)


@dataclass(frozen=True)
class Escalation:
    """The critical runbooks and a policy per paging severity (`fail`, `error`)."""

    critical: frozenset[str] = frozenset()
    policies: tuple[tuple[Status, EscalationPolicy], ...] = ()

    def policy(self, runbook: str, status: Status) -> EscalationPolicy | None:
        """The policy that pages for `runbook` ending in `status`; None when nothing pages."""
        if runbook not in self.critical:
            return None
        return dict(self.policies).get(status)


def read_escalation(
    s: Section | None, targets: tuple[str, ...], schedules: tuple[str, ...] | None
) -> Escalation:
    if s is None:
        return Escalation()
    critical = s.strings("critical", ())
    policies = []
    for severity in ("fail", "error"):
        section = s.section(severity)
        if section is not None:
            policies.append((Status(severity), _policy(section, targets, schedules)))
    if "warn" in s.data:
        s.fail(
            "warn", "no policy for warn: a warning never pages (only fail and error)", "a policy"
        )
    s.done()
    if critical and not policies:
        s.fail("fail", "a policy for fail (and optionally error) when runbooks are critical", None)
    by_status = dict(policies)
    if Status.FAIL in by_status and Status.ERROR not in by_status:
        policies.append((Status.ERROR, by_status[Status.FAIL]))  # an error pages as a fail does
    return Escalation(frozenset(critical), tuple(policies))


def _policy(
    s: Section, targets: tuple[str, ...], schedules: tuple[str, ...] | None
) -> EscalationPolicy:
    levels = s.items("levels", lambda level: _level(level, targets, schedules))
    repeat = s.int("repeat", 0, maximum=MAX_REPEAT)
    s.done()
    if not levels:
        s.fail("levels", "at least one level (the first: page: oncall:SCHEDULE)", [])
    return EscalationPolicy(levels, repeat)


def _level(
    s: Section, targets: tuple[str, ...], schedules: tuple[str, ...] | None
) -> EscalationLevel:
    page = s.str("page").strip()
    names = s.strings("targets")
    wait = _wait(s)
    s.done()
    named = page.removeprefix(ONCALL_PREFIX)
    if page.startswith(ONCALL_PREFIX) and schedules is not None and named not in schedules:
        known = ", ".join(schedules) or "none (no oncall.yml)"
        raise ConfigError(
            f"{s.file}: {s.where}.page: no on-call schedule {named!r}; "
            f"expected oncall: and one of: {known}"
        )
    unknown = [name for name in names if name not in targets]
    if unknown or not names:
        known = ", ".join(targets) or "none (no alerts.targets)"
        raise ConfigError(
            f"{s.file}: {s.where}.targets: expected names of alerts.targets ({known}), got "
            f"{', '.join(unknown) or 'none'}"
        )
    return EscalationLevel(page, names, wait)


def _wait(s: Section) -> timedelta:
    value = s.get("wait", str, _PERIOD_HELP, "30m").strip()
    amount, unit = value[:-1], value[-1:]
    if not amount.isdigit() or int(amount) == 0 or unit not in _PERIOD_UNITS:
        s.fail("wait", _PERIOD_HELP, value)
    if int(amount) > LONGEST_WAIT / _PERIOD_UNITS[unit]:  # compared before it is made
        s.fail("wait", f"{_PERIOD_HELP}, at most 7d", value)
    return int(amount) * _PERIOD_UNITS[unit]
