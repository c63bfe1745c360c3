"""Responsible for a cron expression taken apart: the minutes, hours, days of the month, months
and weekdays it fires on as plain sets of numbers, and whether its day fields are joined by AND
(one of them is `*`) or by OR (both restricted, as Vixie cron and cronie read them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cronsim import CronSim

# cronsim's extensions (`L`, `W`, `#`) and what no other scheduler here reads the same way.
_RANGES = {
    "minutes": range(0, 60),
    "hours": range(0, 24),
    "days": range(1, 32),
    "months": range(1, 13),
    "weekdays": range(0, 8),
}


@dataclass(frozen=True)
class CronFields:
    """The five fields of a cron expression as sets (weekday 0 is Sunday; 7 is folded into 0)."""

    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    day_and: bool

    @property
    def every_day_of_month(self) -> bool:
        return self.days == frozenset(_RANGES["days"])

    @property
    def every_weekday(self) -> bool:
        return self.weekdays == frozenset(range(0, 7))

    @property
    def every_month(self) -> bool:
        return self.months == frozenset(_RANGES["months"])


def parse_fields(expression: str) -> CronFields:
    """The fields of a valid five-field expression; ValueError naming an extension (`L`, `W`,
    `#`) that only cronsim reads, since the other schedulers would read it otherwise or not
    at all."""
    sim = CronSim(expression, datetime(2000, 1, 1))
    sets: dict[str, frozenset[int]] = {}
    for name, allowed in _RANGES.items():
        values = getattr(sim, name)
        if not all(isinstance(v, int) and v in allowed for v in values):
            raise ValueError(
                f"{expression!r} uses L, W or # (last day, nearest weekday, nth weekday), which "
                "systemd, Kubernetes and GitHub's cron do not read the same way"
            )
        sets[name] = frozenset(values)
    weekdays = frozenset(0 if day == 7 else day for day in sets["weekdays"])
    return CronFields(
        expression=expression,
        minutes=sets["minutes"],
        hours=sets["hours"],
        days=sets["days"],
        months=sets["months"],
        weekdays=weekdays,
        day_and=bool(sim.day_and),
    )


def portable_expression(fields: CronFields) -> str:
    """The expression with weekday 7 (Sunday, as cronsim and Vixie cron read it, written or
    reached by a step from a start) written 0 and the weekday field given as its values:
    Kubernetes and GitHub's cron take 0-6 only, and step to 6 at most. Only a field that does
    not start with `*` is rewritten, so which day fields must both match is kept."""
    parts = fields.expression.split()
    if parts[4].startswith("*"):
        return fields.expression  # `*/N` starts from Sunday, 0: no 7 to fold
    raw = CronSim(fields.expression, datetime(2000, 1, 1)).weekdays
    if 7 not in raw:  # reached as written (`7`, `5-7`) or by a step (`1/2`, `MON/2`)
        return fields.expression
    parts[4] = ",".join(str(day) for day in sorted(fields.weekdays))
    return " ".join(parts)


def star_step_refusal(fields: CronFields, scheduler: str, *, star_one: bool = True) -> str | None:
    """Why `scheduler` (robfig's cron in Kubernetes, croniter in Airflow) would fire at other
    times: both day fields restricted, one of them `*/N`. cronsim, like Vixie cron, reads that
    as "both must match"; those read it as "either"."""
    day_field, weekday_field = fields.expression.split()[2], fields.expression.split()[4]

    def stepped(field: str) -> bool:
        # robfig keeps `*/1` as `*` (`star_one`); croniter reads any `*/N` as a list of days.
        return field.startswith("*/") and (field != "*/1" or not star_one)

    if fields.day_and and (
        (stepped(day_field) and not fields.every_weekday)
        or (stepped(weekday_field) and not fields.every_day_of_month)
    ):
        return (
            f"{fields.expression!r} restricts both the day of the month and the weekday with a"
            f" `*/N` step, which {scheduler} reads as either day matching, not both as upkeep"
            " does; name the days as a list or a range instead"
        )
    return None
