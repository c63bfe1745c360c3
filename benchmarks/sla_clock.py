"""What an SLA due time costs: `upkeep.sla.clock.due_at` (whole stretches between the instants
where counting can change) side by side with stepping minute by minute (the property tests'
oracle), for the same incidents.

It makes INCIDENTS synthetic incidents spread over 2026 (starts at whole minutes, one pause in
three), each with a P3-like target of 80 business hours (two working weeks) in Europe/Berlin
business hours 09:00-17:00 Monday to Friday off German public holidays, and times computing all
their due times both ways, alternated A B, B A for ROUNDS rounds; it checks the two agree on
every incident, then prints the medians with the spread, wall and CPU, and the ratio against the
target: due_at < 0.05x the minute stepper. `upkeep run`, `upkeep alerts send` and every site
build compute two clocks per open incident, so this is what keeps them cheap.

    nox -s bench -- sla_clock
    python benchmarks/sla_clock.py --incidents 50 --repeat 3    # a quicker look
"""

from __future__ import annotations

import argparse
import random
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
from harness import (
    Arm,
    BenchError,
    BenchmarkStart,
    CpuOf,
    Target,
    at_least,
    compare,
    median_of,
    option_parser,
    rounds_line,
    run_benchmark,
    timed,
)

from upkeep.config.support import BusinessHours
from upkeep.sla.clock import due_at

TARGET = Target("<", 0.05)  # due_at wall / minute stepping wall
HOURS = BusinessHours("Europe/Berlin", frozenset(range(5)), time(9), time(17), "DE")
MINUTES = 80 * 60
MINUTE = timedelta(minutes=1)


def main(argv: list[str] | None = None) -> int:
    parser = option_parser(__doc__)
    parser.add_argument("--incidents", type=at_least(1), default=200, help="incidents [200]")
    parser.add_argument("--repeat", type=at_least(1), default=5, help="rounds [5]")
    args = parser.parse_args(argv)
    return run_benchmark(lambda: bench(args))


def _incidents(count: int) -> list[tuple[datetime, list[tuple[datetime, datetime | None]]]]:
    chosen = random.Random(15)
    made = []
    for _ in range(count):
        start = datetime(2026, 1, 1, tzinfo=UTC) + chosen.randrange(360 * 24 * 60) * MINUTE
        pauses: list[tuple[datetime, datetime | None]] = []
        if chosen.randrange(3) == 0:
            paused = start + chosen.randrange(3 * 24 * 60) * MINUTE
            pauses.append((paused, paused + chosen.randrange(1, 2 * 24 * 60) * MINUTE))
        made.append((start, pauses))
    return made


def _stepped(start: datetime, pauses, calendar) -> datetime:
    """Minute by minute, asking the wall clock (the property tests' oracle, restated)."""
    tz, at, left = ZoneInfo(HOURS.timezone), start, MINUTES
    while True:
        local = at.astimezone(tz)
        if (
            not any(p <= at < r for p, r in pauses)
            and local.weekday() in HOURS.days
            and local.date() not in calendar
            and time(9) <= time(local.hour, local.minute) < time(17)
        ):
            left -= 1
            if left == 0:
                return at + MINUTE
        at += MINUTE


def bench(args: argparse.Namespace) -> None:
    start = BenchmarkStart.now()
    incidents = _incidents(args.incidents)
    calendar = holidays.country_holidays("DE", years=(2026, 2027))
    fast = [due_at(s, MINUTES, HOURS, p) for s, p in incidents]
    slow = [_stepped(s, p, calendar) for s, p in incidents]
    if fast != slow:
        raise BenchError("due_at and the minute stepper disagree")
    print(f"{args.incidents} incidents, 80 business hours each: both ways agree on every due time")
    arms = [
        Arm(
            "due_at",
            lambda: timed(
                lambda: [due_at(s, MINUTES, HOURS, p) for s, p in incidents], CpuOf.THIS_PROCESS
            )[0],
        ),
        Arm(
            "minute stepping",
            lambda: timed(
                lambda: [_stepped(s, p, calendar) for s, p in incidents], CpuOf.THIS_PROCESS
            )[0],
        ),
    ]
    taken = compare(arms, args.repeat)
    clock, stepped = taken["due_at"], taken["minute stepping"]
    print(f"\n{median_of(args.repeat)}:")
    print(f"  due_at:          {clock.wall_spread()} wall, {clock.median.cpu_s:.3f} s CPU")
    print(f"  minute stepping: {stepped.wall_spread()} wall, {stepped.median.cpu_s:.3f} s CPU")
    print(rounds_line(taken))
    ratio = clock.median.wall_s / stepped.median.wall_s
    cpu_ratio = clock.median.cpu_s / stepped.median.cpu_s
    print(
        f"due_at / minute stepping: {ratio:.4f}x wall, {cpu_ratio:.4f}x CPU "
        f"(target {TARGET}x) {TARGET.verdict(ratio)}"
    )
    print(f"\n{start.closing_lines()}")


if __name__ == "__main__":
    raise SystemExit(main())
