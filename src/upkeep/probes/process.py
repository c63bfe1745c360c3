"""Responsible for probing a service that is a local process: up while at least one other
process's command line contains the configured marker.
"""

from __future__ import annotations

import os

import psutil

from upkeep.config import ProcessService
from upkeep.probes.interface import ServiceProbe

__all__ = ["probe_process"]


def probe_process(service: ProcessService) -> ServiceProbe:
    """Count processes whose command line contains `service.process` (this process excluded)."""
    own_pid = os.getpid()
    count = 0
    for process in psutil.process_iter(["pid", "cmdline"]):
        cmdline = process.info["cmdline"] or []
        if process.info["pid"] != own_pid and service.process in " ".join(cmdline):
            count += 1
    detail = f"{count} process{'es' if count != 1 else ''} matching {service.process!r}"
    return ServiceProbe(service.name, service.kind, count > 0, detail, process_count=count)
