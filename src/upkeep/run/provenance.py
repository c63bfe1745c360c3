"""Responsible for where a run comes from: its id, the host and versions it ran with, and the
exact runbook version it executed: the sha256 of the notebook bytes the run read, and the git
commit they were checked out from with whether they differ from that commit's file.
"""

from __future__ import annotations

import getpass
import hashlib
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
    """What every run of one `upkeep run` shares: host, versions, and the git commit checked out
    with the blob of every runbook in it (gathered once; each run compares the bytes it read)."""

    host: Host
    versions: dict[str, str]
    head: str | None = None
    # relpath -> git blob id at `head`; "" for a runbook in the index but not in `head`
    blobs: dict[str, str] = field(default_factory=dict)
    root: Path | None = None  # the project, where git runs

    @classmethod
    def gather(cls, root: Path, host_id: str = "") -> Provenance:
        import papermill

        head, blobs = _git_blobs(root)
        return cls(
            host=Host(socket.gethostname(), getpass.getuser(), platform.platform(), host_id),
            versions={
                "python": platform.python_version(),
                "upkeep": __version__,
                "papermill": papermill.__version__,
            },
            head=head,
            blobs=blobs,
            root=root,
        )

    def runbook_ref(self, runbook: Runbook, source: bytes | None) -> RunbookRef:
        """The exact version of `runbook` a run executed: `source`, the bytes it read. Dirty
        is decided from those bytes, not from git's index, whose flags (skip-worktree,
        assume-unchanged) can hide an edit. Without `source` (a run that read nothing), the
        version the registry loaded."""
        sha256 = runbook.sha256 if source is None else hashlib.sha256(source).hexdigest()
        blob = self.blobs.get(runbook.relpath)
        commit = self.head if blob is not None else None
        dirty = None if commit is None else not self._committed(runbook.relpath, source, blob)
        return RunbookRef(
            name=runbook.name,
            title=runbook.title,
            path=runbook.relpath,
            sha256=sha256,
            cadence=runbook.cadence,
            category=runbook.category,
            git_commit=commit,
            git_dirty=dirty,
        )

    def _committed(self, relpath: str, source: bytes | None, blob: str | None) -> bool:
        """Whether `source` is the file as committed: its bytes are the blob, or become it
        through the clean filters and line-end rules git applies to that path (a repository
        that keeps notebooks with nbstripout commits them without outputs)."""
        if source is None or not blob:
            return False
        if git_blob_id(source) == blob:
            return True
        try:
            filtered = subprocess.run(
                ["git", "-C", str(self.root), "hash-object", "--path", relpath, "--stdin"],
                input=source,
                capture_output=True,
                check=True,
                timeout=30,
            ).stdout
        except (OSError, subprocess.SubprocessError):
            return False
        return filtered.decode(errors="replace").strip() == blob

    def run_versions(self, nb: Any) -> dict[str, str | None]:
        """These versions plus the kernel's Python, as the executed notebook reports it."""
        kernel = (nb or {}).get("metadata", {}).get("language_info", {}).get("version")
        return {**self.versions, "kernel": kernel}


def new_run_id(name: str, now: datetime) -> str:
    """`20261127T021500Z-health-check-7f3a`: the start in UTC, the runbook, a random suffix."""
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{name}-{secrets.token_hex(2)}"


def git_blob_id(data: bytes) -> str:
    """The id git gives `data` as a blob (what `git hash-object` prints, without filters)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def _git_blobs(root: Path) -> tuple[str | None, dict[str, str]]:
    """The checked-out commit (HEAD) and, for every runbook in it or in the index, its blob id
    at HEAD (paths relative to `root`); (None, {}) outside a git work tree."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, check=True, timeout=10
        ).stdout

    try:
        head = git("rev-parse", "--verify", "HEAD").strip()
        # Paths from both are relative to `root`, as Runbook.relpath is.
        in_head = git("ls-tree", "-r", "-z", head).split("\0")
        in_index = git("ls-files", "-z", "--", "*.ipynb").split("\0")
    except (OSError, subprocess.SubprocessError):
        return None, {}
    blobs = dict.fromkeys((path for path in in_index if path), "")
    for entry in in_head:
        meta, _, path = entry.partition("\t")
        if path.endswith(".ipynb") and meta.split(" ")[1:2] == ["blob"]:
            blobs[path] = meta.split(" ")[2]
    return head, blobs
