"""upkeep.site.fleet and fleet_pages: every host of a fleet read and verified from its evidence
source (its evidence folder, a folder, its git evidence branch), hosts worst first then by id,
a runbook that does not apply and a host whose evidence cannot be read shown as such, a tampered
report red; the fleet file's `evidence:` field checked."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers.anchoring import project_repository
from helpers.fleet import SimulatedHost, make_fleet, publish_host_run
from helpers.git import git
from helpers.project import Project

from upkeep import registry
from upkeep.config import load_config
from upkeep.config.evidence_git import EvidenceGit
from upkeep.config.fleet import read_fleet
from upkeep.docs_review.site_links import scan_site
from upkeep.errors import ConfigError
from upkeep.evidence import EvidenceStore
from upkeep.evidence.anchor import commit_evidence
from upkeep.records import Check, Host, Metric, RunbookRef, RunRecord, Status
from upkeep.records.results import Waiver
from upkeep.site.fleet import FleetModel, load_fleet_model
from upkeep.site.fleet_pages import fleet_dashboard, host_runs_page
from upkeep.site.model import SiteModel, load_model


def _hosts(root: Path, far_entry: str = "ssh_conn_id: ssh_far\n") -> Path:
    """db-1 (probe ok, backup fail), web-1 (probe ok; backup does not apply), far-1 (over SSH)."""
    hosts = [
        SimulatedHost(
            "web-1",
            {"probe": ("daily", "ok"), "backup": ("daily", "ok")},
            fleet_entry="runbooks: [probe]\n",
        ),
        SimulatedHost("db-1", {"probe": ("daily", "ok"), "backup": ("daily", "ok")}),
        SimulatedHost("far-1", {"probe": ("daily", "ok")}, fleet_entry=far_entry),
    ]
    fleet = make_fleet(root, hosts)
    for minutes in (30, 20):
        publish_host_run(root / "web-1" / "evidence", "web-1", minutes)
        publish_host_run(root / "db-1" / "evidence", "db-1", minutes)
    publish_host_run(root / "db-1" / "evidence", "db-1", 10, runbook="backup", status="fail")
    return fleet


def _model(fleet: Path, root: Path) -> FleetModel:
    return load_fleet_model(fleet, root / "controller-state", datetime.now(UTC))


def _controller(project: Project) -> SiteModel:
    """The site model of the controller's own project, whose time zone the pages use."""
    config = load_config(project.config)
    return load_model(config, registry.discover(config.runbooks_dir, config.root))


def test_hosts_come_worst_first_then_by_id_and_each_cell_is_the_newest_run(
    tmp_path: Path,
) -> None:
    model = _model(_hosts(tmp_path), tmp_path)

    assert [host.id for host in model.hosts] == ["far-1", "db-1", "web-1"]
    assert model.runbooks == ("backup", "probe")
    far, db, web = model.hosts
    assert far.problem is not None and "over SSH" in far.problem and not far.verified
    assert db.verified and len(db.runs) == 3
    assert db.cell("backup").newest is not None
    assert db.cell("backup").newest.status.value == "fail"
    assert db.cell("probe").newest == db.runs[1]  # the newer of the two probe runs
    assert not web.cell("backup").applies and web.cell("probe").applies
    # one verify cache per host, under the controller's state_dir
    assert (
        tmp_path / "controller-state" / "site" / "fleet" / "db-1" / "verified-runs.json"
    ).is_file()


def test_a_tampered_report_puts_its_host_above_a_failing_one_in_red(
    tmp_path: Path, project: Project
) -> None:
    fleet = _hosts(tmp_path)
    newest = sorted((tmp_path / "web-1" / "evidence" / "runs").rglob("report.html"))[-1]
    newest.write_text("<p>altered</p>")

    model = _model(fleet, tmp_path)
    assert [host.id for host in model.hosts] == ["far-1", "web-1", "db-1"]
    web = model.hosts[1]
    assert len(web.problems) == 1 and "report.html" in web.problems[0]

    controller = _controller(project)
    dashboard = fleet_dashboard(controller, model)
    row = dashboard.split('href="web-1/"')[1].split("</tr>")[0]
    assert '<strong class="uk-bad">1 problem(s)</strong>' in row
    assert "DOES NOT VERIFY" in row
    assert "does not apply" in row  # backup, not in web-1's runbooks
    far_row = dashboard.split('href="far-1/"')[1].split("</tr>")[0]
    assert "cannot be read" in far_row and "UNKNOWN" in far_row and "NEVER RUN" not in far_row
    page = host_runs_page(controller, web)
    assert page.count("DOES NOT VERIFY") == 2  # the run's status column and its evidence column
    assert "report.html" in page


