"""A throwaway upkeep project for a test: its config, runbooks made from cells, its evidence, and
the real `upkeep` command line run against it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from upkeep.scaffold import new_runbook

REPO = Path(__file__).resolve().parents[2]
# The runbooks the repository ships (name -> path under runbooks/), read from the checkout so a
# test that counts or names them follows when a runbook is added.
SHIPPED_RUNBOOKS = {
    path.stem: path.relative_to(REPO / "runbooks")
    for path in sorted((REPO / "runbooks").glob("*/*.ipynb"))
}

# The policy files the shipped upkeep.yml reads beside itself: a test that copies upkeep.yml into
# a project of its own copies these too (`copy_policy_files`), or the config does not load.
POLICY_FILES = ("risk-register.yml", "record-of-processing.yml", "oncall.yml")


def copy_policy_files(root: Path) -> None:
    for name in POLICY_FILES:
        (root / name).write_bytes((REPO / name).read_bytes())


def notebook(
    cells: list[tuple[str, str]],
    *,
    params: str = "",
    meta: dict[str, Any] | None = None,
    name: str = "x",
) -> dict[str, Any]:
    """A runbook notebook: `cells` are (kind, source); `params` is the parameters cell source."""
    upkeep_meta = {
        "title": f"Test runbook {name}",
        "summary": "A runbook made by a test.",
        "cadence": "daily",
        "category": "Health Checks",
        "owner": "tests",
        "references": [],
        "timeout_s": 60,
        "destructive": False,
    }
    upkeep_meta.update(meta or {})
    return new_runbook(cells, metadata=upkeep_meta, params=params)


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


@dataclass
class Project:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "upkeep.yml"

    @property
    def evidence(self) -> Path:
        return self.root / "evidence"

    def add_runbook(
        self,
        name: str,
        cells: list[tuple[str, str]],
        *,
        cadence: str = "daily",
        params: str = "",
        meta: dict[str, Any] | None = None,
    ) -> Path:
        path = self.root / "runbooks" / cadence.split()[0].replace("*", "cron") / f"{name}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nb = notebook(cells, params=params, meta={"cadence": cadence, **(meta or {})}, name=name)
        path.write_text(json.dumps(nb, indent=1))
        return path

    def upkeep(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        timeout: float = 180,
        umask: int | None = None,
    ) -> Result:
        """`upkeep --config <this project> ARGS...` as its own process, as a person runs it
        (under `umask` when given, as a shell's `umask 077` would)."""
        proc = subprocess.run(
            [sys.executable, "-m", "upkeep.cli", "--config", str(self.config), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.root,
            env={**os.environ, **(env or {})},
            preexec_fn=None if umask is None else (lambda: os.umask(umask)),
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def upkeep_in_process(self, *args: str, env: dict[str, str] | None = None) -> Result:
        """The same command in this process, through click's test runner: for commands that
        run no kernel, where a fresh interpreter per call would only cost time. An exception
        that escapes the CLI's own error handling is raised, not turned into an exit code."""
        from click.testing import CliRunner

        from upkeep.cli import main

        runner = CliRunner(env=env)
        result = runner.invoke(main, ["--config", str(self.config), *args])
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Result(result.exit_code, result.stdout, result.stderr)

    def run_dirs(self) -> list[Path]:
        runs = self.evidence / "runs"
        return sorted(p for p in runs.glob("*/*/*") if p.is_dir()) if runs.exists() else []

    def records(self) -> list[dict[str, Any]]:
        return [json.loads((d / "run.json").read_text()) for d in self.run_dirs()]

    def evidence_files(self) -> list[Path]:
        return (
            sorted(p for p in self.evidence.rglob("*") if p.is_file())
            if self.evidence.exists()
            else []
        )


# A code cell that records one ok check: the least a runbook must do.
CHECK_OK = ("code", "from upkeep import report\nreport.check('always', 'ok', message='fine')")
