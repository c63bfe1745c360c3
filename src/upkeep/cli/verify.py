"""Responsible for `upkeep verify`: the evidence ledger's hash chain and every run's artifacts
checked again (with `--anchor`, against its anchor in git; with `--fleet`, for every host of a
fleet, each its own ledger), and each problem named.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from upkeep.cli.console import print_err, print_json, print_out
from upkeep.cli.options import GlobalOptions, NonEmptyPath

if TYPE_CHECKING:
    from upkeep.config import Config
    from upkeep.config.evidence_git import EvidenceGit
    from upkeep.config.fleet import LoadedHost
    from upkeep.evidence.anchor_check import AnchorReport
    from upkeep.evidence.verify import Mismatch, VerifyReport


@click.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print the problems as JSON.")
@click.option(
    "--anchor",
    is_flag=True,
    help="Also check the evidence against its anchor in git (`upkeep evidence commit`).",
)
@click.option(
    "--fleet",
    "fleet_path",
    metavar="FILE",
    type=NonEmptyPath(dir_okay=False, path_type=Path),
    help="Verify the evidence of every host of this fleet file (each its own ledger) instead "
    "of this config's.",
)
@click.pass_obj
def verify_command(
    options: GlobalOptions, as_json: bool, anchor: bool, fleet_path: Path | None
) -> int:
    """Verify the evidence ledger's hash chain and every run's artifacts.

    \b
    Examples:
      upkeep verify
      upkeep verify --anchor              # also against the anchor in git
      upkeep verify --fleet fleet.yml     # every host's ledger (and --anchor: every anchor)
    """
    if fleet_path is not None:
        return verify_fleet(fleet_path, as_json=as_json, anchor=anchor)
    return verify_evidence(options.load_config(), as_json=as_json, anchor=anchor)


def verify_evidence(config: Config, *, as_json: bool, anchor: bool = False) -> int:
    """Verify the evidence; exit code 0 when all of it verifies, 1 when something does not."""
    result = _verify(config.evidence_dir, str(config.evidence_dir), config.evidence_git, anchor)
    if as_json:
        print_json(result.to_json())
    else:
        result.print()
    return 0 if result.ok else 1


def verify_fleet(fleet_path: Path, *, as_json: bool, anchor: bool = False) -> int:
    """Verify every host of the fleet from where its evidence can be read here: its config's
    evidence folder, or the folder or git evidence branch its fleet entry names (`evidence:`);
    a host reached over SSH without one keeps its evidence there: it is named, not verified.
    Exit code 0 when all of it verifies, 1 when a host's does not. A fleet file or host config
    that cannot be read is exit 2 (ConfigError), nothing verified."""
    from upkeep.config.fleet import load_fleet_hosts, read_fleet

    hosts = load_fleet_hosts(read_fleet(fleet_path))
    results = [(item.host.id, _verify_host(item, anchor)) for item in hosts]
    if as_json:
        print_json(
            {
                "ok": all(r is None or r.ok for _, r in results),
                "hosts": [
                    {"host": host, **(r.to_json() if r else {"ok": None, "remote": True})}
                    for host, r in results
                ],
            }
        )
    else:
        for host, result in results:
            if result is None:
                print_out(
                    f"{host}: not verified here: its evidence is on that host (over SSH); "
                    "name where this machine can read it with evidence: in the fleet file"
                )
                continue
            result.print(prefix=f"{host}: ")
    failed = [host for host, r in results if r is not None and not r.ok]
    if failed and not as_json:
        print_err(
            f"FAILED: the evidence of {len(failed)} host(s) does not verify: {', '.join(failed)}"
        )
    return 1 if failed else 0


def _verify_host(item: LoadedHost, anchor: bool) -> _Verified | None:
    """One host's evidence verified where its fleet entry says it is; None when it is only on
    that host (over SSH, no `evidence:`)."""
    import tempfile
    from dataclasses import replace

    source, config = item.host.evidence, item.config
    if source is None:
        if item.host.ssh_conn_id is not None:
            return None
        where = str(config.evidence_dir)
        return _verify(config.evidence_dir, where, config.evidence_git, anchor, item.host.id)
    if source.git is None:
        assert source.folder is not None
        if (problem := item.host.unreadable_evidence(source.folder)) is not None:
            return _unreadable(source.describe(), problem)
        return _verify(source.folder, source.describe(), config.evidence_git, anchor, item.host.id)
    from upkeep.errors import EvidenceError
    from upkeep.evidence.branch_copy import read_branch
    from upkeep.evidence.layout import LEDGER

    # The branch is its own anchor: --anchor checks its history and that the copy matches it.
    settings = replace(config.evidence_git, repository=source.git, branch=source.branch)
    with tempfile.TemporaryDirectory(prefix="upkeep-verify-branch-") as scratch:
        try:
            folder, tip = read_branch(source, Path(scratch))
        except EvidenceError as err:
            return _unreadable(source.describe(), str(err))
        if not (folder / LEDGER).is_file():  # as for a folder: never "0 runs, ok"
            why = f"no evidence there: its tip {tip.commit[:12]} holds no {LEDGER}"
            return _unreadable(source.describe(), why)
        return _verify(folder, source.describe(), settings, anchor, item.host.id)


def _unreadable(where: str, why: str) -> _Verified:
    from upkeep.evidence.layout import LEDGER
    from upkeep.evidence.verify import Mismatch, VerifyReport

    report = VerifyReport((Mismatch(None, Path(LEDGER), f"cannot read {where}: {why}"),), 0)
    return _Verified(where, report, None)


# What a verification without the anchor proves, and what it cannot: said beside its "ok".
UNANCHORED_NOTE = (
    "note: every run's files match the ledger and its chain is whole; runs cut off its end, or a "
    "history rewritten whole, show only against an anchor: upkeep verify --anchor (after "
    "upkeep evidence commit)"
)


@dataclass(frozen=True)
class _Verified:
    """One evidence folder's verification, and its anchor's when asked."""

    where: str  # the evidence folder, or the branch it was read from
    report: VerifyReport
    checked: AnchorReport | None

    @property
    def problems(self) -> tuple[Mismatch, ...]:
        return self.report.problems + (self.checked.problems if self.checked else ())

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        report, checked = self.report, self.checked
        return {
            "ok": self.ok,
            "runs_checked": report.runs_checked,
            "decisions_checked": report.decisions_checked,
            **({"anchor": _anchor_json(checked)} if checked else {}),
            "problems": [
                {"run_id": p.run_id, "path": str(p.path), "message": p.message}
                for p in self.problems
            ],
        }

    def print(self, prefix: str = "") -> None:
        report, checked, problems = self.report, self.checked, self.problems
        where = self.where
        if not problems:
            decisions = (
                f" and {report.decisions_checked} decisions" if report.decisions_checked else ""
            )
            print_out(f"{prefix}ok: {report.runs_checked} runs{decisions} verified in {where}")
            if checked is not None and checked.newest is not None:
                print_out(f"{prefix}ok: {_anchor_text(checked)}")
            elif checked is None and not prefix:  # one folder's (a fleet's would repeat it)
                print_out(UNANCHORED_NOTE)
            return
        print_err(
            f"{prefix}FAILED: {len(problems)} problem(s) in {where}; first: {problems[0].message}"
        )
        for problem in problems:
            print_err(f"  - {problem.message}")


def _verify(
    folder: Path, where: str, settings: EvidenceGit, anchor: bool, host_id: str | None = None
) -> _Verified:
    from dataclasses import replace

    from upkeep import evidence

    report = evidence.verify(folder)
    if host_id is not None:  # a fleet host's: every run recorded by another host is named
        from upkeep.evidence.fleet_hosts import foreign_runs

        foreign = foreign_runs(folder, host_id)
        report = replace(report, problems=report.problems + foreign) if foreign else report
    checked = None
    if anchor:  # git and the anchor's modules only for --anchor
        from upkeep.evidence.anchor_check import verify_anchor

        checked = verify_anchor(folder, settings)
    return _Verified(where, report, checked)


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
