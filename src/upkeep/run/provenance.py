"""Responsible for where a run comes from: its id, the host and versions it ran with, and the
git commit of the runbook it executed; gathered once per `upkeep run`, used by every run.
"""

from __future__ import annotations

import getpass
import platform
import secrets
import socket
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from upkeep import __version__
from upkeep.records import Host, RunbookRef
from upkeep.registry import Runbook


@dataclass(frozen=True)
class Provenance:
    """What every run of one `upkeep run` shares: host, versions, and git state of runbooks."""

    host: Host
    versions: dict[str, str]
    git: dict[str, tuple[str, bool]] = field(default_factory=dict)  # relpath -> (HEAD, dirty)

    @classmethod
    def gather(cls, root: Path, host_id: str = "") -> Provenance:
        import papermill

        return cls(
            host=Host(socket.gethostname(), getpass.getuser(), platform.platform(), host_id),
            versions={
                "python": platform.python_version(),
                "upkeep": __version__,
                "papermill": papermill.__version__,
            },
            git=_git_versions(root),
        )

    def runbook_ref(self, runbook: Runbook) -> RunbookRef:
        """The exact version of `runbook` a run executes."""
        commit, dirty = self.git.get(runbook.relpath, (None, None))
        return RunbookRef(
            name=runbook.name,
            title=runbook.title,
            path=runbook.relpath,
            sha256=runbook.sha256,
            cadence=runbook.cadence,
            category=runbook.category,
            git_commit=commit,
            git_dirty=dirty,
        )

    def run_versions(self, nb: Any) -> dict[str, str | None]:
        """These versions plus the kernel's Python, as the executed notebook reports it."""
        kernel = (nb or {}).get("metadata", {}).get("language_info", {}).get("version")
        return {**self.versions, "kernel": kernel}


def new_run_id(name: str, now: datetime) -> str:
    """`20261127T021500Z-health-check-7f3a`: the start in UTC, the runbook, a random suffix."""
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{name}-{secrets.token_hex(2)}"


def _git_versions(root: Path) -> dict[str, tuple[str, bool]]:
    """For every tracked runbook: the checked-out commit (HEAD) and whether the file differs."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, check=True, timeout=10
        ).stdout

    try:
        head = git("rev-parse", "HEAD").strip()
        dirty_paths = set(git("diff", "--name-only", "--relative", "HEAD", "--").splitlines())
        tracked = git("ls-files", "--", "*.ipynb").splitlines()
    except (OSError, subprocess.SubprocessError):
        return {}
    return {path: (head, path in dirty_paths) for path in tracked}
