"""Responsible for probing a service over HTTP: one GET, no proxy, no redirects followed, its
status compared with the one the config expects.
"""

from __future__ import annotations

import http.client
import time
import urllib.error
import urllib.request

from upkeep.config import HttpService
from upkeep.probes.interface import ServiceProbe, describe_failure, elapsed_ms

__all__ = ["probe_http"]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A health endpoint's own status is the answer: a redirect is reported, not followed."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def probe_http(service: HttpService) -> ServiceProbe:
    """GET `service.url` (no proxy, no redirects) and compare the status with `expect_status`."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())
    started = time.perf_counter()
    try:
        with opener.open(service.url, timeout=service.timeout_s) as response:
            response.read(1 << 20)
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
        exc.close()
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        return ServiceProbe(
            service.name, service.kind, False, f"no answer: {describe_failure(exc)}"
        )
    latency = elapsed_ms(started)
    up = status == service.expect_status
    detail = f"HTTP {status}" + ("" if up else f", expected {service.expect_status}")
    return ServiceProbe(service.name, service.kind, up, detail, latency, status_code=status)
