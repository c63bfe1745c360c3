"""Responsible for what every exported file needs to know beyond the runbooks: the config (its
time zone, its path, its `schedule:` section) and the upkeep command a scheduler runs."""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from upkeep.config import Config
    from upkeep.config.schedule_export import ScheduleExport


@dataclass(frozen=True)
class ExportContext:
    config: Config

    @property
    def zone(self) -> ZoneInfo:
        return self.config.tz

    @property
    def config_path(self) -> Path:
        return self.config.path

    @property
    def settings(self) -> ScheduleExport:
        return self.config.schedule

    @property
    def command(self) -> str:
        """The upkeep executable a crontab line or a systemd unit runs: `schedule.command`,
        else the `upkeep` script beside the running Python (a venv's), else `upkeep`."""
        if self.settings.command:
            return self.settings.command
        beside = Path(sys.executable).parent / "upkeep"
        return str(beside) if beside.exists() else "upkeep"

    def run_args(
        self, name: str, *, command: str | None = None, config: Path | None = None
    ) -> list[str]:
        """The command line that runs runbook `name` as a scheduled run."""
        return [
            command or self.command,
            "--config",
            str(config or self.config_path),
            "run",
            "--trigger",
            "schedule",
            name,
        ]

    def shell_line(self, name: str) -> str:
        return shlex.join(self.run_args(name))
