"""A fleet of simulated hosts on this machine for a test: per host its own folder with an
upkeep.yml (its host_id, evidence and state folders), runbooks that record one check of a
chosen status, and the fleet file naming them."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

from helpers.project import Project


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
