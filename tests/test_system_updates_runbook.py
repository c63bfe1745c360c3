"""The system-updates runbook run for real by the CLI: the demo planned (plan only, ok or warn,
the plan an artifact the ledger covers and the report shows); `upkeep approve` refusing an
unknown run and a plan whose bytes changed; and against a real virtualenv and a wheelhouse built
here, an approved major update applied at its planned version (not a newer one published since),
an unapproved one left alone, a broken one rolled back, and a failed health check putting the
environment back."""

from __future__ import annotations

import json
import shutil
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from helpers.project import REPO, Project
from helpers.recorder import Recorder
from helpers.runbook_docs import covers, load_notebook, triage_rows
from helpers.wheels import build_wheel, installed, make_venv, pip_install

from upkeep.procedures import system_updates
from upkeep.records import Decision
from upkeep.updates.approval import ApprovedPlan
from upkeep.updates.change_plan import PLAN_FILE, ChangePlan, OsChange

pytestmark = pytest.mark.slow
RUNBOOK = REPO / "runbooks" / "monthly" / "system-updates.ipynb"
SMOKE = "python -c \"import demo_lib, sys; sys.exit(3 if getattr(demo_lib, 'BROKEN', 0) else 0)\""
ADVISORY = {
    "schema_version": "1.6.0",
    "id": "GHSA-demo-lib-0001",
    "modified": "2026-11-01T00:00:00Z",
    "published": "2026-11-01T00:00:00Z",
    "aliases": ["CVE-2026-0001"],
    "summary": "demo_lib before 2.0.0 trusts its input",
    "affected": [
        {
            "package": {"ecosystem": "PyPI", "name": "demo-lib", "purl": "pkg:pypi/demo-lib"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0.0"}]}],
        }
    ],
}


def _project(root: Path, config: dict[str, Any] | None = None) -> Project:
    (root / "runbooks" / "monthly").mkdir(parents=True)
    shutil.copy(RUNBOOK, root / "runbooks" / "monthly")
    shutil.copytree(REPO / "demo", root / "demo")
    shutil.copy(REPO / "risk-register.yml", root / "risk-register.yml")
    shipped = yaml.safe_load((REPO / "upkeep.yml").read_text())
    document = {
        "version": 1,
        "evidence_dir": "evidence",
        "state_dir": "state",
        "runbooks_dir": "runbooks",
        "updates": shipped["updates"],
        **(config or {}),
    }
    (root / "upkeep.yml").write_text(yaml.safe_dump(document, sort_keys=False))
    return Project(root)


def _run(project: Project) -> tuple[int, dict[str, Any], Path]:
    result = project.upkeep("run", "system-updates", timeout=300)
    folder = project.run_dirs()[-1]
    return result.code, json.loads((folder / "run.json").read_text()), folder


def _checks(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {check["name"]: check for check in record["checks"]}


def test_the_demo_is_planned_with_the_plan_in_the_evidence_and_the_report(tmp_path: Path) -> None:
    project = _project(tmp_path)
    code, record, folder = _run(project)
    assert (code, record["status"]) in ((0, "ok"), (0, "warn"))
    checks = _checks(record)
    assert {"plan:os", "plan:python", "plan:restarts"} <= set(checks)
    assert "updates.os: none" in checks["plan:os"]["message"]
    plan = json.loads((folder / PLAN_FILE).read_bytes())
    assert plan["run_id"] == record["run_id"] and PLAN_FILE in record["artifacts"]
    assert "Change plan of run " + record["run_id"] in (folder / "report.html").read_text()
    rows = triage_rows(load_notebook(RUNBOOK))
    assert [name for name in checks if not covers(rows, name)] == []
    # The demo: no OS packages (updates.os: none), no major in its index: nothing to approve.
    assert (plan["os"], plan["python"], record["status"]) == ([], [], "ok")
    empty = project.upkeep_in_process("approve", record["run_id"], "--by", "al")
    assert empty.code == 2 and "changes nothing" in empty.err
    assert project.upkeep_in_process("verify").code == 0


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    house = tmp_path_factory.mktemp("wheelhouse")
    build_wheel(house, "demo_lib", "1.0.0")
    build_wheel(house, "demo_lib", "2.0.0")
    build_wheel(house, "other_lib", "1.0")
    build_wheel(house, "other_lib", "2.0")
    return house


def _venv_project(
    tmp_path: Path, wheelhouse: Path, services: list[dict[str, Any]] | None = None
) -> tuple[Project, Path, Path]:
    house = tmp_path / "index"
    shutil.copytree(wheelhouse, house)
    venv = make_venv(tmp_path / "venv")
    pip_install(venv, house, "demo_lib==1.0.0", "other_lib==1.0")
    advisories = tmp_path / "advisories"
    advisories.mkdir()
    (advisories / "GHSA-demo-lib-0001.json").write_text(json.dumps(ADVISORY))
    target = {"name": "app", "venv": str(venv), "smoke_command": SMOKE}
    updates = {"python": [target], "advisory_dir": str(advisories), "index_url": str(house)}
    config: dict[str, Any] = {"updates": updates, "services": services or []}
    return _project(tmp_path / "project", config), venv, house


def _plan_and_approve(project: Project) -> dict[str, Any]:
    code, record, folder = _run(project)
    assert (code, record["status"]) == (0, "warn")
    plan = json.loads((folder / PLAN_FILE).read_bytes())
    assert [(p["package"], p["version"]) for p in plan["python"]] == [
        ("demo-lib", "2.0.0"),
        ("other-lib", "2.0"),
    ]
    assert plan["python"][0]["fixes"] == ["CVE-2026-0001", "GHSA-DEMO-LIB-0001"]
    approved = project.upkeep_in_process("approve", record["run_id"], "--by", "alice")
    assert approved.code == 0, approved.err
    return record


def test_an_approved_major_is_applied_at_its_planned_version_once(
    tmp_path: Path, wheelhouse: Path
) -> None:
    project, venv, house = _venv_project(tmp_path, wheelhouse)
    code, unapproved, _ = _run(project)  # a plan nobody approves
    assert installed(venv)["demo-lib"] == "1.0.0"
    planned = _plan_and_approve(project)
    only_plan = project.upkeep("run", "system-updates", "-p", "mode=plan", timeout=300)
    assert only_plan.code == 0 and installed(venv)["demo-lib"] == "1.0.0"  # mode=plan: waits
    build_wheel(house, "demo_lib", "3.0.0")  # published after the approval: not approved
    code, record, folder = _run(project)
    assert (code, record["status"]) == (0, "ok"), record["checks"]
    checks = _checks(record)
    assert planned["run_id"] in checks["apply:approval"]["message"]
    assert "alice" in checks["apply:approval"]["message"]
    assert installed(venv) == {"demo-lib": "2.0.0", "other-lib": "2.0"}
    assert not (folder / PLAN_FILE).exists()
    # Applied once: the next run plans again (now the 3.0.0 nobody approved), changing nothing.
    code, after, folder = _run(project)
    assert "apply:approval" not in _checks(after)
    plan = json.loads((folder / PLAN_FILE).read_bytes())
    assert [(p["package"], p["version"]) for p in plan["python"]] == [("demo-lib", "3.0.0")]
    assert installed(venv)["demo-lib"] == "2.0.0"
    assert unapproved["run_id"] != planned["run_id"]
    assert project.upkeep_in_process("verify").code == 0


def test_a_major_that_breaks_the_smoke_command_is_rolled_back(
    tmp_path: Path, wheelhouse: Path
) -> None:
    project, venv, house = _venv_project(tmp_path, wheelhouse)
    before = installed(venv)
    (house / "demo_lib-2.0.0-py3-none-any.whl").unlink()
    build_wheel(house, "demo_lib", "2.0.0", body="BROKEN = 1\n")
    _plan_and_approve(project)
    code, record, _ = _run(project)
    assert (code, record["status"]) == (1, "fail")
    check = _checks(record)["apply:app"]
    assert check["status"] == "fail" and "rolled back to the previous versions" in check["message"]
    assert installed(venv) == before


def test_a_failed_health_check_puts_the_environment_back(tmp_path: Path, wheelhouse: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    down = {"name": "web", "kind": "tcp", "host": "127.0.0.1", "port": port, "timeout_s": 1}
    project, venv, _ = _venv_project(tmp_path, wheelhouse, services=[down])
    before = installed(venv)
    _plan_and_approve(project)
    code, record, _ = _run(project)
    assert (code, record["status"]) == (1, "fail")
    checks = _checks(record)
    assert checks["apply:app"]["status"] == "ok"  # its smoke command passed...
    health = checks["apply:health"]
    assert health["status"] == "fail" and "web" in health["message"]
    assert "Python environments put back: app restored" in health["message"]
    assert installed(venv) == before  # ...and the health check undid it


def _tamper(plan: Path) -> None:
    plan.chmod(0o600)
    plan.write_bytes(plan.read_bytes().replace(b'"2.0.0"', b'"2.0.1"', 1))


def test_approving_an_unknown_run_or_a_changed_plan_is_refused(
    tmp_path: Path, wheelhouse: Path
) -> None:
    project, venv, _ = _venv_project(tmp_path, wheelhouse)
    _, record, folder = _run(project)
    ledger = (project.evidence / "ledger.jsonl").read_bytes()
    unknown = project.upkeep_in_process(
        "approve", "20261201T000000Z-system-updates-0000", "--by", "al"
    )
    assert unknown.code == 2 and "no run 20261201T000000Z-system-updates-0000" in unknown.err
    _tamper(folder / PLAN_FILE)
    changed = project.upkeep_in_process("approve", record["run_id"], "--by", "al")
    assert changed.code == 2 and "changed after the run published it" in changed.err
    assert (project.evidence / "ledger.jsonl").read_bytes() == ledger  # nothing recorded
    # Changed after its approval: the run applies nothing, says so, and plans anew.
    planned = _plan_and_approve(project)
    _tamper(project.run_dirs()[-1] / PLAN_FILE)
    assert planned["run_id"] == project.run_dirs()[-1].name
    code, applying, folder = _run(project)
    assert (code, applying["status"]) == (1, "fail")
    check = _checks(applying)["apply:approval"]
    assert check["status"] == "fail" and "changed after the run published it" in check["message"]
    assert (folder / PLAN_FILE).exists() and installed(venv)["demo-lib"] == "1.0.0"


def test_an_index_password_never_lands_in_the_plan(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: the index does not answer
    shipped = yaml.safe_load((REPO / "upkeep.yml").read_text())["updates"]
    updates = {**shipped, "index_url": f"http://bob:s3cret-pw@127.0.0.1:{port}/simple"}
    project = _project(tmp_path, {"updates": updates})
    code, record, folder = _run(project)
    assert (code, record["status"]) == (0, "warn")
    assert "updates not looked up" in _checks(record)["plan:python"]["message"]
    assert b"updates not looked up" in (folder / PLAN_FILE).read_bytes()
    leaked = [p for p in project.evidence_files() if b"s3cret-pw" in p.read_bytes()]
    assert leaked == []


def test_an_apply_that_installed_nothing_does_not_say_it_applied(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # With os_apply off the summary said "applied the plan of ..." although nothing was
    # installed, and the approval time was raw UTC ISO.
    recorded = Recorder()
    monkeypatch.setattr(system_updates, "report", recorded)
    plan = ChangePlan(
        "20261201T030000Z-system-updates-0001",
        "2026-12-01T03:00:00Z",
        os=(OsChange("openssl", "3.0.1", "3.0.2", ("Debian-Security",), True),),
    )
    approval = Decision(
        "approve", plan.run_id, "alice", datetime(2026, 12, 2, 8, 30, tzinfo=UTC), "patch day"
    )
    message = "system_updates.os_apply is off: install them by hand: apt-get install ..."
    applied = system_updates.Applied(
        ApprovedPlan(plan, approval, "ab" * 32),
        os_message=message,
        zone=ZoneInfo("Europe/Berlin"),
    )

    system_updates.record_apply(applied)

    assert recorded.summaries() == [
        f"nothing of the plan of {plan.run_id} was applied (see the apply checks)"
    ]
    assert (
        "approved by alice at 2026-12-02 09:30 CET"
        in recorded.checks()["apply:approval"]["message"]
    )
    assert recorded.checks()["apply:os"]["status"] == "warn"
