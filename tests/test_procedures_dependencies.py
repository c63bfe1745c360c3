"""The dependency review graded and recorded from reviews built here (no pip-audit, no apt): what
each check says for each outcome, findings keyed stably and recorded once, and the runbook as a
document: its triage table covers every check, escalates to the plan's roles, committed clean."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from helpers.project import REPO
from helpers.recorder import Recorder
from helpers.runbook_docs import covers, load_notebook, on_call_roles, triage_rows

from upkeep.config import Config
from upkeep.config.risk_register import RiskEntry, RiskRegister
from upkeep.config.updates import PythonTarget, UpdatesSettings
from upkeep.procedures import dependencies
from upkeep.procedures.dependencies import OsReview, Review, TargetReview
from upkeep.updates.apt import OsUpdate
from upkeep.updates.model import Package, Update, UpdateKind, Vulnerability
from upkeep.updates.patching import PatchOutcome
from upkeep.updates.pip_audit import AuditError, AuditResult
from upkeep.updates.risk import apply_register

RUNBOOK = REPO / "runbooks" / "weekly" / "dependency-review.ipynb"
TODAY = date(2026, 12, 5)
JINJA = Vulnerability("jinja2", "3.1.5", "CVE-2025-27516", ("GHSA-cpwx-vrp4-4pxq",), ("3.1.6",))
IDNA = Vulnerability("idna", "3.6", "PYSEC-2024-60", ("GHSA-jjg7-2v4v-x38h",), ("3.7",))


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder()
    monkeypatch.setattr(dependencies, "report", recorder)
    return recorder


def _config(tmp_path: Path, register: RiskRegister, **updates: object) -> Config:
    settings = UpdatesSettings(risk_register=tmp_path / "risk-register.yml", **updates)  # type: ignore[arg-type]
    return Config(tmp_path / "upkeep.yml", tmp_path, updates=settings, risk_register=register)


def _review(
    targets: list[TargetReview], register: RiskRegister, os: OsReview | None = None
) -> Review:
    vulns = [v for t in targets if t.audit for v in t.audit.vulnerabilities]
    complete = all(t.audit for t in targets)
    return Review(
        tuple(targets), apply_register(vulns, register, TODAY, complete=complete), os, TODAY
    )


def _audited(
    name: str, *vulns: Vulnerability, updates: tuple[Update, ...] | None = ()
) -> TargetReview:
    packages = (Package("jinja2", "3.1.5"), Package("idna", "3.6"))
    return TargetReview(
        PythonTarget(name, requirements=Path("r.lock")),
        AuditResult(packages, vulns),
        updates=updates,
    )


ACCEPT_JINJA = RiskEntry(
    "GHSA-cpwx-vrp4-4pxq", "jinja2", "not reachable", date(2027, 1, 31), "ops", "sec"
)


def test_open_accepted_and_shared_vulnerabilities(tmp_path: Path, recorded: Recorder) -> None:
    register = RiskRegister(tmp_path / "risk-register.yml", (ACCEPT_JINJA,))
    targets = [_audited("a", JINJA, IDNA), _audited("b", JINJA)]
    config = _config(tmp_path, register, index_url="file:///x")
    dependencies.record_review(_review(targets, register), config)
    checks = recorded.checks()
    assert checks["deps:a:vulnerabilities"]["status"] == "fail"
    assert checks["deps:a:vulnerabilities"]["message"].startswith(
        "1 open vulnerabilities (idna PYSEC-2024-60)"
    )
    assert checks["deps:b:vulnerabilities"]["status"] == "warn"
    keys = [r["key"] for r in recorded.records if r["kind"] == "finding"]
    # Keyed by the smallest of the advisory's names, whichever pip-audit puts first; once each.
    assert sorted(keys) == ["vuln:idna:GHSA-JJG7-2V4V-X38H", "vuln:jinja2:CVE-2025-27516"]
    assert recorded.findings()["vuln:idna:GHSA-JJG7-2V4V-X38H"]["severity"] == "fail"
    assert checks["deps:risk-register"]["status"] == "ok"


def test_updates_warn_for_patch_and_minor_and_list_majors(
    tmp_path: Path, recorded: Recorder
) -> None:
    updates = (
        Update("idna", "3.6", "3.10", UpdateKind.MINOR),
        Update("jinja2", "3.1.5", "4.0", UpdateKind.MAJOR),
    )
    config = _config(tmp_path, RiskRegister(), index_url="file:///x")
    dependencies.record_review(_review([_audited("a", updates=updates)], RiskRegister()), config)
    check = recorded.checks()["deps:a:updates"]
    assert (check["status"], check["value"]) == ("warn", 1)
    assert recorded.findings()["update:a:idna"]["severity"] == "warn"
    assert recorded.findings()["update-major:a:jinja2"]["severity"] == "info"
    only_major = _audited("a", updates=updates[1:])
    recorded.records.clear()
    dependencies.record_review(_review([only_major], RiskRegister()), config)
    assert recorded.checks()["deps:a:updates"]["status"] == "ok"


def test_a_source_not_audited_fails_and_stale_entries_wait(
    tmp_path: Path, recorded: Recorder
) -> None:
    register = RiskRegister(tmp_path / "risk-register.yml", (ACCEPT_JINJA,))
    failed = TargetReview(
        PythonTarget("a", requirements=Path("r.lock")),
        audit_error=AuditError("pip-audit could not reach the OSV service X", unreachable=True),
    )
    dependencies.record_review(_review([failed], register), _config(tmp_path, register))
    checks = recorded.checks()
    assert checks["deps:a:vulnerabilities"]["status"] == "fail"
    assert "could not reach the OSV service X" in checks["deps:a:vulnerabilities"]["message"]
    assert checks["deps:risk-register"]["status"] == "ok"  # not judged stale: not audited
    assert "stale entries not judged" in checks["deps:risk-register"]["message"]
    assert "deps:a:updates" not in checks

    recorded.records.clear()
    dependencies.record_review(_review([_audited("a")], register), _config(tmp_path, register))
    stale = recorded.checks()["deps:risk-register"]
    assert stale["status"] == "warn" and "GHSA-cpwx-vrp4-4pxq" in stale["message"]
    assert "risk-stale:jinja2:GHSA-cpwx-vrp4-4pxq" in recorded.findings()


def test_the_settings_printed_never_show_credentials(tmp_path: Path) -> None:
    config = _config(
        tmp_path, RiskRegister(), index_url="https://ci:t0ps3cr3tT0ken@pkgs.example/simple"
    )
    shown = dependencies.settings_in_force(config)
    assert "t0ps3cr3tT0ken" not in shown and "pkgs.example/simple" in shown
    assert "risk register: none" in shown


def test_nothing_configured_is_never_ok(tmp_path: Path, recorded: Recorder) -> None:
    dependencies.record_review(_review([], RiskRegister()), _config(tmp_path, RiskRegister()))
    assert recorded.checks()["deps:python"]["status"] == "warn"
    dependencies.record_patching([])
    assert recorded.checks()["patch:targets"]["status"] == "warn"


def test_os_updates(tmp_path: Path, recorded: Recorder) -> None:
    os_review = OsReview(
        updates=(
            OsUpdate("openssl", "3.0.11", "3.0.15", "amd64", ("bookworm-security",)),
            OsUpdate("tzdata", "2024a", "2024b", "all", ("bookworm-updates",)),
        ),
        lists_age_s=10 * 86400,
        debsecan=("openssl",),
    )
    config = _config(tmp_path, RiskRegister(), os="apt", debsecan_suite="bookworm")
    dependencies.record_review(_review([], RiskRegister(), os_review), config)
    checks = recorded.checks()
    assert (checks["os:updates"]["status"], checks["os:updates"]["value"]) == ("warn", 1)
    assert recorded.findings()["os-security:openssl"]["severity"] == "warn"
    assert checks["os:package-lists"]["status"] == "warn"  # 10 days > 7
    assert checks["os:debsecan"]["status"] == "warn"
    recorded.records.clear()
    broken = OsReview(error="apt is not installed", debsecan_error="no tracker")
    dependencies.record_review(_review([], RiskRegister(), broken), config)
    assert recorded.checks()["os:updates"]["status"] == "fail"


def test_patching_outcomes(recorded: Recorder) -> None:
    update = Update("idna", "3.6", "3.10", UpdateKind.MINOR)
    target = PythonTarget("c", venv=Path("/v"))
    dependencies.record_patching(
        [
            PatchOutcome("a", (update,), kept=True),
            PatchOutcome("b", (update,), rolled_back=True, problem="smoke failed"),
            PatchOutcome("d", (update,), problem="pip died; the rollback did not restore idna"),
            (target, "it has no smoke_command"),
        ]
    )
    checks = recorded.checks()
    assert checks["patch:a"]["status"] == "ok"
    assert "rolled back to the previous versions" in checks["patch:b"]["message"]
    assert checks["patch:d"]["message"].startswith("ROLLBACK INCOMPLETE")
    assert checks["patch:c"]["status"] == "fail"


def test_the_triage_table_covers_every_check_and_names_the_plans_roles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names: set[str] = set()
    for test in (
        test_open_accepted_and_shared_vulnerabilities,
        test_updates_warn_for_patch_and_minor_and_list_majors,
        test_a_source_not_audited_fails_and_stale_entries_wait,
        test_nothing_configured_is_never_ok,
        test_os_updates,
        test_patching_outcomes,
    ):
        recorder = Recorder()
        monkeypatch.setattr(dependencies, "report", recorder)
        if test is test_patching_outcomes:
            test(recorder)
        else:
            test(tmp_path, recorder)  # type: ignore[call-arg]
        names |= {r["name"] for r in recorder.records if r["kind"] == "check"}
    assert len(names) >= 10
    nb = load_notebook(RUNBOOK)
    rows = triage_rows(nb)
    assert {name for name in names if not covers(rows, name)} == set()
    roles = on_call_roles((REPO / "docs" / "plan.md").read_text(encoding="utf-8"))
    assert {role for row in rows for role in row.roles} - set(roles) == set()
    code = [cell for cell in nb["cells"] if cell["cell_type"] == "code"]
    assert all(cell["outputs"] == [] and cell["execution_count"] is None for cell in code)
    assert nb["metadata"]["upkeep"]["category"] == "Updates"


def test_a_lock_file_that_lists_nothing_warns_instead_of_passing(
    tmp_path: Path, recorded: Recorder
) -> None:
    # An empty requirements file gave "ok: no known vulnerability; 0 packages audited".
    empty = TargetReview(PythonTarget("empty", requirements=Path("r.lock")), AuditResult((), ()))
    dependencies.record_review(_review([empty], RiskRegister()), _config(tmp_path, RiskRegister()))
    check = recorded.checks()["deps:empty:vulnerabilities"]
    assert check["status"] == "warn"
    assert check["message"].startswith("nothing was audited: no package listed; 0 packages")
