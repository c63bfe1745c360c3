"""What a fleet costs as it grows: `upkeep verify --fleet` and the site over H hosts x 12
runbooks x 1 year of evidence, against `sha256sum --check` of the same files and a bare
Material build of the same page count; the cost per host and per run at each size, and the
extrapolation to 200 hosts.

In a temporary folder it:

1. runs the 12 real runbooks of `site_build.py` once (`project/`) for real notebooks and reports;
2. for each size of `--hosts` (default 2,4,8), adds hosts up to that size, each generated in
   full (no copies): its folder `fleet/host-NNN/` with its own upkeep.yml (`host_id:`, its own
   evidence and state folders, the runbooks of `project/`) and 1 year of history written by
   `site_build.write_history` (every scheduled time of the 12 runbooks: 3 daily, 3 weekly,
   3 monthly, 3 yearly; each run.json naming its host), and `fleet/fleet.yml` listing the hosts
   so far; `upkeep verify --fleet` must accept it before anything is timed;
3. at each size, with a warm page cache (every file read once before), alternated A B, B A for
   `--repeat` rounds: `upkeep verify --fleet fleet.yml` (a fresh `python -m upkeep.cli`) and
   `sha256sum --quiet --check` of exactly the files it hashes, every host's in one list;
4. at each size, for `--site-rounds` rounds: `upkeep site build --fleet fleet.yml` when upkeep
   has it (else it says so and skips that arm) against `mkdocs build` of a bare Material project
   of one one-paragraph page per run of the fleet (`site_build.bare_project`): the least one
   MkDocs build of the whole fleet costs, in time and in memory;
5. once, alternated: one host's own site (`upkeep site build` of host-001, its runs only)
   against the bare Material build of as many pages: what a site costs per host;
6. prints per size the fleet's runs, files, bytes and ledger lines, each arm's median with the
   spread, CPU and peak RSS (wait4's, the largest process), and the cost per host and per run;
   the marginal cost of a host between sizes (constant when the growth is linear); then a
   straight line fitted to the sizes (least squares) evaluated at 200 hosts, every figure of it
   labelled EXTRAPOLATED; then the load average before and after.

It is a measurement, not a test: it exits 0 whatever the figures, and 1 only when something it
runs failed. 200 hosts (about 257,000 runs, 15 GB) can be measured with `--hosts 200` by whoever
has the disk and the hour; `nox -s bench` measures the default sizes (about 6 minutes on 2
cores).

    nox -s bench -- fleet_scale
    python benchmarks/fleet_scale.py --hosts 1,2 --repeat 1 --site-rounds 1   # a quick look
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evidence_sums import sha256sum_check, sum_lines, write_sums
from harness import (
    BenchmarkStart,
    Rounds,
    at_least,
    median_of,
    note,
    option_parser,
    rounds_line,
    run_benchmark,
    run_command,
    scratch_directory,
)
from site_build import (
    ENV,
    Measured,
    bare_project,
    make_project,
    measure_child,
    measured_in_turn,
    real_runs,
    summary_of,
    write_history,
)

from upkeep.evidence import LEDGER

EXTRAPOLATE_TO = 200  # hosts: the fleet
LINEAR = 1.25  # the marginal cost of a host may grow this much between sizes and still be linear
UPKEEP = [sys.executable, "-m", "upkeep.cli"]
MKDOCS = [sys.executable, "-m", "mkdocs", "build", "-q"]
GNU_TIME = Path("/usr/bin/time")  # the peak RSS of a command, measured by its own parent


def host_id(number: int) -> str:
    """The id of the fleet's `number`th host (from 1): `host-001`."""
    return f"host-{number:03d}"


