"""Credentials nobody declared secret (a DSN with its password, a token in an exception, a
password given as a plain parameter) are masked by their form in everything a run leaves: the
executed notebook, report.html, run.json, the kernel's log, the console, the state and the site.
Before, only check and finding messages were masked: the same DSN showed masked on the check's
line and in clear on the error's."""

from __future__ import annotations

import textwrap
from pathlib import Path

from helpers.project import Project

DSN_PASSWORD = "S3cretPassw0rd"
PARAMETER_PASSWORD = "ParamPassw0rd9"
KERNEL_TOKEN = "Kern3lTokenValue"


def _files_holding(folder: Path, value: str) -> list[Path]:
    return [
        path for path in folder.rglob("*") if path.is_file() and value.encode() in path.read_bytes()
    ]


def test_credentials_a_run_printed_raised_or_was_given_are_masked_everywhere(
    project: Project,
) -> None:
    cells = """
        import os, sys
        from IPython.display import HTML, display
        from upkeep import report
        dsn = os.environ["APP_DSN"]
        print("connecting to", dsn)
        print(f"password={os.environ['KERNEL_TOKEN']}", file=sys.__stderr__, flush=True)
        display(HTML(f"<p>{dsn}</p>"))
        report.check("db:connect", "warn", message=f"could not connect to {dsn}")
        raise ConnectionError(f"could not connect to {dsn} ({label})")
    """
    project.add_runbook("connect", [("code", textwrap.dedent(cells))], params='label: str = ""')
    dsn = f"postgresql://app:{DSN_PASSWORD}@db.internal:5432/app"

    result = project.upkeep(
        "run",
        "connect",
        "-p",
        f"label=postgresql://u:{PARAMETER_PASSWORD}@h/db",
        env={"APP_DSN": dsn, "KERNEL_TOKEN": KERNEL_TOKEN},
    )
    built = project.upkeep("site", "build")

    assert result.code == 3, result.text  # it ended in its error
    assert built.code == 0, built.text
    [record] = project.records()
    assert record["error"]["evalue"] == (
        "could not connect to postgresql://app:«basic-auth-credentials»@db.internal:5432/app"
        " (postgresql://u:«basic-auth-credentials»@h/db)"
    )
    assert record["parameters"]["label"] == "postgresql://u:«basic-auth-credentials»@h/db"
    [run] = project.run_dirs()
    assert "password=«password»" in (run / "kernel.log").read_text()
    for value in (DSN_PASSWORD, PARAMETER_PASSWORD, KERNEL_TOKEN):
        assert value not in result.text
        for folder in (project.evidence, project.root / "state", project.root / "site"):
            assert _files_holding(folder, value) == [], (value, folder)
    assert project.upkeep("verify").code == 0
