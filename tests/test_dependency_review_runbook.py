"""The dependency-review runbook run for real by the CLI: on the demo's lock file and advisory
snapshot (warn: one accepted vulnerability, patch updates waiting), with the vulnerability open,
with an expired acceptance, with an advisory source that does not answer, with an index behind
basic auth and one with a page that is not UTF-8, and patching a real virtualenv from a
wheelhouse built here."""

from __future__ import annotations

import base64
import http.server
import json
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers.project import REPO, Project
from helpers.runbook_docs import covers, load_notebook, triage_rows
from helpers.wheels import build_wheel, installed, make_venv, pip_install

from upkeep.updates.patching import installed_versions

pytestmark = pytest.mark.slow
RUNBOOK = REPO / "runbooks" / "weekly" / "dependency-review.ipynb"
KEY = "vuln:jinja2:CVE-2025-27516"


def _project(root: Path, updates: dict[str, Any] | None = None) -> Project:
    (root / "runbooks" / "weekly").mkdir(parents=True)
    shutil.copy(RUNBOOK, root / "runbooks" / "weekly")
    shutil.copytree(REPO / "demo", root / "demo")
    shutil.copy(REPO / "risk-register.yml", root / "risk-register.yml")
    shipped = yaml.safe_load((REPO / "upkeep.yml").read_text())
    config = {
        "version": 1,
        "evidence_dir": "evidence",
        "state_dir": "state",
        "runbooks_dir": "runbooks",
        "updates": updates or shipped["updates"],
    }
    (root / "upkeep.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    return Project(root)


def _run(project: Project, *args: str) -> tuple[int, dict[str, Any]]:
    result = project.upkeep("run", "dependency-review", *args, timeout=300)
    [record] = project.records()[-1:]
    return result.code, record


def _checks(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {check["name"]: check for check in record["checks"]}


def _findings(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {finding["key"]: finding for finding in record["findings"]}


def test_the_demo_warns_with_an_accepted_vulnerability_and_patch_updates(tmp_path: Path) -> None:
    code, record = _run(_project(tmp_path))
    assert (code, record["status"]) == (0, "warn")
    checks = _checks(record)
    assert checks["deps:demo-app:vulnerabilities"]["status"] == "warn"
    assert checks["deps:demo-app:updates"]["status"] == "warn"
    assert checks["deps:demo-app:updates"]["value"] == 4
    assert checks["deps:risk-register"]["status"] == "ok"
    accepted = _findings(record)[KEY]
    assert accepted["severity"] == "info"
    assert accepted["message"].startswith("ACCEPTED until 2099-12-31 (owner ops-oncall")
    assert _findings(record)["update:demo-app:idna"]["message"] == "idna 3.10 -> 3.11 (minor)"
    metrics = {
        (m["name"], tuple(sorted(m["labels"].items()))): m["value"] for m in record["metrics"]
    }
    assert metrics[("dependency_vulnerabilities", (("state", "accepted"), ("target", "demo-app")))]
    assert metrics[("dependency_updates", (("kind", "patch"), ("target", "demo-app")))] == 3
    assert record["summary"] == (
        "1 of 1 Python targets audited, 0 open and 1 accepted vulnerabilities, "
        "4 patch/minor updates"
    )
    rows = triage_rows(load_notebook(RUNBOOK))
    assert [name for name in checks if not covers(rows, name)] == []


def test_without_the_acceptance_the_vulnerability_fails_the_run(tmp_path: Path) -> None:
    project = _project(tmp_path)
    (tmp_path / "risk-register.yml").unlink()
    code, record = _run(project)
    assert (code, record["status"]) == (1, "fail")
    check = _checks(record)["deps:demo-app:vulnerabilities"]
    assert check["value"] == 1 and "jinja2 CVE-2025-27516" in check["message"]
    assert _findings(record)[KEY]["severity"] == "fail"
    assert "fixed in 3.1.6" in _findings(record)[KEY]["message"]
    assert "nothing accepted" in _checks(record)["deps:risk-register"]["message"]


def test_an_expired_acceptance_fails_the_register_and_reopens_the_vulnerability(
    tmp_path: Path,
) -> None:
    project = _project(tmp_path)
    register = tmp_path / "risk-register.yml"
    register.write_text(register.read_text().replace("2099-12-31", "2020-01-31"))
    code, record = _run(project)
    assert code == 1
    checks = _checks(record)
    assert checks["deps:risk-register"]["status"] == "fail"
    assert "GHSA-cpwx-vrp4-4pxq expired on 2020-01-31" in checks["deps:risk-register"]["message"]
    assert checks["deps:demo-app:vulnerabilities"]["status"] == "fail"
    assert _findings(record)["risk:jinja2:GHSA-cpwx-vrp4-4pxq"]["severity"] == "fail"


def test_an_advisory_source_that_does_not_answer_fails_naming_it(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1/query"
    updates = {
        "python": [{"name": "demo-app", "requirements": "demo/updates/requirements.lock"}],
        "osv_url": url,
    }
    code, record = _run(_project(tmp_path, updates))
    assert (code, record["status"]) == (1, "fail")
    check = _checks(record)["deps:demo-app:vulnerabilities"]
    assert check["status"] == "fail"
    assert f"not audited: pip-audit could not reach the OSV service {url}" in check["message"]
    # Not audited, so the register's entry cannot be judged stale.
    assert _checks(record)["deps:risk-register"]["status"] == "ok"
    assert record["summary"].startswith("0 of 1 Python targets audited")


def _demo_updates(index_url: str) -> dict[str, Any]:
    return {**yaml.safe_load((REPO / "upkeep.yml").read_text())["updates"], "index_url": index_url}


@pytest.fixture
def index_behind_basic_auth() -> Iterator[int]:
    """The demo's index pages served on loopback to user `ci` with password `Idx-s3cretPW` only;
    yields the port."""
    expected = "Basic " + base64.b64encode(b"ci:Idx-s3cretPW").decode()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any) -> None:
            super().__init__(*args, directory=str(REPO / "demo" / "updates" / "index"))

        def do_GET(self) -> None:
            if self.headers.get("Authorization") != expected:
                self.send_error(401)
                return
            self.path = self.path.removeprefix("/simple")
            super().do_GET()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_an_index_behind_basic_auth_is_read_and_its_password_kept_out(
    tmp_path: Path, index_behind_basic_auth: int
) -> None:
    # The user and password went to the resolver as the host name: "updates not looked up".
    url = f"http://ci:Idx-s3cretPW@127.0.0.1:{index_behind_basic_auth}/simple"
    project = _project(tmp_path, _demo_updates(url))
    code, record = _run(project)
    assert (code, record["status"]) == (0, "warn")
    assert _checks(record)["deps:demo-app:updates"]["value"] == 4
    leaked = [p for p in project.evidence_files() if b"Idx-s3cretPW" in p.read_bytes()]
    assert leaked == []


def test_an_index_page_that_is_not_utf8_fails_the_updates_and_keeps_the_audit(
    tmp_path: Path,
) -> None:
    # A bare UnicodeDecodeError ended the run in error: no check, the audit lost.
    index = tmp_path / "index"
    shutil.copytree(REPO / "demo" / "updates" / "index", index)
    (index / "requests" / "index.html").write_bytes(b"<a>\xff\xfe</a>")
    code, record = _run(_project(tmp_path / "project", _demo_updates(str(index))))
    assert (code, record["status"]) == (1, "fail")
    checks = _checks(record)
    assert checks["deps:demo-app:vulnerabilities"]["status"] == "warn"
    updates = checks["deps:demo-app:updates"]
    assert updates["status"] == "fail"
    assert f"page {index}/requests/index.html is not UTF-8 text" in updates["message"]


def test_patching_a_virtualenv_keeps_a_patch_and_rolls_back_a_broken_minor(
    tmp_path: Path,
) -> None:
    house = tmp_path / "wheelhouse"
    build_wheel(house, "demo_lib", "1.0.0")
    build_wheel(house, "demo_lib", "1.1.0", body="BROKEN = 1\n")
    build_wheel(house, "other_lib", "2.0.0")
    build_wheel(house, "other_lib", "2.0.1")
    venv = make_venv(tmp_path / "venv")
    pip_install(venv, house, "demo_lib==1.0.0", "other_lib==2.0.0")
    smoke = "python -c \"import demo_lib, sys; sys.exit(getattr(demo_lib, 'BROKEN', 0))\""
    updates = {
        "python": [{"name": "svc", "venv": str(venv), "smoke_command": smoke}],
        "advisory_dir": "demo/updates/advisories",
        "index_url": str(house),
    }
    project = _project(tmp_path / "project", updates)
    code, record = _run(project, "-p", "apply=patch")
    assert code == 1
    patch = _checks(record)["patch:svc"]
    assert patch["status"] == "fail"
    assert "rolled back to the previous versions" in patch["message"]
    assert installed(venv) == {"demo-lib": "1.0.0", "other-lib": "2.0.0"}
    # The virtualenv itself was audited by pip-audit: every package of its site-packages.
    everything = len(installed_versions(venv))
    assert (
        f"{everything} packages audited" in _checks(record)["deps:svc:vulnerabilities"]["message"]
    )

    # With the broken minor gone from the wheelhouse, the patch is applied and kept.
    (house / "demo_lib-1.1.0-py3-none-any.whl").unlink()
    code, record = _run(project, "-p", "apply=patch")
    assert _checks(record)["patch:svc"]["status"] == "ok", json.dumps(record["checks"])
    assert installed(venv) == {"demo-lib": "1.0.0", "other-lib": "2.0.1"}