def add_hosts(fleet: Path, reals: dict[str, dict[str, Any]], first: int, last: int) -> int:
    """Hosts `first`..`last` (numbers from 1), each its own folder under `fleet` with its
    upkeep.yml and 1 year of history from `reals` (`site_build.write_history`, run.json naming
    the host); then `fleet/fleet.yml` listing hosts 1..`last`. Returns the runs written."""
    runbooks = Path("..") / ".." / "project" / "runbooks"
    written = 0
    for number in range(first, last + 1):
        folder = fleet / host_id(number)
        folder.mkdir(parents=True)
        (folder / "upkeep.yml").write_text(
            textwrap.dedent(f"""\
            version: 1
            timezone: UTC
            host_id: {host_id(number)}
            evidence_dir: evidence
            state_dir: var/state
            runbooks_dir: {runbooks.as_posix()}
            """)
        )
        written += write_history(folder / "evidence", reals, 1, host_id=host_id(number))
    hosts = "".join(
        f"  - id: {host_id(n)}\n    config: {host_id(n)}/upkeep.yml\n" for n in range(1, last + 1)
    )
    (fleet / "fleet.yml").write_text(f"version: 1\nhosts:\n{hosts}")
    return written


@dataclass(frozen=True)
class FleetSize:
    """What a fleet of `hosts` holds: runs, the files `upkeep verify` hashes and their bytes,
    and its ledgers' lines and bytes (one ledger per host)."""

    hosts: int
    runs: int
    files: int
    bytes: int
    ledger_lines: int
    ledger_bytes: int


def fleet_sums(fleet: Path, hosts: int, work: Path) -> FleetSize:
    """SHA256SUMS (in `work`) of every file `upkeep verify --fleet` hashes, paths relative to
    `fleet`; and what the fleet holds."""
    lines: list[str] = []
    size = runs = ledger_lines = ledger_bytes = 0
    for number in range(1, hosts + 1):
        evidence = fleet / host_id(number) / "evidence"
        host_lines, host_bytes = sum_lines(evidence, f"{host_id(number)}/evidence/")
        lines += host_lines
        size += host_bytes
        ledger = (evidence / LEDGER).read_bytes()
        ledger_lines += ledger.count(b"\n")
        ledger_bytes += len(ledger)
        runs += sum(1 for line in host_lines if line.endswith("/run.json\n"))
    write_sums(lines, work)
    return FleetSize(hosts, runs, len(lines), size, ledger_lines, ledger_bytes)


# --- measuring --------------------------------------------------------------------------------

VERIFY, SHA256SUM = "upkeep verify --fleet", "sha256sum -c"
FLEET_SITE, BARE = "upkeep site build --fleet", "bare Material, as many pages"
ONE_HOST = "upkeep site build, one host"


@dataclass(frozen=True)
class ArmResult:
    """One arm at one size: its rounds and the largest peak RSS (KiB) of any of them."""

    rounds: Rounds
    peak_kib: int


def measured_rounds(arms: dict[str, Callable[[], Measured]], rounds: int) -> dict[str, ArmResult]:
    """Each arm (a `site_build.measure_child` of a command) once per round, in turn: wall,
    CPU and the peak RSS of its largest process."""
    taken = measured_in_turn(arms, rounds)
    return {label: ArmResult(*summary_of(items)) for label, items in taken.items()}


def measure_command(args: list[str], cwd: Path) -> Measured:
    """`site_build.measure_child` of `args` with the peak RSS taken by GNU time, the command's
    parent: wait4's figure of a child of this process includes this process's own memory at
    the fork (about 35 MiB here), more than `sha256sum` or `upkeep verify` ever hold."""
    if not GNU_TIME.is_file():
        return measure_child(args, cwd)  # the peak is then at least this process's
    with tempfile.NamedTemporaryFile("r", suffix=".maxrss") as peak:
        taken = measure_child([str(GNU_TIME), "-f", "%M", "-o", peak.name, *args], cwd)
        return Measured(taken.timing, int(peak.read().split()[-1]))


def command(args: list[str], cwd: Path) -> Callable[[], Measured]:
    return lambda: measure_command(args, cwd)


@dataclass(frozen=True)
class SizeResult:
    """Every arm at one fleet size."""

    size: FleetSize
    arms: dict[str, ArmResult]


