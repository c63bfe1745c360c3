"""Every task a person or CI runs: `nox -s tests`, `nightly`, `bench`, `lint`, `changelog`."""

from __future__ import annotations

import os

import nox

nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = True
PYTHON = "3.11"


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run the test suite (real notebooks, real kernels): `nox -s tests -- -k evidence`."""
    session.install("-e", ".[test]")
    session.run("pytest", "-q", "-p", "no:cacheprovider", *session.posargs)


@nox.session(python=PYTHON)
def nightly(session: nox.Session) -> None:
    """The main job: run every due runbook against the configured system (the demo by default)."""
    session.install(".")
    config = os.environ.get("UPKEEP_CONFIG", "upkeep.yml")
    session.run("upkeep", "--config", config, "run", "--due", *session.posargs)
    session.run("upkeep", "--config", config, "verify")
    session.run("upkeep", "--config", config, "list")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Side-by-side performance comparisons; prints times and ratios."""
    session.install(".")
    session.run("python", "benchmarks/run_overhead.py", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and format check."""
    session.install("ruff")
    session.run("ruff", "check", "src", "tests", "benchmarks", "noxfile.py")


@nox.session(python=PYTHON)
def changelog(session: nox.Session) -> None:
    """Preview CHANGELOG.md as towncrier would build it from changelog/ fragments."""
    session.install("towncrier", ".")
    session.run("towncrier", "build", "--draft", "--version", "unreleased")
