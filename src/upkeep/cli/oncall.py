"""Responsible for `upkeep oncall`: who is on call now (or at `--at`), per schedule, and the
schedule as an iCalendar file to subscribe to (`--ical`)."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import click

from upkeep.cli.console import format_time, print_json, print_table
from upkeep.cli.options import LAST_YEAR, GlobalOptions, parse_at
from upkeep.errors import UpkeepError

if TYPE_CHECKING:
    from upkeep.oncall import Shift

DEFAULT_DAYS = 90


@click.command("oncall")
@click.argument("schedule_name", metavar="[SCHEDULE]", required=False)
@click.option("--at", metavar="ISO-TIME", help="Who is on call at this time instead of now.")
@click.option("--json", "as_json", is_flag=True, help="JSON for scripts.")
@click.option(
    "--ical",
    is_flag=True,
    help="Print the shifts as an iCalendar file, from the day of --at (or today) for --days.",
)
@click.option(
    "--days",
    type=click.IntRange(1, 3660),
    help=f"With --ical: how many days of shifts [default: {DEFAULT_DAYS}].",
)
@click.pass_obj
def oncall_command(
    options: GlobalOptions,
    schedule_name: str | None,
    at: str | None,
    as_json: bool,
    ical: bool,
    days: int | None,
) -> int:
    """Who is on call, per schedule of the on-call rotation (oncall.yml beside upkeep.yml).

    Times are shown in upkeep.yml's time zone. A gap, when no layer of a schedule answers, is
    shown as NOBODY and exits 1.

    \b
    Examples:
      upkeep oncall                               # now, every schedule
      upkeep oncall ops-oncall --at 2026-12-24T20:00
      upkeep oncall --ical --days 180 > oncall.ics   # subscribe a calendar to this file
    """
    from upkeep import oncall

    config = options.load_config()
    if not config.oncall.schedules:
        raise UpkeepError(
            "no on-call rotation: expected oncall.yml beside upkeep.yml (or `oncall:` naming one);"
            " docs/reference/on-call.md says how to write it"
        )
    if as_json and ical:
        raise click.UsageError("--json and --ical print different things; choose one")
    if days is not None and not ical:
        raise click.UsageError("--days only applies with --ical")
    # An empty name is a mistyped one, not every schedule: the schedule lookup names them.
    schedules = (
        [config.oncall.schedule(schedule_name)]
        if schedule_name is not None
        else config.oncall.schedules
    )
    moment = parse_at(at, config)
    if ical:
        from upkeep.oncall.ical import calendar

        # From the start of the shift that holds the day's first minute: a calendar client
        # refreshing its subscription during the day gets the same events (and UIDs) again.
        midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        end = midnight + timedelta(days=_calendar_days(days, midnight))
        shifts = [
            shift
            for s in schedules
            for shift in oncall.shifts(s, oncall.current_shift(s, midnight).start, end)
        ]
        sys.stdout.buffer.write(calendar(shifts, datetime.now(config.tz), "upkeep on call"))
        return 0
    current = [oncall.current_shift(schedule, moment) for schedule in schedules]
    if as_json:
        print_json([_shift_json(shift, moment) for shift in current])
    else:
        _print_shifts(current, moment, config.tz)
    return 1 if any(shift.answer.who is None for shift in current) else 0


def _calendar_days(days: int | None, midnight: datetime) -> int:
    """--days, checked to end the calendar within the years --at accepts: the rotation is
    reckoned a little past the end, and past the year 9999 no date can be held."""
    if days is None:
        days = DEFAULT_DAYS
    room = (date(LAST_YEAR, 12, 31) - midnight.date()).days + 1
    if days > room:
        raise click.BadParameter(
            f"expected a number of days up to {room} from {midnight:%Y-%m-%d} (the calendar must "
            f"end within {LAST_YEAR}), got {days}",
            param_hint="--days",
        )
    return days


def _print_shifts(current: list[Shift], moment: datetime, tz: Any) -> None:
    rows = [("SCHEDULE", "ON CALL", "SINCE", "UNTIL", "BECAUSE")]
    for shift in current:
        since, until = _known_ends(shift, moment)
        rows.append(
            (
                shift.schedule,
                shift.answer.who or "NOBODY",
                format_time(since.astimezone(tz) if since else None),
                format_time(until.astimezone(tz) if until else None),
                shift.answer.source,
            )
        )
    print_table(rows)


def _shift_json(shift: Shift, moment: datetime) -> dict[str, Any]:
    override = shift.answer.override
    since, until = _known_ends(shift, moment)
    return {
        "schedule": shift.schedule,
        "who": shift.answer.who,
        "layer": shift.answer.layer,
        "override": override.reason if override else None,
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
    }


def _known_ends(shift: Shift, moment: datetime) -> tuple[datetime | None, datetime | None]:
    """The shift's start and end, None where `current_shift` cut it (it reaches further)."""
    from upkeep.oncall import CURRENT_REACH

    moment = moment.astimezone(UTC)  # as current_shift cut it: 112 days may cross a DST change
    since = None if shift.start == moment - CURRENT_REACH else shift.start
    until = None if shift.end == moment + CURRENT_REACH else shift.end
    return since, until
