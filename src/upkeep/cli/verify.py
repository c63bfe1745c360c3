"""Responsible for `upkeep verify`: the evidence ledger's hash chain and every run's artifacts
checked again, and each problem named.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from upkeep.cli.console import print_err, print_json, print_out
from upkeep.cli.options import GlobalOptions

if TYPE_CHECKING:
    from upkeep.config import Config


@click.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print the problems as JSON.")
@click.pass_obj
def verify_command(options: GlobalOptions, as_json: bool) -> int:
    """Verify the evidence ledger's hash chain and every run's artifacts."""
    return verify_evidence(options.load_config(), as_json=as_json)


def verify_evidence(config: Config, *, as_json: bool) -> int:
    """Verify the evidence; exit code 0 when all of it verifies, 1 when something does not."""
    from upkeep import evidence

    report = evidence.verify(config.evidence_dir)
    if as_json:
        print_json(
            {
                "ok": report.ok,
                "runs_checked": report.runs_checked,
                "decisions_checked": report.decisions_checked,
                "problems": [
                    {"run_id": p.run_id, "path": str(p.path), "message": p.message}
                    for p in report.problems
                ],
            }
        )
    elif report.ok:
        decisions = f" and {report.decisions_checked} decisions" if report.decisions_checked else ""
        print_out(f"ok: {report.runs_checked} runs{decisions} verified in {config.evidence_dir}")
    else:
        print_err(
            f"FAILED: {len(report.problems)} problem(s) in {config.evidence_dir}; "
            f"first: {report.problems[0].message}"
        )
        for problem in report.problems:
            print_err(f"  - {problem.message}")
    return 0 if report.ok else 1
