"""Responsible for recording checks, metrics and findings from inside a runbook.

Each call shows a readable line to the person reading the notebook and emits a machine-readable
output (mimetype `application/vnd.upkeep.result+json`) that the runner reads back afterwards.
This module runs inside the kernel: it imports nothing heavy.
"""

from __future__ import annotations

import math
from typing import Any

MIMETYPE = "application/vnd.upkeep.result+json"
CHECK_STATUSES = ("ok", "warn", "fail")
SEVERITIES = ("info", "warn", "fail")
_ICONS = {"ok": "OK  ", "warn": "WARN", "fail": "FAIL", "info": "INFO"}

__all__ = ["MIMETYPE", "check", "finding", "metric"]


def _emit(record: dict[str, Any], text: str) -> dict[str, Any]:
    try:
        from IPython.display import display
    except ImportError:  # outside a kernel (plain Python, tests): print only
        print(text)
        return record
    display({MIMETYPE: record, "text/plain": text}, raw=True)
    return record


def _number(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TypeError(f"{name} must be a finite number, got {value!r}")
    return value


def check(
    name: str,
    status: str,
    *,
    value: float | None = None,
    limit: float | None = None,
    unit: str = "",
    message: str = "",
) -> dict[str, Any]:
    """Record the verdict of one check: `status` is "ok", "warn" or "fail"."""
    if status not in CHECK_STATUSES:
        raise ValueError(f"check status must be one of {CHECK_STATUSES}, got {status!r}")
    record = {
        "kind": "check",
        "name": str(name),
        "status": status,
        "value": _number("value", value),
        "limit": _number("limit", limit),
        "unit": unit,
        "message": str(message),
    }
    shown = "" if value is None else f" {value:g}{unit}"
    bound = "" if limit is None else f" (limit {limit:g}{unit})"
    return _emit(record, f"[{_ICONS[status]}] {name}:{shown}{bound} {message}".rstrip())


def metric(
    name: str, value: float, *, unit: str = "", labels: dict[str, str] | None = None
) -> dict[str, Any]:
    """Record a measured value, for trends and for Prometheus-style export."""
    record = {
        "kind": "metric",
        "name": str(name),
        "value": _number("value", value),
        "unit": unit,
        "labels": {str(k): str(v) for k, v in (labels or {}).items()},
    }
    label_text = ",".join(f"{k}={v}" for k, v in record["labels"].items())
    suffix = f"{{{label_text}}}" if label_text else ""
    return _emit(record, f"metric {name}{suffix} = {value:g}{unit}")


def finding(key: str, message: str, *, severity: str = "warn") -> dict[str, Any]:
    """Record something an engineer should look at, keyed so it can be tracked across runs."""
    if severity not in SEVERITIES:
        raise ValueError(f"finding severity must be one of {SEVERITIES}, got {severity!r}")
    record = {"kind": "finding", "key": str(key), "message": str(message), "severity": severity}
    return _emit(record, f"[{_ICONS[severity]}] finding {key}: {message}")
