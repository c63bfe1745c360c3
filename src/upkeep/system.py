"""Responsible for measuring the machine the health check runs on: a filesystem's usage as `df`
shows it, and CPU, memory and load averages, as frozen dataclasses.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import psutil

from upkeep.config import Mount

__all__ = ["DiskUsage", "SystemUsage", "disk_usage", "system_usage"]


@dataclass(frozen=True)
class DiskUsage:
    path: Path
    total_bytes: int
    used_bytes: int
    free_bytes: int
    percent: float  # as df shows it: used / (used + available to unprivileged users)


@dataclass(frozen=True)
class SystemUsage:
    cpu_percent: float
    memory_percent: float
    load_1: float
    load_5: float
    load_15: float
    cpus: int

    @property
    def load_per_cpu(self) -> float:
        # The 5-minute average: the 1-minute one mostly shows the health check's own kernel start.
        return round(self.load_5 / self.cpus, 3)


def disk_usage(mount: Mount | Path) -> DiskUsage:
    """Usage of the filesystem holding `mount` (raises FileNotFoundError if it does not exist)."""
    path = mount.path if isinstance(mount, Mount) else Path(mount)
    usage = psutil.disk_usage(str(path))
    return DiskUsage(path, usage.total, usage.used, usage.free, usage.percent)


def system_usage(interval_s: float = 0.5) -> SystemUsage:
    """CPU percent measured over `interval_s`, memory percent, and the load averages."""
    cpu = psutil.cpu_percent(interval=interval_s)
    load_1, load_5, load_15 = os.getloadavg()
    return SystemUsage(
        cpu,
        psutil.virtual_memory().percent,
        round(load_1, 2),
        round(load_5, 2),
        round(load_15, 2),
        psutil.cpu_count() or 1,
    )
