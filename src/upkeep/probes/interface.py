"""Responsible for what every probe kind shares: the `ServiceProbe` answer, the `Probe` shape a
kind's module follows (a function from its typed service config to a `ServiceProbe`, never
raising for a service that does not answer), and the wording of a failure and of a latency.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol, TypeVar

__all__ = ["Probe", "ServiceProbe", "describe_failure", "elapsed_ms"]

ServiceConfig = TypeVar("ServiceConfig", contravariant=True)


@dataclass(frozen=True)
class ServiceProbe:
    """The answer of one service: `up` is the verdict; latency is None when nothing answered."""

    name: str
    kind: str
    up: bool
    detail: str
    latency_ms: float | None = None
    status_code: int | None = None
    process_count: int | None = None


class Probe(Protocol[ServiceConfig]):
    """One probe kind: asks the service its config describes, and reports a service that does
    not answer as down (with the reason in `detail`) instead of raising."""

    def __call__(self, service: ServiceConfig, /) -> ServiceProbe: ...


def describe_failure(exc: BaseException) -> str:
    """The reason an operating-system or network call failed, as a person reads it."""
    reason = getattr(exc, "reason", exc)
    return getattr(reason, "strerror", None) or str(reason) or type(reason).__name__


def elapsed_ms(started: float) -> float:
    """Milliseconds since `started` (a `time.perf_counter()` reading), to 0.01 ms."""
    return round((time.perf_counter() - started) * 1000, 2)
