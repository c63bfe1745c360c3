"""What the maintenance review costs on one month of a busy system: side by side with `upkeep
verify` on the same evidence, both as a person runs them (a fresh `python -m upkeep.cli` each).

In a temporary project it:

1. runs the real health check once on the demo system, to get a real notebook and report;
2. writes one month of synthetic history through `upkeep.evidence` for RUNBOOKS daily runbooks
   (30 x 30 days = 900 runs, each with the real artifacts, checks, metrics for the trend plots,
   and findings of which some recur), plus a few backlog decisions; `upkeep verify` accepts it;
3. times `upkeep review --plots DIR` (the whole review: one read of the evidence, coverage,
   streaks, findings, backlog, docs suggestions and every trend plot written as SVG) and
   `upkeep verify` (every hash and the chain), alternated A B, B A for ROUNDS rounds;
4. prints the medians with the spread, wall and CPU, and the ratio against the target:
   review < 2x verify; then the load average before and after. A third arm, the review without
   its plots, shows what the evidence part costs apart from matplotlib (context, not the target).

It is a measurement, not a test: it exits 0 whatever the figures, 1 only when something it runs
failed.

    nox -s bench -- maintenance_review
    python benchmarks/maintenance_review.py --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from harness import (
    Arm,
    BenchError,
    BenchmarkStart,
    Target,
    at_least,
    compare,
    median_of,
    note,
    option_parser,
    rounds_line,
    run_benchmark,
    run_command,
    scratch_directory,
    timed_command,
)
from site_build import ENV

from upkeep.evidence import EvidenceStore, verify
from upkeep.records import Decision, RunRecord
from upkeep.review.backlog import BACKLOG_CHANGE, item_id
from upkeep.scaffold import new_runbook

REPO = Path(__file__).resolve().parent.parent
TARGET = Target("<", 2.0)  # review wall / verify wall
RUNBOOKS = 30
DAYS = 30
END = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)


def _upkeep(*args: str) -> list[str]:
    return [sys.executable, "-m", "upkeep.cli", "--config", "upkeep.yml", *args]


def main(argv: list[str] | None = None) -> int:
    parser = option_parser(__doc__)
    parser.add_argument("--repeat", type=at_least(1), default=5, help="rounds [5]")
    parser.add_argument("--keep", action="store_true", help="keep the temporary project")
    args = parser.parse_args(argv)
    return run_benchmark(lambda: bench(args))


def bench(args: argparse.Namespace) -> None:
    start = BenchmarkStart.now()
    with scratch_directory("upkeep-review-bench-", keep=args.keep) as work:
        _bench(work, args.repeat)
    print(f"\n{start.closing_lines()}")


def make_project(root: Path) -> None:
    """The real health check plus RUNBOOKS daily runbooks, a demo system for the health check."""
    (root / "upkeep.yml").write_text(
        textwrap.dedent("""\
        version: 1
        timezone: UTC
        evidence_dir: evidence
        state_dir: var/state
        demo: {root: var/demo, http_port: 1}
        logs:
          - {name: app, path: var/demo/logs/app.log}
        mounts:
          - {path: var/demo}
        """)
    )
    daily = root / "runbooks" / "daily"
    daily.mkdir(parents=True)
    shutil.copy(REPO / "runbooks" / "daily" / "health-check.ipynb", daily)
    for index in range(RUNBOOKS):
        name = f"service-{index:02d}"
        nb = new_runbook(
            [("code", "from upkeep import report\nreport.check('up', 'ok')")],
            metadata={
                "title": name,
                "summary": "A daily check.",
                "cadence": "daily",
                "category": "Health Checks",
                "owner": "ops",
                "references": ["observability.md"],
            },
            why=f"# {name}\n\nWhy it exists.",
        )
        (daily / f"{name}.ipynb").write_text(json.dumps(nb, indent=1))


def real_run(project: Path) -> dict[str, Any]:
    """The health check run once for real: its run.json and artifact bytes."""
    run_command(
        _upkeep("run", "health-check", "--no-demo-service"),
        "upkeep run health-check",
        cwd=project,
        env=ENV,
        ok_codes=(0, 1),
    )
    [folder] = sorted((project / "evidence" / "runs").glob("*/*/*"))
    record = json.loads((folder / "run.json").read_text())
    files = {name: (folder / name).read_bytes() for name in record["artifacts"]}
    shutil.rmtree(project / "evidence")
    return {"record": record, "files": files}


def write_month(evidence: Path, real: dict[str, Any]) -> int:
    """A run of every runbook every day of the month before END; returns the number of runs."""
    store = EvidenceStore(evidence)
    real_fsync = os.fsync
    os.fsync = lambda fd: None  # generation only: the bytes are the same, the disk waits less
    count = 0
    try:
        for day in range(DAYS):
            for index in range(RUNBOOKS):
                at = END - timedelta(days=DAYS - day) + timedelta(hours=3, minutes=index)
                _publish(store, real, f"service-{index:02d}", index, day, at)
                count += 1
            if day == 10:
                for index in range(0, RUNBOOKS, 6):
                    decision = Decision(
                        BACKLOG_CHANGE,
                        item_id(f"service-{index:02d}", "disk:/data"),
                        "ops",
                        at + timedelta(hours=1),
                        "owner assigned",
                        {"owner": "alice"},
                    )
                    store.record_decision(decision)
    finally:
        os.fsync = real_fsync
    return count


def _publish(
    store: EvidenceStore, real: dict[str, Any], name: str, index: int, day: int, at: datetime
) -> None:
    run_id = f"{at:%Y%m%dT%H%M%SZ}-{name}-{day:02d}{index:02d}"
    staging = store.new_staging(run_id)
    for filename, data in real["files"].items():
        (staging / filename).parent.mkdir(parents=True, exist_ok=True)
        (staging / filename).write_bytes(data)
    record = json.loads(json.dumps(real["record"]))
    stamp = at.isoformat().replace("+00:00", "Z")
    failing = index % 6 == 0 or (index % 5 == 0 and day % 3 == 0)  # recurring, and on and off
    record.update(
        run_id=run_id,
        started_at=stamp,
        as_of=stamp,
        ended_at=(at + timedelta(seconds=3)).isoformat().replace("+00:00", "Z"),
        status="fail" if failing else "ok",
        trigger="schedule",
        error=None,
    )
    record["runbook"] = {**record["runbook"], "name": name}
    record["checks"] = [
        {"name": "disk:/data", "status": "fail" if failing else "ok", "value": 80 + day / 2}
    ]
    record["metrics"] = [
        *record["metrics"],
        {
            "name": "disk_used_percent",
            "value": 60 + day + index / 10,
            "unit": "%",
            "labels": {"mount": "/data"},
        },
    ]
    record["findings"] = (
        [{"key": "disk:/data", "message": "data volume over its limit", "severity": "fail"}]
        if failing
        else []
    )
    store.publish(staging, RunRecord.from_json(record))


def _bench(work: Path, rounds: int) -> None:
    project = work / "project"
    project.mkdir()
    make_project(project)
    note("running the health check once for real ...")
    real = real_run(project)
    added = write_month(project / "evidence", real)
    report = verify(project / "evidence")
    if not report.ok:
        raise BenchError(f"synthetic evidence does not verify: {report.problems[0]}")
    at = END.isoformat()
    plots = work / "plots"
    proc = run_command(
        _upkeep("review", "--at", at, "--plots", str(plots)), "upkeep review", cwd=project, env=ENV
    )
    backlog = sum(" [open] " in line for line in proc.stdout.splitlines())
    print(
        f"{RUNBOOKS} runbooks x {DAYS} days: {report.runs_checked} runs ({added} synthetic), "
        f"{report.decisions_checked} decisions, verify ok; the review: {backlog} open backlog "
        f"items, {len(list(plots.glob('*.svg')))} trend plot(s)"
    )
    arms = [
        Arm(
            "upkeep review",
            lambda: timed_command(
                _upkeep("review", "--at", at, "--plots", str(plots)), cwd=project, env=ENV
            )[0],
        ),
        Arm("upkeep verify", lambda: timed_command(_upkeep("verify"), cwd=project, env=ENV)[0]),
        Arm(
            "upkeep review (no plots)",
            lambda: timed_command(_upkeep("review", "--at", at), cwd=project, env=ENV)[0],
        ),
    ]
    taken = compare(arms, rounds)
    review, checked = taken["upkeep review"], taken["upkeep verify"]
    print(f"\n{median_of(rounds)}:")
    print(f"  upkeep review --plots: {review.wall_spread()} wall, {review.median.cpu_s:.2f} s CPU")
    print(
        f"  upkeep verify:         {checked.wall_spread()} wall, {checked.median.cpu_s:.2f} s CPU"
    )
    bare = taken["upkeep review (no plots)"]
    print(f"  upkeep review (no plots): {bare.wall_spread()} wall, {bare.median.cpu_s:.2f} s CPU")
    print(rounds_line(taken))
    print(
        f"context: the review without plots (the evidence part) / verify: "
        f"{bare.median.wall_s / checked.median.wall_s:.2f}x wall"
    )
    ratio = review.median.wall_s / checked.median.wall_s
    cpu_ratio = review.median.cpu_s / checked.median.cpu_s
    print(
        f"review / verify: {ratio:.2f}x wall, {cpu_ratio:.2f}x CPU "
        f"(target {TARGET}x) {TARGET.verdict(ratio)}"
    )


if __name__ == "__main__":
    sys.exit(main())