def measure_size(work: Path, fleet: Path, size: FleetSize, args: argparse.Namespace) -> SizeResult:
    """verify against sha256sum (warm cache), then the fleet's site against the bare Material
    build of one page per run."""
    sums = sha256sum_check(work)
    note(f"{size.hosts} hosts: reading every file once (warm cache) ...")
    run_command(sums, "sha256sum --check (warm-up)", cwd=fleet, env=ENV)
    arms = measured_rounds(
        {
            VERIFY: command([*UPKEEP, "verify", "--fleet", "fleet.yml"], fleet),
            SHA256SUM: command(sums, fleet),
        },
        args.repeat,
    )
    bare = work / f"bare-{size.hosts}"
    bare_project(bare, size.runs)
    site_arms = {
        BARE: command(MKDOCS, bare),
        FLEET_SITE: lambda: fleet_site_build(work, fleet, size.hosts),
    }
    arms |= measured_rounds(site_arms, args.site_rounds)
    shutil.rmtree(bare)
    return SizeResult(size, arms)


def fleet_site_build(work: Path, fleet: Path, hosts: int) -> Measured:
    """`upkeep site build --fleet` with nothing kept from earlier builds (the site and every
    host's site state removed, untimed)."""
    site = work / "fleet-site"
    shutil.rmtree(site, ignore_errors=True)
    for number in range(1, hosts + 1):
        shutil.rmtree(fleet / host_id(number) / "var" / "state" / "site", ignore_errors=True)
    config = ["--config", f"{host_id(1)}/upkeep.yml"]
    return measure_command(
        [*UPKEEP, *config, "site", "build", "--fleet", "fleet.yml", "--site-dir", str(site)], fleet
    )


def one_host_build(host: Path) -> Measured:
    """The host's own `upkeep site build` with nothing kept from earlier builds (its site and
    its site state removed, untimed, as `site_build.full_build` does)."""
    shutil.rmtree(host / "site", ignore_errors=True)
    shutil.rmtree(host / "var" / "state" / "site", ignore_errors=True)
    build = [*UPKEEP, "--config", "upkeep.yml", "site", "build", "--site-dir", "site"]
    return measure_command(build, host)


def measure_one_host_site(work: Path, fleet: Path, runs: int, rounds: int) -> dict[str, ArmResult]:
    """host-001's own site (its runs only, nothing kept from earlier builds) against the bare
    Material build of as many pages."""
    bare = work / "bare-one-host"
    bare_project(bare, runs)
    arms = {
        ONE_HOST: lambda: one_host_build(fleet / host_id(1)),
        BARE: command(MKDOCS, bare),
    }
    return measured_rounds(arms, rounds)


# --- the run ----------------------------------------------------------------------------------


def host_counts(text: str) -> list[int]:
    """`--hosts 2,4,8`: the sizes, each at least 1, ascending, each once."""
    try:
        counts = sorted({int(part) for part in text.split(",")})
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected host counts separated by commas (2,4,8), got {text!r}"
        ) from None
    if counts[0] < 1:
        raise argparse.ArgumentTypeError(f"every host count must be at least 1, not {counts[0]}")
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = option_parser(__doc__)
    parser.add_argument("--hosts", type=host_counts, default=[2, 4, 8], help="sizes [2,4,8]")
    parser.add_argument("--repeat", type=at_least(1), default=3, help="verify rounds [3]")
    parser.add_argument("--site-rounds", type=at_least(1), default=2, help="site rounds [2]")
    parser.add_argument("--keep", action="store_true", help="keep the temporary fleet")
    args = parser.parse_args(argv)
    return run_benchmark(lambda: bench(args))


def bench(args: argparse.Namespace) -> None:
    start = BenchmarkStart.now()
    with scratch_directory("upkeep-fleet-bench-", keep=args.keep) as work:
        _bench(work, args)
    print(f"\n{start.closing_lines()}")


