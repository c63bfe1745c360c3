"""Responsible for files a runbook adds to its own run's evidence (a change plan, a snapshot):
the runner names the run's id in $UPKEEP_RUN_ID and its staging folder in $UPKEEP_RUN_DIR, and
`write_artifact` writes there, so that the evidence store hashes the file with the run and
`upkeep verify` checks it. Outside a runner (a notebook opened by hand) there is no run folder."""

from __future__ import annotations

import os
from pathlib import Path

from upkeep.atomic import file_mode, write_bytes

__all__ = ["RUN_DIR_ENV", "RUN_ID_ENV", "current_run_id", "write_artifact"]

RUN_DIR_ENV = "UPKEEP_RUN_DIR"
RUN_ID_ENV = "UPKEEP_RUN_ID"


def current_run_id() -> str | None:
    """The id of the run this code runs in, None outside a runner."""
    return os.environ.get(RUN_ID_ENV) or None


def write_artifact(name: str, data: bytes) -> Path | None:
    """Write `name` into the run's folder; None (nothing written) outside a runner."""
    folder = os.environ.get(RUN_DIR_ENV)
    if not folder:
        return None
    if "/" in name or "\\" in name or name.startswith(".") or name in ("run.json",):
        raise ValueError(f"artifact name {name!r}: expected a plain file name")
    path = Path(folder) / name
    write_bytes(path, data, mode=file_mode())
    return path
