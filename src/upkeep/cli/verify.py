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
    from upkeep.evidence.anchor_check import AnchorReport


@click.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print the problems as JSON.")
@click.option(
    "--anchor",
    is_flag=True,
    help="Also check the evidence against its anchor in git (`upkeep evidence commit`).",
)
@click.pass_obj
def verify_command(options: GlobalOptions, as_json: bool, anchor: bool) -> int:
    """Verify the evidence ledger's hash chain and every run's artifacts."""
    return verify_evidence(options.load_config(), as_json=as_json, anchor=anchor)


def verify_evidence(config: Config, *, as_json: bool, anchor: bool = False) -> int:
    """Verify the evidence; exit code 0 when all of it verifies, 1 when something does not."""
    from upkeep import evidence

    report = evidence.verify(config.evidence_dir)
    checked = None
    if anchor:  # git and the anchor's modules only for --anchor
        from upkeep.evidence.anchor_check import verify_anchor

        checked = verify_anchor(config.evidence_dir, config.evidence_git)
    problems = report.problems + (checked.problems if checked else ())
    if as_json:
        print_json(
            {
                "ok": not problems,
                "runs_checked": report.runs_checked,
                "decisions_checked": report.decisions_checked,
                **({"anchor": _anchor_json(checked)} if checked else {}),
                "problems": [
                    {"run_id": p.run_id, "path": str(p.path), "message": p.message}
                    for p in problems
                ],
            }
        )
    elif not problems:
        decisions = f" and {report.decisions_checked} decisions" if report.decisions_checked else ""
        print_out(f"ok: {report.runs_checked} runs{decisions} verified in {config.evidence_dir}")
        if checked is not None and checked.newest is not None:
            print_out(f"ok: {_anchor_text(checked)}")
    else:
        print_err(
            f"FAILED: {len(problems)} problem(s) in {config.evidence_dir}; "
            f"first: {problems[0].message}"
        )
        for problem in problems:
            print_err(f"  - {problem.message}")
    return 0 if not problems else 1


def _anchor_text(checked: AnchorReport) -> str:
    newest = checked.newest
    assert newest is not None
    signed = f"signed tag {newest.tag}" if newest.signed else "unsigned"
    beyond = (
        f"; {checked.unanchored_lines} newer ledger line(s) not anchored yet"
        if checked.unanchored_lines
        else ""
    )
    return (
        f"matches its anchor {newest.commit[:12]} of "
        f"{newest.committed_at:%Y-%m-%d %H:%M} UTC (ledger seq {newest.seq}, {signed}, "
        f"{checked.anchors_checked} anchor(s) in the branch's history){beyond}"
    )


def _anchor_json(checked: AnchorReport) -> dict[str, object]:
    newest = checked.newest
    return {
        "ok": checked.ok,
        "anchors_checked": checked.anchors_checked,
        "unanchored_lines": checked.unanchored_lines,
        "newest": None
        if newest is None
        else {
            "commit": newest.commit,
            "committed_at": newest.committed_at.isoformat(),
            "seq": newest.seq,
            "head": newest.head,
            "tag": newest.tag,
            "signed": newest.signed,
        },
    }