def _bench(work: Path, args: argparse.Namespace) -> None:
    project = work / "project"
    project.mkdir()
    make_project(project)
    note("running the 12 runbooks once for real ...")
    reals = real_runs(project)
    fleet, results, built = work / "fleet", [], 0
    for hosts in args.hosts:
        note(f"generating hosts {built + 1}..{hosts} (1 year each) ...")
        started = time.perf_counter()
        written = add_hosts(fleet, reals, built + 1, hosts)
        os.sync()  # generation skips fsync: the disk settles before anything is timed
        generated_s = time.perf_counter() - started
        _must_verify(fleet)
        size = fleet_sums(fleet, hosts, work)
        print(
            f"{_hosts(hosts)}: {written:,} runs generated in {generated_s:.1f} s, "
            "upkeep verify --fleet ok"
        )
        if built == 0:
            one_host = measure_one_host_site(work, fleet, size.runs // hosts, args.site_rounds)
        built = hosts
        results.append(measure_size(work, fleet, size, args))
        print_size(results[-1], args)
    print_one_host_site(one_host, results[0].size.runs // results[0].size.hosts, args.site_rounds)
    print_growth(results)
    print_extrapolation(results, one_host)


def _must_verify(fleet: Path) -> None:
    """The generated fleet verifies: `upkeep verify --fleet` exits 0 (BenchError otherwise)."""
    run_command([*UPKEEP, "verify", "--fleet", "fleet.yml"], "upkeep verify --fleet", cwd=fleet)


# --- what it prints ---------------------------------------------------------------------------


def _hosts(count: int) -> str:
    return f"{count} host" if count == 1 else f"{count} hosts"


def _mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB"


def _row(label: str, arm: ArmResult, width: int) -> str:
    cpu, peak = arm.rounds.median.cpu_s, _mib(arm.peak_kib)
    return f"  {label:<{width}}  {arm.rounds.wall_spread():<24} {cpu:7.2f} s CPU  {peak:>8}"


def _ratio(mine: ArmResult, theirs: ArmResult) -> str:
    wall = mine.rounds.median.wall_s / theirs.rounds.median.wall_s
    cpu = mine.rounds.median.cpu_s / theirs.rounds.median.cpu_s
    return f"{wall:.2f}x wall, {cpu:.2f}x CPU"


def print_size(result: SizeResult, args: argparse.Namespace) -> None:
    size, arms = result.size, result.arms
    per_host = size.ledger_lines / size.hosts
    print(
        f"\n{_hosts(size.hosts)} x 12 runbooks x 1 year: {size.runs:,} runs, {size.files:,} files "
        f"verify hashes ({size.bytes / 2**20:,.0f} MiB), {size.hosts} ledgers of {per_host:,.0f} "
        f"lines ({size.ledger_bytes / size.hosts / 2**20:.2f} MiB each); verify arms "
        f"{median_of(args.repeat)}, warm cache; site arms {median_of(args.site_rounds)} "
        "(wall with the spread; CPU; peak RSS):"
    )
    width = max(len(label) for label in arms)
    for label, arm in arms.items():
        print(_row(label, arm, width))
    print(rounds_line({label: arm.rounds for label, arm in arms.items()}))
    print(f"  upkeep verify --fleet / sha256sum -c: {_ratio(arms[VERIFY], arms[SHA256SUM])}")
    print(f"  upkeep site build --fleet / bare Material: {_ratio(arms[FLEET_SITE], arms[BARE])}")


def print_one_host_site(arms: dict[str, ArmResult], runs: int, rounds: int) -> None:
    print(
        f"\none host's own site ({runs:,} runs; {median_of(rounds)}; nothing kept from earlier "
        "builds):"
    )
    width = max(len(label) for label in arms)
    for label, arm in arms.items():
        print(_row(label, arm, width))
    print(f"  one host's site / bare Material: {_ratio(arms[ONE_HOST], arms[BARE])}")


def fitted_line(points: list[tuple[float, float]]) -> tuple[float, float]:
    """(a, b) of the least-squares line y = a + b x through `points`; through the origin when
    there is one point (or one x)."""
    xs, ys = [x for x, _ in points], [y for _, y in points]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread == 0:
        return 0.0, mean_y / mean_x
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / spread
    return mean_y - slope * mean_x, slope


def print_growth(results: list[SizeResult]) -> None:
    """Per arm: the median wall at each size, per host and per run, the marginal cost of a
    host between sizes, and whether the cost per run grew (linear: it does not)."""
    print("\ngrowth (median wall at each size; a marginal host costs (t2 - t1) / (h2 - h1)):")
    for label in results[-1].arms:
        walls = [(r.size, r.arms[label].rounds.median.wall_s) for r in results]
        cells = "; ".join(
            f"{_hosts(size.hosts)} {wall:.2f} s ({wall / size.hosts:.2f} s/host, "
            f"{wall / size.runs * 1e3:.2f} ms/run)"
            for size, wall in walls
        )
        print(f"  {label}: {cells}")
        marginals = [
            f"{a.hosts}->{b.hosts} {(tb - ta) / (b.hosts - a.hosts):.2f} s"
            for (a, ta), (b, tb) in zip(walls, walls[1:], strict=False)
        ]
        (first, first_wall), (last, last_wall) = walls[0], walls[-1]
        growth = (last_wall / last.runs) / (first_wall / first.runs)
        verdict = "linear or better" if growth <= LINEAR else "faster than linear"
        print(
            f"    marginal host: {', '.join(marginals) or '(one size)'}; cost per run at "
            f"{last.hosts} / at {first.hosts} hosts: {growth:.2f}x ({verdict}: <= {LINEAR}x)"
        )


def print_extrapolation(results: list[SizeResult], one_host: dict[str, ArmResult]) -> None:
    """Straight lines through the measured sizes, evaluated at EXTRAPOLATE_TO hosts."""
    hosts = EXTRAPOLATE_TO
    last = results[-1].size
    runs, files = last.runs * hosts // last.hosts, last.files * hosts // last.hosts
    size_bytes, ledger = last.bytes * hosts / last.hosts, last.ledger_lines // last.hosts
    sizes = ", ".join(str(r.size.hosts) for r in results)
    print(
        f"\nEXTRAPOLATED to {hosts} hosts x 12 runbooks x 1 year (straight lines fitted to the "
        f"measurements at {sizes} hosts; NOT measured):"
    )
    print(
        f"  {runs:,} runs, {files:,} files ({size_bytes / 2**30:.1f} GiB), {hosts} ledgers of "
        f"{ledger:,} lines ({last.ledger_bytes / last.hosts / 2**20:.2f} MiB each)"
    )

    def line(label: str, x_of: Callable[[FleetSize], int], x: int, unit: str) -> str:
        wall = fitted_line([(x_of(r.size), r.arms[label].rounds.median.wall_s) for r in results])
        peak = fitted_line([(x_of(r.size), r.arms[label].peak_kib) for r in results])
        per_host = unit == "host"  # a host costs seconds and MiB, a page milliseconds and KiB
        slope = f"{wall[1]:.2f} s" if per_host else f"{wall[1] * 1e3:.2f} ms"
        grows = f"{peak[1] / 1024:.1f} MiB" if per_host else f"{peak[1]:.2f} KiB"
        return (
            f"  EXTRAPOLATED {label}: {(wall[0] + wall[1] * x) / 60:.1f} min wall "
            f"({wall[0]:.2f} s + {slope} per {unit}), peak RSS "
            f"{_mib(int(peak[0] + peak[1] * x))} ({grows} per {unit})"
        )

    for label in (VERIFY, SHA256SUM):
        wall = fitted_line([(r.size.hosts, r.arms[label].rounds.median.wall_s) for r in results])
        peak = max(r.arms[label].peak_kib for r in results)
        print(
            f"  EXTRAPOLATED {label}: {(wall[0] + wall[1] * hosts) / 60:.1f} min wall "
            f"({wall[0]:.2f} s + {wall[1]:.3f} s per host); peak RSS measured: at most "
            f"{_mib(peak)} at every size"
        )
    print(line(BARE, lambda s: s.runs, runs, "page") + f" [{runs:,} pages in one MkDocs build]")
    print(line(FLEET_SITE, lambda s: s.hosts, hosts, "host"))
    site = one_host[ONE_HOST]
    wall = site.rounds.median.wall_s
    print(
        f"  EXTRAPOLATED one site per host, built one after another: {hosts} x {wall:.1f} s = "
        f"{hosts * wall / 60:.0f} min, each build peaking at {_mib(site.peak_kib)} "
        "(host-001's site, measured)"
    )
    print(
        f"  (warm cache: the {size_bytes / 2**30:.1f} GiB must fit in the page cache; where they "
        "do not, verify reads from disk: see `verify.py`'s cold figures)"
    )


if __name__ == "__main__":
    sys.exit(main())
