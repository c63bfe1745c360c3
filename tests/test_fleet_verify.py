"""`upkeep verify --fleet`: every host's evidence verified on its own (one ledger per host), a
host whose evidence does not verify named and the exit code 1, a host reached over SSH named as
not verified here, a fleet file that cannot be read exit 2."""

from __future__ import annotations

import json
from pathlib import Path

from helpers.fleet import SimulatedHost, make_fleet, publish_host_run
from helpers.project import Project


def _fleet(tmp_path: Path) -> tuple[Path, Project]:
    hosts = [
        SimulatedHost("db-1", {"probe": ("daily", "ok")}),
        SimulatedHost("web-1", {"probe": ("daily", "ok")}),
        SimulatedHost("far-1", {"probe": ("daily", "ok")}, fleet_entry="ssh_conn_id: ssh_far\n"),
    ]
    fleet = make_fleet(tmp_path, hosts)
    for host in ("db-1", "web-1"):
        for minutes in (30, 20):
            publish_host_run(tmp_path / host / "evidence", host, minutes)
    return fleet, Project(tmp_path / "db-1")


def test_every_local_host_is_verified_on_its_own(tmp_path: Path) -> None:
    fleet, project = _fleet(tmp_path)

    result = project.upkeep_in_process("verify", "--fleet", str(fleet))

    assert result.code == 0, result.text
    assert f"db-1: ok: 2 runs verified in {tmp_path / 'db-1' / 'evidence'}" in result.out
    assert f"web-1: ok: 2 runs verified in {tmp_path / 'web-1' / 'evidence'}" in result.out
    assert "far-1: not verified here: its evidence is on that host" in result.out


def test_a_host_whose_evidence_was_altered_fails_the_fleet_naming_it(tmp_path: Path) -> None:
    fleet, project = _fleet(tmp_path)
    report = next((tmp_path / "web-1" / "evidence" / "runs").rglob("report.html"))
    report.write_text("<p>altered</p>")

    result = project.upkeep_in_process("verify", "--fleet", str(fleet))
    assert result.code == 1
    assert "db-1: ok: 2 runs" in result.out
    assert "web-1: FAILED: 1 problem(s)" in result.err and "report.html" in result.err
    assert "the evidence of 1 host(s) does not verify: web-1" in result.err

    as_json = json.loads(project.upkeep_in_process("verify", "--fleet", str(fleet), "--json").out)
    by_host = {item["host"]: item for item in as_json["hosts"]}
    assert as_json["ok"] is False
    assert (by_host["db-1"]["ok"], by_host["web-1"]["ok"], by_host["far-1"]["ok"]) == (
        True,
        False,
        None,
    )
    assert by_host["far-1"]["remote"] is True
    assert by_host["web-1"]["problems"][0]["path"].endswith("report.html")


def test_a_fleet_file_that_cannot_be_read_is_exit_2(tmp_path: Path) -> None:
    fleet, project = _fleet(tmp_path)
    fleet.write_text("version: 1\nhosts:\n  - id: db-1\n")

    result = project.upkeep_in_process("verify", "--fleet", str(fleet))
    assert result.code == 2 and "config" in result.err and "ok:" not in result.out
