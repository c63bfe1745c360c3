"""Responsible for the on-call page, `on-call.md`: each schedule of `oncall.yml` (its layers,
its overrides) and who is on call for the two weeks from the day the site was built, in
upkeep.yml's time zone. A gap in a rotation is shown as NOBODY, in bold."""

from __future__ import annotations

from datetime import datetime, timedelta

from upkeep.config.oncall import DAYS, Layer, Schedule
from upkeep.oncall import current_shift, shifts
from upkeep.site.markup import frontmatter, table_cell
from upkeep.site.model import SiteModel

PAGE = "on-call.md"
AHEAD = timedelta(days=14)


def oncall_page(model: SiteModel, now: datetime | None = None) -> str:
    config = model.config
    now = (now or datetime.now(config.tz)).astimezone(config.tz)
    lines = [
        frontmatter("On call"),
        "# On call\n",
        "Who answers when a runbook fails, as `oncall.yml` holds the rotation (policy, reviewed "
        "in git). `upkeep oncall` says who is on call now; `upkeep oncall --ical` exports the "
        "shifts for a calendar to subscribe to. Times in "
        f"{config.timezone}; shifts from {now:%Y-%m-%d %H:%M %Z}, when this site was built.\n",
    ]
    if not config.oncall.schedules:
        return "\n".join(
            [*lines, "No on-call rotation: there is no `oncall.yml` beside `upkeep.yml`.\n"]
        )
    for schedule in config.oncall.schedules:
        lines += _schedule_lines(schedule, now, config.tz)
    return "\n".join(lines) + "\n"


def _schedule_lines(schedule: Schedule, now: datetime, tz) -> list[str]:
    lines = [
        f"## {table_cell(schedule.name)}\n",
        f"Handoffs at local time in {schedule.timezone}; a later layer answers before an "
        "earlier one where it answers, an override before any layer.\n",
        "| Layer | People, in turn | First shift | Hands off every | Answers |",
        "|---|---|---|---|---|",
    ]
    for layer in schedule.layers:
        lines.append(
            f"| {table_cell(layer.name)} | {table_cell(', '.join(layer.people))} | "
            f"{layer.start:%Y-%m-%d %H:%M} | {_period(layer.handoff_every)} | {_hours(layer)} |"
        )
    if schedule.overrides:
        lines += ["", "| Override | From | Until | Why |", "|---|---|---|---|"]
        for override in schedule.overrides:
            lines.append(
                f"| {table_cell(override.who)} | {override.start:%Y-%m-%d %H:%M} | "
                f"{override.end:%Y-%m-%d %H:%M} | {table_cell(override.reason)} |"
            )
    start = current_shift(schedule, now).start
    lines += ["", "| On call | From | Until | Because |", "|---|---|---|---|"]
    for shift in shifts(schedule, start, now + AHEAD):
        who = table_cell(shift.answer.who) if shift.answer.who else "**NOBODY**"
        lines.append(
            f"| {who} | {shift.start.astimezone(tz):%a %Y-%m-%d %H:%M} | "
            f"{shift.end.astimezone(tz):%a %Y-%m-%d %H:%M} | {table_cell(shift.answer.source)} |"
        )
    return [*lines, ""]


def _period(period: timedelta) -> str:
    hours = int(period.total_seconds() // 3600)
    if hours % (24 * 7) == 0:
        return f"{hours // (24 * 7)} week" + ("s" if hours != 24 * 7 else "")
    if hours % 24 == 0:
        return f"{hours // 24} day" + ("s" if hours != 24 else "")
    return f"{hours} hours" if hours != 1 else "1 hour"


def _hours(layer: Layer) -> str:
    if layer.restrict is None:
        return "always"
    days = ", ".join(day for index, day in enumerate(DAYS) if index in layer.restrict.days)
    return f"{days}, {layer.restrict.start:%H:%M}–{layer.restrict.end:%H:%M}"
