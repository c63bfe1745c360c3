"""Responsible for finding where a schedule meets a daylight-saving change: the local times a
time zone skips (clocks forward) or repeats (clocks back), and the first of them a cron
expression fires on.

Schedulers disagree exactly there. For a job at 02:30 on the day Europe/Berlin skips 02:00-03:00,
upkeep's own schedule (cronsim, after Debian's cron) runs it at 03:00; systemd skips that day;
cronie with CRON_TZ can miss jobs near the machine's own change (cronie issue #124);
Kubernetes' CronJob controller (robfig/cron v3) skips it. On the day the clocks go back, some run
a job in the repeated hour once, some twice. So a schedule that fires in such
an hour cannot be exported to a scheduler that evaluates local time without drifting from
upkeep's own, and `upkeep schedule export` refuses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from cronsim import CronSim

# Weekdays and dates repeat every 28 years (within a century): a schedule that meets no change
# in that long meets none under the same rules.
HORIZON_YEARS = 28


@dataclass(frozen=True)
class Transition:
    """One change of a zone's UTC offset: `at` (UTC) and the offsets before and after."""

    at: datetime
    before: timedelta
    after: timedelta

    @property
    def skips(self) -> bool:
        return self.after > self.before

    def local_window(self) -> tuple[datetime, datetime]:
        """The naive local times skipped (clocks forward) or repeated (clocks back)."""
        naive = self.at.replace(tzinfo=None)
        low, high = sorted((naive + self.before, naive + self.after))
        return low, high


def transitions(zone: ZoneInfo, start: datetime, years: int = HORIZON_YEARS) -> list[Transition]:
    """Every change of `zone`'s UTC offset from `start` (to the hour) for `years` years, to the
    minute."""
    hour = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return list(_transitions(zone, hour, years))


@lru_cache(maxsize=64)
def _transitions(zone: ZoneInfo, start: datetime, years: int) -> tuple[Transition, ...]:
    found: list[Transition] = []
    moment = start
    end = moment + timedelta(days=366 * years)
    step = timedelta(hours=12)
    offset = moment.astimezone(zone).utcoffset()
    while moment < end:
        later = moment + step
        later_offset = later.astimezone(zone).utcoffset()
        if later_offset != offset:
            low, high = moment, later  # bisect to the minute the offset changes
            while high - low > timedelta(minutes=1):
                middle = low + (high - low) / 2
                middle = middle.replace(second=0, microsecond=0)
                if middle.astimezone(zone).utcoffset() == offset:
                    low = middle
                else:
                    high = middle
            assert offset is not None and later_offset is not None
            found.append(Transition(high, offset, later_offset))
            offset = later_offset
        moment = later
    return tuple(found)


def first_ambiguous_fire(
    expression: str, zone: ZoneInfo, start: datetime, years: int = HORIZON_YEARS
) -> tuple[datetime, Transition] | None:
    """The first local time (naive) on which `expression` fires inside an hour `zone` skips or
    repeats within `years` years of `start`, with that change; None when there is none."""
    for change in transitions(zone, start, years):
        low, high = change.local_window()
        fire = next(CronSim(expression, low - timedelta(minutes=1)))
        if fire < high:
            return fire, change
    return None


def describe(fire: datetime, change: Transition, zone: ZoneInfo) -> str:
    """`it fires at 2027-03-28 02:30, a time Europe/Berlin skips (clocks go forward)`."""
    what = "skips (clocks go forward)" if change.skips else "has twice (clocks go back)"
    return f"it fires at {fire:%Y-%m-%d %H:%M}, a local time {zone.key} {what}"
