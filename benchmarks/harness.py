"""Responsible for what every side-by-side comparison in `benchmarks/` needs, and nothing more.

Wall and CPU time of a callable or a child process (`Timing`, `timed`, `timed_command`), a child
process whose failure becomes a `BenchError` carrying its output (`run_command`), rounds taken in
turn so that no arm always goes first (`rounds_in_turn`, `compare`) and summarised as a median
with the spread (`Rounds`), targets with their PASS/MISS verdict (`Target`), progress notes, the
load average before and after, a scratch directory kept or removed (`scratch_directory`), and the
exit contract shared by every benchmark (`run_benchmark`: 0 whatever the figures, 1 only when
something failed to run). It knows nothing of what is being compared: each benchmark script says
what it times and prints its own table.
"""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Literal, TypeVar

T = TypeVar("T")


class BenchError(Exception):
    """Something a benchmark ran failed, or two contenders disagreed: the figures would mean
    nothing. The message says what, with the failed command's output."""


# ---------------------------------------------------------------- options


def option_parser(docstring: str | None) -> argparse.ArgumentParser:
    """An argument parser described by the first line of the benchmark's docstring."""
    return argparse.ArgumentParser(description=(docstring or "").strip().splitlines()[0])


def at_least(minimum: int) -> Callable[[str], int]:
    """An argparse `type` for an integer option that must be at least `minimum`."""

    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {value}")
        return value

    parse.__name__ = "int"  # argparse says "invalid int value" for text that is no integer
    return parse


# ---------------------------------------------------------------- timing


@dataclass(frozen=True)
class Timing:
    """Wall-clock seconds and CPU seconds (user + sys) of one measured thing."""

    wall_s: float
    cpu_s: float

    def text(self, spec: str = "7.2f") -> str:
        """Both figures as `<wall> s wall <cpu> s CPU`, each formatted with `spec`."""
        return f"{self.wall_s:{spec}} s wall {self.cpu_s:{spec}} s CPU"


class CpuOf(Enum):
    """Whose CPU time a measurement counts."""

    CHILDREN = (resource.RUSAGE_CHILDREN,)  # child processes waited for (reaped) meanwhile
    THIS_PROCESS = (resource.RUSAGE_SELF,)
    BOTH = (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)


def cpu_seconds(of: CpuOf) -> float:
    """User + sys seconds used so far by `of`."""
    total = 0.0
    for who in of.value:
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def timed(action: Callable[[], T], cpu_of: CpuOf = CpuOf.CHILDREN) -> tuple[Timing, T]:
    """Run `action` once; its Timing (CPU counted for `cpu_of`) and what it returned."""
    cpu_before, started = cpu_seconds(cpu_of), time.perf_counter()
    value = action()
    return Timing(time.perf_counter() - started, cpu_seconds(cpu_of) - cpu_before), value


def run_command(
    cmd: Sequence[str],
    what: str | None = None,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    ok_codes: Sequence[int] = (0,),
) -> subprocess.CompletedProcess[str]:
    """Run `cmd` to the end with its output captured; a BenchError naming it (`what`, or the
    command itself) with its output when it cannot start or exits with a code not in `ok_codes`.
    `env` replaces the environment when given."""
    what = what or shlex.join(cmd)
    try:
        proc = subprocess.run(
            list(cmd),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            capture_output=True,
            text=True,
        )
    except OSError as exc:
        raise BenchError(f"{what} could not start: {exc}\n$ {shlex.join(cmd)}") from exc
    if proc.returncode not in ok_codes:
        raise BenchError(
            f"{what} exited {proc.returncode}\n$ {shlex.join(cmd)}\n"
            f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
        )
    return proc


def timed_command(
    cmd: Sequence[str],
    what: str | None = None,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    ok_codes: Sequence[int] = (0,),
) -> tuple[Timing, subprocess.CompletedProcess[str]]:
    """`run_command` timed: wall time, and the CPU time of the child and all it started."""
    return timed(lambda: run_command(cmd, what, cwd=cwd, env=env, ok_codes=ok_codes))


# ---------------------------------------------------------------- rounds


@dataclass(frozen=True)
class Rounds:
    """One arm's timings, round by round, and what they sum up to."""

    timings: tuple[Timing, ...]

    def __post_init__(self) -> None:
        if not self.timings:
            raise ValueError("Rounds needs at least one timing")

    @property
    def median(self) -> Timing:
        """The median wall time and the median CPU time (each on its own)."""
        return Timing(
            statistics.median(t.wall_s for t in self.timings),
            statistics.median(t.cpu_s for t in self.timings),
        )

    @property
    def fastest(self) -> Timing:
        """The lowest wall time and the lowest CPU time (each on its own)."""
        return Timing(min(t.wall_s for t in self.timings), min(t.cpu_s for t in self.timings))

    @property
    def slowest(self) -> Timing:
        """The highest wall time and the highest CPU time (each on its own)."""
        return Timing(max(t.wall_s for t in self.timings), max(t.cpu_s for t in self.timings))

    def walls(self) -> str:
        """Each round's wall time in order: `5.96, 5.65, 5.76`."""
        return ", ".join(f"{t.wall_s:.2f}" for t in self.timings)

    def wall_spread(self) -> str:
        """The median wall time with the spread: `5.76 s (5.65–5.96)`."""
        return f"{self.median.wall_s:.2f} s ({self.fastest.wall_s:.2f}–{self.slowest.wall_s:.2f})"


