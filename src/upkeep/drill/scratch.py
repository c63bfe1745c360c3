"""Responsible for what a drill makes outside its own process and must remove again: each scratch
target (a restored SQLite file, a restored PostgreSQL database) and each failover process is
written to a record in the state directory *before* it is made, and the record is removed once
everything in it is gone. `clean_left_behind` removes what the record of a drill that was killed
(its process gone) still names, so the next drill starts clean even after a SIGKILL."""

from __future__ import annotations

import contextlib
import json
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from upkeep.atomic import write_json
from upkeep.backup.engines import RestoreTargetError, engine_for
from upkeep.backup.errors import BackupError
from upkeep.config import Config
from upkeep.errors import ConfigError

__all__ = ["ScratchRecord", "clean_left_behind", "records_folder", "stop_process"]

RECORD_PREFIX = "scratch-"
STOP_GRACE_S = 5.0


def records_folder(config: Config) -> Path:
    return config.state_dir / "disaster-drill"


@dataclass
class ScratchRecord:
    """The scratch targets and processes of the drill running in this process."""

    folder: Path
    targets: list[dict[str, str]] = field(default_factory=list)
    processes: list[dict[str, float]] = field(default_factory=list)

    @property
    def path(self) -> Path:
        return self.folder / f"{RECORD_PREFIX}{os.getpid()}.json"

    def add_target(self, database: str, target: str) -> None:
        self.targets.append({"database": database, "target": target})
        self._save()

    def add_process(self, pid: int) -> None:
        self.processes.append({"pid": pid, "created": psutil.Process(pid).create_time()})
        self._save()

    def remove_target(self, database: str, target: str) -> None:
        self.targets.remove({"database": database, "target": target})
        self._save()

    def remove_process(self, pid: int) -> None:
        self.processes = [p for p in self.processes if p["pid"] != pid]
        self._save()

    def _save(self) -> None:
        if not self.targets and not self.processes:
            self.path.unlink(missing_ok=True)
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        write_json(self.path, {"targets": self.targets, "processes": self.processes})


def stop_process(pid: int, created: float | None = None) -> bool:
    """Stop the process group led by `pid` (SIGTERM, then SIGKILL): only when `pid` is still the
    process that was started (its start time `created`). True when something was stopped."""
    try:
        process = psutil.Process(pid)
        if created is not None and abs(process.create_time() - created) > 0.01:
            return False  # the pid was reused by another process: not ours
    except psutil.NoSuchProcess:
        return False
    for signum in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signum)
        try:
            process.wait(STOP_GRACE_S)
            return True
        except psutil.TimeoutExpired:
            continue
        except psutil.NoSuchProcess:
            return True
    return True


def clean_left_behind(config: Config) -> list[str]:
    """Remove what drills that were killed left behind; one line per thing removed (or that
    could not be, with what to do)."""
    notes: list[str] = []
    folder = records_folder(config)
    for path in sorted(folder.glob(f"{RECORD_PREFIX}*.json")) if folder.is_dir() else ():
        pid = _pid_of(path)
        if pid is None or pid == os.getpid() or psutil.pid_exists(pid):
            continue  # a drill still running (or this one): its things are in use
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            record = {}
        left = _clean_record(config, record, pid, notes)
        if left:
            write_json(path, left)
        else:
            path.unlink(missing_ok=True)
    return notes


def _clean_record(config: Config, record: dict, pid: int, notes: list[str]) -> dict:
    left: dict[str, list] = {"targets": [], "processes": []}
    for process in record.get("processes", []):
        if stop_process(int(process["pid"]), float(process["created"])):
            notes.append(f"stopped failover process {process['pid']} left by drill {pid}")
    for entry in record.get("targets", []):
        try:
            engine = engine_for(config.database(entry["database"]))
            engine.drop(entry["target"])
        except (BackupError, RestoreTargetError, ConfigError, OSError) as exc:
            notes.append(f"could not remove {entry['target']} left by drill {pid}: {exc}")
            left["targets"].append(entry)
            continue
        notes.append(f"removed scratch target {entry['target']} left by drill {pid}")
    return left if left["targets"] else {}


def _pid_of(path: Path) -> int | None:
    try:
        return int(path.stem.removeprefix(RECORD_PREFIX))
    except ValueError:
        return None
