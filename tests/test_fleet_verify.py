"""`upkeep verify --fleet`: every host's evidence verified on its own (one ledger per host), a
host whose evidence does not verify named and the exit code 1, a host reached over SSH named as
not verified here unless its fleet entry names where its evidence can be read (`evidence:`, a
folder or its git evidence branch), a fleet file that cannot be read exit 2."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from helpers.anchoring import project_repository
from helpers.fleet import SimulatedHost, make_fleet, publish_host_run
from helpers.git import converting_git_config, git
from helpers.project import Project

from upkeep.config.evidence_git import EvidenceGit
from upkeep.evidence.anchor import commit_evidence


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


def _far_host(tmp_path: Path, entry: str) -> tuple[Path, Project, Path]:
    """db-1 local; far-1 over SSH with `entry` in its fleet entry, its runs published into its
    evidence folder, which sits in a git repository (git-ignored) for anchoring."""
    hosts = [
        SimulatedHost("db-1", {"probe": ("daily", "ok")}),
        SimulatedHost("far-1", {"probe": ("daily", "ok")}, fleet_entry=entry),
    ]
    fleet = make_fleet(tmp_path, hosts)
    publish_host_run(tmp_path / "db-1" / "evidence", "db-1", 30)
    far = tmp_path / "far-1"
    project_repository(far)
    for minutes in (50, 40):
        publish_host_run(far / "evidence", "far-1", minutes)
    return fleet, Project(tmp_path / "db-1"), far / "evidence"


def test_a_remote_host_is_verified_from_the_folder_its_entry_names(tmp_path: Path) -> None:
    fleet, project, far_evidence = _far_host(
        tmp_path, "ssh_conn_id: ssh_far\nevidence: copies/far-1\n"
    )
    copy = tmp_path / "copies" / "far-1"
    shutil.copytree(far_evidence, copy)  # as rsync from that host would leave it

    result = project.upkeep_in_process("verify", "--fleet", str(fleet))
    assert result.code == 0, result.text
    assert f"far-1: ok: 2 runs verified in {copy}" in result.out

    next((copy / "runs").rglob("report.html")).write_text("<p>altered</p>")
    result = project.upkeep_in_process("verify", "--fleet", str(fleet))
    assert result.code == 1
    assert f"far-1: FAILED: 1 problem(s) in {copy}" in result.err
    assert "does not verify: far-1" in result.err


def test_a_remote_host_is_verified_from_its_git_evidence_branch(tmp_path: Path) -> None:
    fleet, project, far_evidence = _far_host(
        tmp_path, "ssh_conn_id: ssh_far\nevidence: {git: anchors.git}\n"
    )
    repo = tmp_path / "anchors.git"
    git(tmp_path, "init", "--quiet", "--bare", str(repo))
    anchored = commit_evidence(far_evidence, EvidenceGit(repository=repo)).anchor
    shutil.rmtree(far_evidence)  # not on this machine: only the branch is

    result = project.upkeep_in_process("verify", "--fleet", str(fleet), "--anchor")
    assert f"far-1: ok: 2 runs verified in branch evidence of {repo}" in result.out
    assert f"far-1: ok: matches its anchor {anchored.commit[:12]}" in result.out
    # db-1 was never anchored: --anchor fails it, and only it.
    assert result.code == 1 and "does not verify: db-1\n" in result.err
    assert not list(tmp_path.rglob("upkeep-verify-branch-*"))  # its copy is gone

    # A branch that is not there is a problem of that host, named, not a crash or a pass.
    fleet.write_text(
        fleet.read_text().replace("{git: anchors.git}", "{git: anchors.git, branch: gone}")
    )
    result = project.upkeep_in_process("verify", "--fleet", str(fleet))
    assert result.code == 1
    assert f"far-1: FAILED: 1 problem(s) in branch gone of {repo}" in result.err
    assert "has no branch 'gone'" in result.err
    assert "db-1: ok: 1 runs" in result.out


def test_a_named_evidence_folder_without_a_ledger_fails_that_host(tmp_path: Path) -> None:
    """A tired operator's `evidence:` pointing at the wrong folder is not "0 runs, ok"."""
    fleet, project, _ = _far_host(tmp_path, "ssh_conn_id: ssh_far\nevidence: /etc\n")

    result = project.upkeep_in_process("verify", "--fleet", str(fleet))
    assert result.code == 1
    assert "far-1: FAILED: 1 problem(s) in /etc" in result.err
    assert "no evidence at /etc: no ledger.jsonl there" in result.err
    assert "db-1: ok: 1 runs" in result.out


def test_another_hosts_evidence_does_not_verify_as_this_hosts(tmp_path: Path) -> None:
    # A remote host's entry naming a copy of db-1's evidence verified as "ok: 1 runs" for far-1.
    fleet, project, _ = _far_host(tmp_path, "ssh_conn_id: ssh_far\nevidence: copies/far-1\n")
    shutil.copytree(tmp_path / "db-1" / "evidence", tmp_path / "copies" / "far-1")

    result = project.upkeep_in_process("verify", "--fleet", str(fleet))

    assert result.code == 1, result.text
    assert "db-1: ok: 1 runs" in result.out
    assert "far-1: FAILED: 1 problem(s)" in result.err
    assert "was recorded by host 'db-1', not 'far-1': this is another host's evidence" in result.err


def test_a_git_evidence_branch_is_read_as_committed_whatever_git_would_convert(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With `core.autocrlf=true` in the user's git config, `git archive` wrote CRLF line ends:
    every file of the host's branch was reported edited."""
    fleet, project, far_evidence = _far_host(
        tmp_path, "ssh_conn_id: ssh_far\nevidence: {git: anchors.git}\n"
    )
    repo = tmp_path / "anchors.git"
    git(tmp_path, "init", "--quiet", "--bare", str(repo))
    commit_evidence(far_evidence, EvidenceGit(repository=repo))
    for name, value in converting_git_config(tmp_path / "home", repo).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("GIT_CONFIG_GLOBAL", raising=False)

    result = project.upkeep_in_process("verify", "--fleet", str(fleet), "--anchor")
    assert f"far-1: ok: 2 runs verified in branch evidence of {repo}" in result.out, result.text
    assert "far-1: ok: matches its anchor" in result.out


def test_a_git_evidence_branch_whose_tip_holds_no_ledger_fails_that_host(tmp_path: Path) -> None:
    """As for a folder: a branch tip with an anchor's message but no ledger is not "0 runs, ok"
    (with or without --anchor)."""
    fleet, project, far_evidence = _far_host(
        tmp_path, "ssh_conn_id: ssh_far\nevidence: {git: anchors.git}\n"
    )
    repo = tmp_path / "anchors.git"
    git(tmp_path, "init", "--quiet", "--bare", str(repo))
    commit_evidence(far_evidence, EvidenceGit(repository=repo))
    message = git(repo, "log", "-1", "--format=%B", "evidence")
    empty = git(repo, "write-tree").strip()  # a bare repository's index is empty
    emptied = git(repo, "commit-tree", empty, "-p", "evidence", "-m", message).strip()
    git(repo, "update-ref", "refs/heads/evidence", emptied)

    for extra in ((), ("--anchor",)):
        result = project.upkeep_in_process("verify", "--fleet", str(fleet), *extra)
        assert result.code == 1, result.text
        assert f"far-1: FAILED: 1 problem(s) in branch evidence of {repo}" in result.err
        assert f"its tip {emptied[:12]} holds no ledger.jsonl" in result.err
        assert "far-1: ok" not in result.out
