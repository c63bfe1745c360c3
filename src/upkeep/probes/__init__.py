"""Responsible for asking each configured service whether it is up: `probe_service` hands a
typed service config to the probe of its kind, one module per kind (`http`, `tcp`, `process`),
each following the `interface.Probe` shape. A new kind is a config dataclass in
`upkeep.config.model` (added to `Service`), a module here, and one case below.
"""

from __future__ import annotations

from typing import assert_never

from upkeep.config import HttpService, ProcessService, Service, TcpService
from upkeep.probes.http import probe_http
from upkeep.probes.interface import Probe, ServiceProbe, describe_failure
from upkeep.probes.process import probe_process
from upkeep.probes.tcp import probe_tcp

__all__ = [
    "Probe",
    "ServiceProbe",
    "describe_failure",
    "probe_http",
    "probe_process",
    "probe_service",
    "probe_tcp",
]


def probe_service(service: Service) -> ServiceProbe:
    """The answer of `service`, from the probe of its kind."""
    match service:
        case HttpService():
            return probe_http(service)
        case TcpService():
            return probe_tcp(service)
        case ProcessService():
            return probe_process(service)
        case _:
            assert_never(service)
