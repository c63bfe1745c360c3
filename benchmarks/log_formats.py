"""Real-format logs: upkeep's grouping against Drain3, and an nginx access log scan against grep.

Part 1, grouping quality, on lines generated in eight real formats (nginx combined access, nginx
and Apache 2.4 error logs, syslog with classic and RFC 3339 stamps, journalctl short-iso,
short-precise and json; `tests/helpers/real_logs.py`), each line labelled with the message
group it belongs to. For each grouper: the groups it makes, its grouping accuracy (the share of
lines whose group holds exactly the lines of their true group, as the Loghub benchmark counts
it), the true groups it merges with another (as every nginx 5xx became one group) and the ones it
splits, and key stability: the share of true groups given the same template (so the same
finding key) by a scan of the first half of the lines and a scan of the second half, as two
daily runs would. Drain3 is measured when it is installed (`pip install drain3`), configured
with the masking its own example configuration ships.

Part 2, speed, on a generated nginx access log (default 128 MiB), in `--repeat` rounds taken in
turn (medians, each round shown): `grep -c -E` for 4xx and 5xx statuses against a first
`scan_log` of the whole file with the same patterns, and the time to group the matching lines
alone: `MessageTally.add_many` against Drain3's `add_log_message`.
A measurement, not a test: exits 0 whatever the figures, 1 only when something failed to run
or the counts disagree.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness import (
    Arm,
    BenchError,
    BenchmarkStart,
    CpuOf,
    LoadAverage,
    Target,
    Timing,
    at_least,
    compare,
    median_of,
    note,
    option_parser,
    rounds_line,
    run_benchmark,
    run_command,
    scratch_directory,
    timed,
)

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the real-format lines the grouping tests use too

from helpers.real_logs import FORMATS, LabelledLine, generate  # noqa: E402

from upkeep.config import LogSource  # noqa: E402
from upkeep.logs.grouping import LineLevel, MessageTally  # noqa: E402
from upkeep.logs.scan import LogScan, scan_log  # noqa: E402

MIB = 1 << 20
THROUGHPUT_TARGET = Target(">=", 0.5)  # scan throughput / grep throughput
ERROR_PATTERN = r'" 5\d\d '
WARN_PATTERN = r'" 4\d\d '
GREP_PATTERN = r'" [45][0-9][0-9] '
GREP_ENV = {**os.environ, "LC_ALL": "C"}
BLOCK_LINES = 100_000  # access lines generated once, then repeated up to --size

# Drain3's own example configuration (its examples/drain3.ini): the masks and parameters a user
# who follows its documentation starts from.
DRAIN3_MASKS = (
    (r"((?<=[^A-Za-z0-9])|^)(([0-9a-f]{2,}:){3,}([0-9a-f]{2,}))((?=[^A-Za-z0-9])|$)", "ID"),
    (r"((?<=[^A-Za-z0-9])|^)(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})((?=[^A-Za-z0-9])|$)", "IP"),
    (r"((?<=[^A-Za-z0-9])|^)([0-9a-f]{6,} ?){3,}((?=[^A-Za-z0-9])|$)", "SEQ"),
    (r"((?<=[^A-Za-z0-9])|^)([0-9A-F]{4} ?){4,}((?=[^A-Za-z0-9])|$)", "SEQ"),
    (r"((?<=[^A-Za-z0-9])|^)(0x[a-f0-9A-F]+)((?=[^A-Za-z0-9])|$)", "HEX"),
    (r"((?<=[^A-Za-z0-9])|^)([\-\+]?\d+)((?=[^A-Za-z0-9])|$)", "NUM"),
)


# ---------------------------------------------------------------- the groupers

Grouper = Callable[[Sequence[str]], tuple[list[Hashable], dict[Hashable, str]]]


def upkeep_groups(lines: Sequence[str]) -> tuple[list[Hashable], dict[Hashable, str]]:
    """Each line's group (its template, as the health check's tally makes it)."""
    tally = MessageTally()
    templates = [tally.template(line.encode("utf-8")) for line in lines]
    return list(templates), {template: template for template in templates}


def drain3_miner() -> object | None:
    try:
        from drain3 import TemplateMiner
        from drain3.masking import MaskingInstruction
        from drain3.template_miner_config import TemplateMinerConfig
    except ImportError:
        return None
    config = TemplateMinerConfig()
    config.masking_instructions = [MaskingInstruction(p, name) for p, name in DRAIN3_MASKS]
    config.drain_sim_th = 0.4
    config.drain_depth = 4
    config.profiling_enabled = False
    return TemplateMiner(config=config)


def drain3_groups(lines: Sequence[str]) -> tuple[list[Hashable], dict[Hashable, str]]:
    """Each line's Drain3 cluster, and each cluster's template once every line was seen."""
    miner = drain3_miner()
    assert miner is not None
    clusters = [miner.add_log_message(line)["cluster_id"] for line in lines]  # type: ignore[attr-defined]
    templates = {c.cluster_id: c.get_template() for c in miner.drain.clusters}  # type: ignore[attr-defined]
    return clusters, templates


# ---------------------------------------------------------------- judging a grouping


@dataclass(frozen=True)
class Quality:
    groups: int
    true_groups: int
    accuracy: float  # share of lines whose found group is exactly their true group
    merged: int  # true groups sharing a found group with another true group
    split: int  # true groups spread over several found groups
    stable: float  # share of true groups with the same template in both halves


def judge(grouper: Grouper, lines: list[LabelledLine]) -> Quality:
    found, _ = grouper([line.text for line in lines])
    truth = [line.group for line in lines]
    members_found: dict[Hashable, set[int]] = defaultdict(set)
    members_true: dict[str, set[int]] = defaultdict(set)
    for index, (group, true) in enumerate(zip(found, truth, strict=True)):
        members_found[group].add(index)
        members_true[true].add(index)
    exact = sum(len(m) for t, m in members_true.items() if members_found[found[min(m)]] == m)
    true_per_found: dict[Hashable, set[str]] = defaultdict(set)
    found_per_true: dict[str, set[Hashable]] = defaultdict(set)
    for group, true in zip(found, truth, strict=True):
        true_per_found[group].add(true)
        found_per_true[true].add(group)
    merged = sum(
        1 for t in members_true if any(len(true_per_found[g]) > 1 for g in found_per_true[t])
    )
    split = sum(1 for t in members_true if len(found_per_true[t]) > 1)
    return Quality(
        len(members_found),
        len(members_true),
        exact / len(lines),
        merged,
        split,
        stability(grouper, lines),
    )


def stability(grouper: Grouper, lines: list[LabelledLine]) -> float:
    """The share of true groups (seen in both halves) whose most common template is the same in a
    grouping of the first half and one of the second half."""
    half = len(lines) // 2
    shown = []
    for part in (lines[:half], lines[half:]):
        found, templates = grouper([line.text for line in part])
        per_true: dict[str, Counter[str]] = defaultdict(Counter)
        for line, group in zip(part, found, strict=True):
            per_true[line.group][templates[group]] += 1
        shown.append({true: counts.most_common(1)[0][0] for true, counts in per_true.items()})
    both = shown[0].keys() & shown[1].keys()
    return sum(shown[0][t] == shown[1][t] for t in both) / len(both) if both else 1.0


def quality_table(count: int, seed: int) -> None:
    groupers: dict[str, Grouper] = {"upkeep": upkeep_groups}
    if drain3_miner() is not None:
        groupers["drain3"] = drain3_groups
    else:
        note("drain3 is not installed (pip install drain3): upkeep's grouping alone")
    print(f"\ngrouping quality ({count} lines per format; accuracy: lines in exactly their group)")
    print(
        f"  {'format':<22}{'grouper':<8}{'groups':>7}{'true':>6}{'accuracy':>10}"
        f"{'merged':>8}{'split':>7}{'stable keys':>13}"
    )
    totals: dict[str, list[float]] = defaultdict(list)
    for kind in FORMATS:
        lines = generate(kind, count, seed)
        for name, grouper in groupers.items():
            q = judge(grouper, lines)
            totals[name].append(q.accuracy)
            print(
                f"  {kind:<22}{name:<8}{q.groups:>7}{q.true_groups:>6}{q.accuracy:>10.3f}"
                f"{q.merged:>8}{q.split:>7}{q.stable:>12.0%}"
            )
    for name, accuracies in totals.items():
        print(f"  mean accuracy, {name}: {sum(accuracies) / len(accuracies):.3f}")


# ---------------------------------------------------------------- speed on an access log


def make_access_log(path: Path, size: int, seed: int) -> int:
    """About `size` bytes of nginx access lines: a block generated once, repeated with its
    timestamps moved on a day each time."""
    block = [line.text for line in generate("nginx-access", BLOCK_LINES, seed)]
    text = ("\n".join(block) + "\n").encode("utf-8")
    written = 0
    with path.open("wb") as handle:
        while written < size:
            handle.write(text)
            written += len(text)
    return written


def grep_count(path: Path) -> int:
    cmd = ["grep", "-c", "-E", GREP_PATTERN, str(path)]
    return int(run_command(cmd, "grep", env=GREP_ENV, ok_codes=(0, 1)).stdout)


def speed_table(args: argparse.Namespace, tmp: Path) -> None:
    log = LogSource(
        "access",
        tmp / "access.log",
        error_patterns=(ERROR_PATTERN,),
        warn_patterns=(WARN_PATTERN,),
        first_scan_window=None,  # the whole file, as a first scan with `first_scan: whole`
    )
    note(f"generating {args.size / MIB:.0f} MiB of nginx access lines in {tmp}")
    size = make_access_log(log.path, args.size, args.seed)
    run_command(["cat", str(log.path)], "cat")  # into the page cache for both
    counted: list[int] = []
    scans: list[LogScan] = []

    def grep_once() -> Timing:
        timing, lines = timed(lambda: grep_count(log.path), CpuOf.BOTH)
        counted.append(lines)
        return timing

    def scan_once() -> Timing:
        shutil.rmtree(tmp / "state", ignore_errors=True)  # a first scan each time, untimed
        timing, scan = timed(lambda: scan_log(log, tmp / "state"), CpuOf.BOTH)
        scans.append(scan)
        return timing

    rounds = compare([Arm("grep", grep_once), Arm("scan_log", scan_once)], args.repeat)
    grep_time, scan_time = rounds["grep"].median, rounds["scan_log"].median
    scan, grep_lines = scans[-1], counted[-1]
    for each in scans:
        if each.errors + each.warnings != grep_lines or set(counted) != {grep_lines}:
            raise BenchError(
                f"scan_log counted {each.errors + each.warnings} lines, grep {counted}"
            )
    status = re.compile(f"{ERROR_PATTERN}|{WARN_PATTERN}")
    matching = [
        line.text.encode("utf-8")
        for line in generate("nginx-access", BLOCK_LINES, args.seed + 1)
        if status.search(line.text)
    ]
    tally_time, _ = timed(lambda: MessageTally().add_many(LineLevel.ERROR, matching), CpuOf.BOTH)
    ratio = grep_time.wall_s / scan_time.wall_s
    print(
        f"\nspeed ({size / MIB:.0f} MiB nginx access log, {median_of(args.repeat)} alternated;"
        f" load average {LoadAverage.now()})"
    )
    print(
        f"  grep -c -E (4xx|5xx)                {grep_time.text('8.3f')}"
        f" {size / MIB / grep_time.wall_s:7.0f} MiB/s"
    )
    print(
        f"  scan_log, first scan (whole file)   {scan_time.text('8.3f')}"
        f" {size / MIB / scan_time.wall_s:7.0f} MiB/s"
    )
    print(
        f"  scan_log / grep throughput          {ratio:7.2f}x   target {THROUGHPUT_TARGET}x"
        f"  {THROUGHPUT_TARGET.verdict(ratio)}"
    )
    print(rounds_line(rounds))
    print(
        f"  groups: {len(scan.error_groups)} error, {len(scan.warning_groups)} warning; top:"
        f" {scan.error_groups[0].template if scan.error_groups else '-'}"
    )
    per_line = tally_time.cpu_s / len(matching) * 1e6
    print(
        f"  grouping {len(matching)} matching lines, upkeep MessageTally:"
        f" {tally_time.text('7.3f')} ({per_line:.1f} us CPU a line)"
    )
    miner = drain3_miner()
    if miner is not None:
        texts = [raw.decode("utf-8") for raw in matching]
        drain_time, _ = timed(
            lambda: [miner.add_log_message(t) for t in texts],
            CpuOf.BOTH,  # type: ignore[attr-defined]
        )
        per_line = drain_time.cpu_s / len(matching) * 1e6
        print(
            f"  grouping the same lines, Drain3:    {drain_time.text('7.3f')}"
            f" ({per_line:.1f} us CPU a line)"
        )


def bench(args: argparse.Namespace) -> None:
    start = BenchmarkStart.now()
    if shutil.which("grep") is None:
        raise BenchError("grep is not installed")
    quality_table(args.lines, args.seed)
    with scratch_directory("upkeep-bench-logformats-", keep=args.keep) as tmp:
        speed_table(args, tmp)
    print(f"\n{start.closing_lines()}")


def parse_size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def main(argv: list[str] | None = None) -> int:
    parser = option_parser(__doc__)
    parser.add_argument("--lines", type=at_least(100), default=20_000, help="lines per format")
    parser.add_argument("--size", type=parse_size, default=128 * MIB, help="access log size")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated lines [1]")
    parser.add_argument(
        "--repeat", type=at_least(1), default=3, help="rounds of the speed comparison [3]"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    if args.size < MIB:
        parser.error("--size must be at least 1M")
    return run_benchmark(lambda: bench(args))


if __name__ == "__main__":
    sys.exit(main())
