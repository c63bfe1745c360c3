"""A fleet of simulated hosts on this machine for a test: per host its own folder with an
upkeep.yml (its host_id, evidence and state folders), runbooks that record one check of a
chosen status, the fleet file naming them, and runs published into a host's evidence."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from helpers.project import Project
from upkeep.evidence import EvidenceStore
from upkeep.records import Check, Host, RunbookRef, RunRecord, Status


@dataclass(frozen=True)
class SimulatedHost:
    """`runbooks`: runbook name -> (cadence, the status its one check records)."""

    id: str
    runbooks: dict[str, tuple[str, str]]
    fleet_entry: str = ""  # extra lines of its entry in the fleet file (queue:, ssh_conn_id:)
    timezone: str = "UTC"


def make_fleet(root: Path, hosts: list[SimulatedHost], *, groups: str = "") -> Path:
    """Each host's project under root/<id>, and root/fleet.yml; the fleet file's path."""
    entries = []
    for host in hosts:
        folder = root / host.id
        (folder / "runbooks").mkdir(parents=True)
        (folder / "upkeep.yml").write_text(
            textwrap.dedent(f"""\
            version: 1
            timezone: {host.timezone}
            host_id: {host.id}
            evidence_dir: evidence
            state_dir: state
            runbooks_dir: runbooks
            defaults:
              timeout_s: 120
              jobs: 1
            """)
        )
        project = Project(folder)
        for name, (cadence, status) in host.runbooks.items():
            code = f"from upkeep import report\nreport.check('{name}', '{status}', message='x')"
            project.add_runbook(name, [("code", code)], cadence=cadence)
        entry = f"  - id: {host.id}\n    config: {host.id}/upkeep.yml\n"
        entries.append(entry + textwrap.indent(textwrap.dedent(host.fleet_entry), "    "))
    fleet = root / "fleet.yml"
    fleet.write_text("version: 1\n" + textwrap.dedent(groups) + "hosts:\n" + "".join(entries))
    return fleet


def publish_host_run(
    evidence: Path, host: str, minutes: int, runbook: str = "probe", status: str = "ok"
) -> Path:
    """Publish one run of `runbook` on `host` that started `minutes` ago (its check ending with
    `status`) into the evidence at `evidence`, through the real store; its run folder."""
    started = datetime.now(UTC) - timedelta(minutes=minutes)
    store = EvidenceStore(evidence)
    record = RunRecord(
        run_id=f"{started:%Y%m%dT%H%M%SZ}-{runbook}-{minutes:04x}",
        runbook=RunbookRef(runbook, runbook.title(), f"runbooks/daily/{runbook}.ipynb"),
        status=Status(status),
        started_at=started,
        ended_at=started + timedelta(seconds=2),
        as_of=started,
        host=Host(name=host, id=host),
        checks=(Check(runbook, Status(status)),),
    )
    staging = store.new_staging(record.run_id)
    (staging / "report.html").write_text(f"<p>{host} {runbook} {status}</p>")
    return store.publish(staging, record).path
