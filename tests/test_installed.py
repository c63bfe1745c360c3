"""upkeep as a user adopts it: the wheel built from this checkout, installed into a fresh venv,
run from a folder outside the repository with a config of its own, the shipped runbooks beside a
runbook of its own, a page of its own, and sections it has no use for left out.

The wheel is built without build isolation and installed without dependencies (nothing is
downloaded): the fresh venv sees the test environment's packages through a `.pth` file (and
their data, nbconvert's templates, through JUPYTER_PATH), so upkeep itself comes from the wheel
and everything it depends on from the installed set."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers.project import REPO, SHIPPED_RUNBOOKS, Result

pytestmark = pytest.mark.slow

SOURCES = ("pyproject.toml", "README.md", "CHANGELOG.md", "mkdocs.yml", "src", "scripts")
SOURCE_FOLDERS = ("runbooks", "docs")


@dataclass(frozen=True)
class Installed:
    venv: Path
    root: Path  # the user's folder, outside the checkout

    def upkeep(self, *args: str, timeout: float = 300) -> Result:
        proc = subprocess.run(
            [str(self.venv / "bin" / "upkeep"), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.root,
            env=self.environment,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    @property
    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "UPKEEP_CONFIG"}
        env["JUPYTER_PATH"] = str(Path(sys.prefix) / "share" / "jupyter")
        return env

    def python(self, code: str) -> str:
        return subprocess.run(
            [str(self.venv / "bin" / "python"), "-c", code],
            capture_output=True,
            text=True,
            check=True,
            cwd=self.root,
        ).stdout.strip()


def _build_wheel(into: Path) -> Path:
    """The wheel of a copy of the checkout (a build writes beside its sources)."""
    source = into / "source"
    source.mkdir()
    ignore = shutil.ignore_patterns("*.egg-info", "__pycache__", "build")
    for name in SOURCES + SOURCE_FOLDERS:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, symlinks=True, ignore=ignore)
        else:
            shutil.copy(REPO / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation"]
        + ["--wheel-dir", str(into), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [wheel] = into.glob("upkeep-*.whl")
    return wheel


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    work = tmp_path_factory.mktemp("installed")
    wheel = _build_wheel(work)
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-deps"]
    subprocess.run([*pip, "--no-index", str(wheel)], check=True, timeout=300)
    site_packages = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import sysconfig; print(sysconfig.get_path('purelib'))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site_packages, "test-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    user = work / "acme"
    user.mkdir()
    yield Installed(venv, user)


def _write_config(root: Path, pid_file: Path) -> None:
    (root / "pages").mkdir()
    (root / "pages" / "contacts.md").write_text("# Contacts\n\nThe database owner is Ada.\n")
    (root / "logs").mkdir()
    (root / "logs" / "app.log").write_text("2026-12-01 10:00:00 ERROR payment failed for id 7\n")
    (root / "upkeep.yml").write_text(
        textwrap.dedent(f"""\
        version: 1
        runbooks_dir: [upkeep:shipped, runbooks]
        services:
          - {{name: worker, kind: process, pid_file: {pid_file}}}
        logs:
          - {{name: app, path: logs/app.log, first_scan: whole}}   # the error is already there
        mounts:
          - {{path: /}}
        thresholds:   # a test machine is busy: only the logs and the service are graded here
          cpu_percent: {{warn: 1000, fail: 1000}}
          memory_percent: {{warn: 1000, fail: 1000}}
          load_per_cpu: {{warn: 1000, fail: 1000}}
          disk_percent: {{warn: 1000, fail: 1000}}
        site: {{name: ACME upkeep, docs_dir: pages}}
        extra:
          disk-report: {{paths: [/srv], top: 3}}
        """)
    )


def test_an_installed_upkeep_runs_a_users_own_config_and_builds_its_site(
    installed: Installed,
) -> None:
    root = installed.root
    where = installed.python("import upkeep; print(upkeep.__file__)")
    assert where.startswith(str(installed.venv)) and str(REPO) not in where  # from the wheel
    worker = subprocess.Popen(["sleep", "300"])
    try:
        _write_config(root, root / "worker.pid")
        (root / "worker.pid").write_text(f"{worker.pid}\n")

        created = installed.upkeep("new", "disk-report", "--cadence", "weekly")
        assert created.code == 0, created.text
        assert (root / "runbooks" / "weekly" / "disk-report.ipynb").is_file()
        checked = installed.upkeep("check")
        assert checked.code == 0, checked.text
        assert f"and its {len(SHIPPED_RUNBOOKS) + 1} runbooks: no problems" in checked.out

        ran = installed.upkeep("run", "--due", timeout=600)
    finally:
        worker.kill()
        worker.wait()
    assert ran.code == 0, ran.text
    records = {r["runbook"]["name"]: r for r in _records(root / "evidence")}
    assert set(records) == {*SHIPPED_RUNBOOKS, "disk-report"}
    health = records["health-check"]
    assert health["runbook"]["path"] == "upkeep:shipped/daily/health-check.ipynb"
    checks = {c["name"]: c for c in health["checks"]}
    assert checks["service:worker"]["status"] == "ok", checks["service:worker"]
    assert checks["log:app"]["status"] == "warn" and health["status"] == "warn"
    # Absent sections are nothing to do, said; not a daily error or warning.
    assert records["backup"]["status"] == records["cleaning"]["status"] == "ok"
    backup_check = {c["name"]: c for c in records["backup"]["checks"]}["backup:databases"]
    assert "no backup: section: nothing to back up" in backup_check["message"]
    review = records["database-review"]
    assert review["status"] == "ok" and [c["name"] for c in review["checks"]] == [
        "review:databases"
    ]
    assert records["disk-report"]["runbook"]["path"] == "runbooks/weekly/disk-report.ipynb"

    assert installed.upkeep("verify").code == 0
    site = installed.upkeep("site", "build", timeout=300)
    assert site.code == 0, site.text
    home = (root / "site" / "index.html").read_text()
    for name in records:
        assert f"runbooks/{name}/" in home
    assert 'href="contacts/"' in home and "<title>Dashboard - ACME upkeep</title>" in home
    page = (root / "site" / "runbooks" / "disk-report" / "index.html").read_text()
    config = root / "upkeep.yml"
    assert f"upkeep --config {config} run disk-report" in _plain(page)
    assert f"upkeep --config {config} show disk-report" in _plain(page)  # {{ config_file }}


def _records(evidence: Path) -> list[dict]:
    return [json.loads(path.read_text()) for path in sorted(evidence.glob("runs/*/*/*/run.json"))]


def _plain(page: str) -> str:
    import html
    import re

    return html.unescape(re.sub(r"<[^>]+>", "", page))
