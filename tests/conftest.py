"""Shared fixtures: a throwaway project (config, runbooks, evidence) and the real `upkeep` CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from upkeep import report
from upkeep.scaffold import new_runbook

REPO = Path(__file__).resolve().parent.parent


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

    def upkeep(self, *args: str, env: dict[str, str] | None = None, timeout: float = 180) -> Result:
        proc = subprocess.run(
            [sys.executable, "-m", "upkeep.cli", "--config", str(self.config), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.root,
            env={**os.environ, **(env or {})},
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

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


CHECK_OK = ("code", "from upkeep import report\nreport.check('always', 'ok', message='fine')")


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A project with no demo system: a config, an empty runbooks dir, evidence in tmp."""
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "upkeep.yml").write_text(
        textwrap.dedent("""\
        version: 1
        timezone: UTC
        evidence_dir: evidence
        state_dir: state
        runbooks_dir: runbooks
        defaults:
          timeout_s: 120
          jobs: 2
    """)
    )
    return Project(tmp_path)


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[[str], Project]:
    def make(config_text: str) -> Project:
        (tmp_path / "runbooks").mkdir(exist_ok=True)
        (tmp_path / "upkeep.yml").write_text(textwrap.dedent(config_text))
        return Project(tmp_path)

    return make


class Recorder:
    """Stands in for `upkeep.report` in a procedures module, keeping what the real functions
    return: `monkeypatch.setattr(module, "report", Recorder())`."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def _keep(self, record: dict[str, Any]) -> dict[str, Any]:
        self.records.append(record)
        return record

    def check(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return self._keep(report.check(*args, **kwargs))

    def metric(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return self._keep(report.metric(*args, **kwargs))

    def finding(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return self._keep(report.finding(*args, **kwargs))

    def checks(self) -> dict[str, dict[str, Any]]:
        return {r["name"]: r for r in self.records if r["kind"] == "check"}

    def findings(self) -> dict[str, dict[str, Any]]:
        return {r["key"]: r for r in self.records if r["kind"] == "finding"}


def demo_config(port: int, *, worker: bool = False) -> str:
    """An upkeep.yml for the embedded demo on `port`, with load limits a busy machine always
    meets; `worker` adds the process probe that finds the demo service by its command line."""
    process = (
        "  - name: worker\n"
        "    kind: process\n"
        f'    process: "upkeep.demo.health_server --host 127.0.0.1 --port {port}"\n'
        if worker
        else ""
    )
    return (
        textwrap.dedent(f"""\
        version: 1
        evidence_dir: evidence
        state_dir: var/state
        demo: {{root: var/demo, http_port: {port}}}
        services:
          - {{name: web, kind: http, url: "http://127.0.0.1:{port}/health", timeout_s: 2}}
          - {{name: web-port, kind: tcp, host: 127.0.0.1, port: {port}, timeout_s: 2}}
        """)
        + process
        + textwrap.dedent("""\
        logs:
          - {name: app, path: var/demo/logs/app.log}
          - {name: worker, path: var/demo/logs/worker.log}
        mounts:
          - {path: var/demo}
        thresholds:
          cpu_percent: {warn: 101, fail: 101}
          load_per_cpu: {warn: 1000, fail: 1000}
          memory_percent: {warn: 101, fail: 101}
          disk_percent: {warn: 99.9, fail: 100}
        """)
    )