def rounds_in_turn(arms: Sequence[T], rounds: int) -> Iterator[tuple[int, tuple[T, ...]]]:
    """Each round's number (from 1) with the arms in the order they run in it: as given in odd
    rounds, reversed in even ones (A B, B A, A B, ...), so that no arm always goes first and
    always meets a cold cache, or a warm one."""
    for number in range(1, rounds + 1):
        yield number, tuple(arms) if number % 2 else tuple(reversed(arms))


@dataclass(frozen=True)
class Arm:
    """One side of a comparison: what to call it, and how to run and time it once."""

    label: str
    measure: Callable[[], Timing]


def compare(arms: Sequence[Arm], rounds: int) -> dict[str, Rounds]:
    """Each arm run once per round, in turn (see `rounds_in_turn`), with a progress note
    before each run; the rounds of each arm, by label."""
    taken: dict[str, list[Timing]] = {arm.label: [] for arm in arms}
    for number, order in rounds_in_turn(arms, rounds):
        for arm in order:
            note(f"{round_tag(number, rounds)} {arm.label}")
            taken[arm.label].append(arm.measure())
    return {label: Rounds(tuple(timings)) for label, timings in taken.items()}


def round_tag(number: int, rounds: int) -> str:
    """`[round 2/3]`, the prefix of a progress note."""
    return f"[round {number}/{rounds}]"


def median_of(rounds: int) -> str:
    """What a results heading says the figures are: `median of 3`, or `1 round`."""
    return f"median of {rounds}" if rounds > 1 else "1 round"


def rounds_line(arms: Mapping[str, Rounds]) -> str:
    """Every round's wall time per arm: `  rounds: upkeep 5.96, 5.65 s; loop 57.90, 55.02 s`."""
    return "  rounds: " + "; ".join(f"{label} {rounds.walls()} s" for label, rounds in arms.items())


# ---------------------------------------------------------------- verdicts and progress


@dataclass(frozen=True)
class Target:
    """What a figure should be: `figure <comparison> limit`, e.g. `Target("<=", 1.5)`."""

    comparison: Literal["<=", ">=", "<"]
    limit: float

    def met(self, figure: float) -> bool:
        if self.comparison == "<=":
            return figure <= self.limit
        if self.comparison == ">=":
            return figure >= self.limit
        return figure < self.limit

    def verdict(self, figure: float) -> str:
        """`PASS` when `figure` meets the target, else `MISS`."""
        return "PASS" if self.met(figure) else "MISS"

    def __str__(self) -> str:
        return f"{self.comparison} {self.limit:g}"


def note(message: str) -> None:
    """A progress line, `-- message`, shown at once."""
    print(f"-- {message}", flush=True)


@dataclass(frozen=True)
class LoadAverage:
    """The machine's 1, 5 and 15 minute load averages at one moment."""

    one: float
    five: float
    fifteen: float

    @classmethod
    def now(cls) -> LoadAverage:
        return cls(*os.getloadavg())

    def __str__(self) -> str:
        return f"{self.one:.2f}, {self.five:.2f}, {self.fifteen:.2f}"


@dataclass(frozen=True)
class BenchmarkStart:
    """When a benchmark started and the load then: what its closing lines compare against."""

    clock: float
    load: LoadAverage

    @classmethod
    def now(cls) -> BenchmarkStart:
        return cls(time.perf_counter(), LoadAverage.now())

    def closing_lines(self) -> str:
        """The load average before and after (every figure here moves with it), and the time
        the whole benchmark took."""
        after = LoadAverage.now()
        pairs = zip(
            (self.load.one, self.load.five, self.load.fifteen),
            (after.one, after.five, after.fifteen),
            strict=True,
        )
        loads = ", ".join(f"{before:.2f}/{now:.2f}" for before, now in pairs)
        return (
            f"load average (1, 5, 15 min) before/after: {loads}\n"
            f"benchmark took {time.perf_counter() - self.clock:.0f} s"
        )


# ---------------------------------------------------------------- scratch space and exit


@contextmanager
def scratch_directory(
    prefix: str, *, keep: bool = False, keep_on_failure: bool = False, parent: Path | None = None
) -> Iterator[Path]:
    """A fresh temporary directory, removed afterwards unless `keep` (or, when something
    failed, `keep_on_failure`): a kept directory is named, on the failure or at the end."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    try:
        yield path
    except BaseException as exc:
        if keep or keep_on_failure:
            exc.add_note(f"kept for inspection: {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)
        raise
    if keep:
        print(f"kept: {path}")
    else:
        shutil.rmtree(path, ignore_errors=True)


def run_benchmark(bench: Callable[[], object], *failures: type[Exception]) -> int:
    """The exit code of a benchmark: 0 once `bench` has run, whatever its figures; 1, with
    `FAILED:` and the reason on stderr, when something it ran failed (a BenchError or one of
    `failures`)."""
    try:
        bench()
    except (BenchError, *failures) as exc:
        print(f"\nFAILED: {exc}", file=sys.stderr)
        for line in getattr(exc, "__notes__", ()):
            print(line, file=sys.stderr)
        return 1
    return 0