def test_a_host_is_read_from_its_git_evidence_branch(tmp_path: Path) -> None:
    fleet = _hosts(tmp_path, far_entry="ssh_conn_id: ssh_far\nevidence: {git: anchors.git}\n")
    far = tmp_path / "far-1"
    project_repository(far)  # far-1's evidence folder inside a git repository, git-ignored
    for minutes in (50, 40):
        publish_host_run(far / "evidence", "far-1", minutes)
    repo = tmp_path / "anchors.git"
    git(tmp_path, "init", "--quiet", "--bare", str(repo))
    anchored = commit_evidence(far / "evidence", EvidenceGit(repository=repo)).anchor
    shutil.rmtree(far / "evidence")  # not on this machine: only the branch is

    model = _model(fleet, tmp_path)
    host = next(host for host in model.hosts if host.id == "far-1")
    assert host.problem is None and host.verified
    assert len(host.runs) == 2 and host.anchor == anchored
    assert (
        host.evidence_dir == tmp_path / "controller-state" / "site" / "fleet" / "far-1" / "evidence"
    )
    assert host.source == f"branch evidence of {repo}"

    # The copy is verified, not trusted: a report altered there shows red.
    report = next((host.evidence_dir / "runs").rglob("report.html"))
    report.write_text("<p>altered</p>")
    assert not _model(fleet, tmp_path).hosts[0].verified


@pytest.mark.parametrize(
    ("entry", "said"),
    [
        ("evidence: 5\n", "hosts[0].evidence: expected a folder, or a mapping {git: REPOSITORY"),
        ("evidence: ''\n", "hosts[0].evidence: expected a non-empty string"),
        ("evidence: {branch: evidence}\n", "hosts[0].evidence.git: required key is missing"),
        ("evidence: {git: r, branch: 'a b'}\n", "hosts[0].evidence.branch: expected a plain git"),
        ("evidence: {git: r, colour: blue}\n", "hosts[0].evidence.colour: unknown key"),
    ],
)
def test_a_bad_evidence_field_names_the_field_and_what_was_expected(
    tmp_path: Path, entry: str, said: str
) -> None:
    fleet = make_fleet(tmp_path, [SimulatedHost("db-1", {"probe": ("daily", "ok")}, entry)])
    with pytest.raises(ConfigError) as raised:
        read_fleet(fleet)
    assert str(raised.value).startswith(f"{fleet}: {said}")


def test_evidence_names_a_folder_or_a_branch_relative_to_the_fleet_file(tmp_path: Path) -> None:
    hosts = [
        SimulatedHost("db-1", {"probe": ("daily", "ok")}, "evidence: copies/db-1\n"),
        SimulatedHost("web-1", {"probe": ("daily", "ok")}, "evidence: {git: r, branch: ev}\n"),
    ]
    fleet = read_fleet(make_fleet(tmp_path, hosts))
    db, web = (host.evidence for host in fleet.hosts)
    assert db is not None and db.folder == tmp_path / "copies" / "db-1" and db.git is None
    assert web is not None and (web.git, web.branch, web.folder) == (tmp_path / "r", "ev", None)


@pytest.mark.slow
def test_site_build_with_a_fleet_has_its_dashboard_host_pages_and_reports(
    tmp_path: Path, project: Project
) -> None:
    fleet = _hosts(tmp_path / "hosts")
    newest = sorted((tmp_path / "hosts" / "web-1" / "evidence" / "runs").rglob("report.html"))[-1]
    newest.write_text("<p>altered</p>")

    result = project.upkeep(
        "site", "build", "--fleet", str(fleet), "--site-dir", "public", timeout=600
    )

    assert result.code == 0, result.text
    site = tmp_path / "public"
    dashboard = (site / "fleet" / "index.html").read_text().split('class="uk-table uk-fleet"')[1]
    assert (
        dashboard.index('href="far-1/"')
        < dashboard.index('href="web-1/"')
        < dashboard.index('href="db-1/"')
    )
    web_row = dashboard.split('href="web-1/"')[1].split("</tr>")[0]
    assert "1 problem(s)" in web_row and "DOES NOT VERIFY" in web_row
    web = (site / "fleet" / "web-1" / "index.html").read_text()
    assert "DOES NOT VERIFY" in web and "Host web-1" in web
    # Each run's report is in the site under its host's folder, byte for byte.
    db_runs = sorted((tmp_path / "hosts" / "db-1" / "evidence" / "runs").rglob("report.html"))
    for report in db_runs:
        relpath = report.relative_to(tmp_path / "hosts" / "db-1" / "evidence")
        assert (site / "fleet" / "db-1" / relpath).read_bytes() == report.read_bytes()
    # The Fleet section is in the navigation, and every link of the fleet pages resolves.
    assert 'href="../fleet/"' in (site / "coverage" / "index.html").read_text()
    links = scan_site(site)
    assert [b for b in links.broken if b.page.startswith("fleet/")] == []
    assert links.internal > 0


