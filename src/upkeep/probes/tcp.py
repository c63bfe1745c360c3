"""Responsible for probing a service over TCP: a connection opened (and closed) within the
config's timeout means it is up.
"""

from __future__ import annotations

import socket
import time

from upkeep.config import TcpService
from upkeep.probes.interface import ServiceProbe, describe_failure, elapsed_ms

__all__ = ["probe_tcp"]


def probe_tcp(service: TcpService) -> ServiceProbe:
    """Open (and close) a TCP connection to `service.host:service.port`."""
    started = time.perf_counter()
    try:
        with socket.create_connection((service.host, service.port), timeout=service.timeout_s):
            latency = elapsed_ms(started)
    except OSError as exc:
        detail = f"cannot connect: {describe_failure(exc)}"
        return ServiceProbe(service.name, service.kind, False, detail)
    return ServiceProbe(service.name, service.kind, True, "connected", latency)