def test_site_build_with_a_bad_fleet_file_is_exit_2_and_builds_nothing(
    tmp_path: Path, project: Project
) -> None:
    entry = "evidence: {git: r, branch: 'a b'}\n"
    fleet = make_fleet(
        tmp_path / "hosts", [SimulatedHost("db-1", {"probe": ("daily", "ok")}, entry)]
    )

    result = project.upkeep_in_process("site", "build", "--fleet", str(fleet), "--site-dir", "out")

    assert result.code == 2
    assert "hosts[0].evidence.branch: expected a plain git branch name" in result.err
    assert not (tmp_path / "out").exists()


def test_site_build_refuses_a_runbook_the_host_does_not_have_as_export_does(
    tmp_path: Path, project: Project
) -> None:
    entry = "runbooks: [probe, ghost]\n"
    fleet = make_fleet(
        tmp_path / "hosts", [SimulatedHost("db-1", {"probe": ("daily", "ok")}, entry)]
    )

    result = project.upkeep_in_process("site", "build", "--fleet", str(fleet), "--site-dir", "out")

    assert result.code == 2
    assert "hosts[0].runbooks: 'ghost' is not a runbook of host 'db-1'" in result.err
    assert "expected one of probe" in result.err
    assert not (tmp_path / "out").exists()
    with pytest.raises(ConfigError, match="'ghost' is not a runbook"):  # and the plugin's path
        _model(fleet, tmp_path)


def test_a_local_host_that_has_not_run_yet_is_never_run_not_unreadable(
    tmp_path: Path, project: Project
) -> None:
    hosts = [
        SimulatedHost("db-1", {"probe": ("daily", "ok")}),
        SimulatedHost("new-1", {"probe": ("daily", "ok")}),  # no run, no evidence folder yet
    ]
    fleet = make_fleet(tmp_path, hosts)
    publish_host_run(tmp_path / "db-1" / "evidence", "db-1", 30, status="warn")

    model = _model(fleet, tmp_path)
    new = next(host for host in model.hosts if host.id == "new-1")
    assert new.problem is None and new.runs == () and new.verified
    assert new.cell("probe").newest is None
    assert [host.id for host in model.hosts] == ["new-1", "db-1"]  # never run ranks above warn
    page = fleet_dashboard(_controller(project), model)
    assert "cannot be read" not in page and "does NOT verify" not in page
    assert "no runs yet" in page and "NEVER RUN" in page


def test_a_fleet_run_keeps_what_its_pages_show_and_drops_the_rest(
    tmp_path: Path, project: Project
) -> None:
    fleet = make_fleet(tmp_path, [SimulatedHost("db-1", {"probe": ("daily", "ok")})])
    started = datetime.now(UTC) - timedelta(minutes=5)
    store = EvidenceStore(tmp_path / "db-1" / "evidence")
    waiver = Waiver(reason="accepted until the upgrade", expires="2099-01-01", approved_by="cto")
    record = RunRecord(
        run_id=f"{started:%Y%m%dT%H%M%SZ}-probe-0001",
        runbook=RunbookRef("probe", "Probe", "runbooks/daily/probe.ipynb"),
        status=Status.WARN,
        started_at=started,
        ended_at=started + timedelta(seconds=2),
        as_of=started,
        host=Host(name="db-1", id="db-1"),
        dry_run=True,
        checks=(Check("disk", Status.FAIL, waiver=waiver), Check("load", Status.OK)),
        metrics=tuple(Metric(f"m{index}", float(index)) for index in range(50)),
    )
    staging = store.new_staging(record.run_id)
    (staging / "report.html").write_text("<p>probe</p>")
    store.publish(staging, record)

    model = _model(fleet, tmp_path)
    kept = model.hosts[0].runs[0].record
    assert kept is not None and kept.dry_run and kept.metrics == ()
    assert [check.name for check in kept.checks] == ["disk"]  # the waived one
    page = fleet_dashboard(_controller(project), model)
    assert "WAIVED" in page and "DRY RUN" in page and "WARN" in page


def test_a_host_showing_another_hosts_evidence_does_not_verify(tmp_path: Path) -> None:
    # far-1's entry names a copy of db-1's evidence: shown as far-1's, verifying.
    fleet = _hosts(tmp_path, far_entry="ssh_conn_id: ssh_far\nevidence: copies/far-1\n")
    shutil.copytree(tmp_path / "db-1" / "evidence", tmp_path / "copies" / "far-1")
    model = _model(fleet, tmp_path)
    far = next(host for host in model.hosts if host.id == "far-1")
    assert not far.verified
    assert any("recorded by host 'db-1', not 'far-1'" in problem for problem in far.problems)
