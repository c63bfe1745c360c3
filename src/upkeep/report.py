"""Responsible for recording checks, metrics and findings from inside a runbook, for saying in
one line what the run did (`summary`, the line `upkeep run` prints when the run ends), and for
saying that a run is a dry run.

Each call shows a readable line to the person reading the notebook (values in human units,
`upkeep.units`) and emits a machine-readable output (mimetype `application/vnd.upkeep.result+json`)
that the runner reads back afterwards. Check and finding messages and the summary pass
`upkeep.masking` first, so that no secret or personal data a message quotes is recorded. This
module runs inside the kernel: it imports nothing heavier than detect-secrets' detectors, which
the kernel template imports once for every kernel.
"""

from __future__ import annotations

import math
from typing import Any

from upkeep.masking import mask_sensitive
from upkeep.plain_text import cut
from upkeep.records import Check, Clearance, Finding, Metric, Severity, Status
from upkeep.units import quantity

MIMETYPE = "application/vnd.upkeep.result+json"
# The note upkeep leaves in a cell that lost output to the run's limit (`upkeep.run.output_limit`):
# {"dropped": bytes, "limit": bytes, "cut": [names of the streams cut in the middle]}.
OUTPUT_CUT = "application/vnd.upkeep.output-cut+json"
DRY_RUN = "dry_run"  # the kind of the output that marks a run as a dry run
SUMMARY = "summary"  # the kind of the output that says in one line what the run did
SUMMARY_CHARS = 300  # a summary is one line: longer ones are cut here
# A check's, finding's or clearance's message is cut here: it is shown in lists and tables and
# sent in alerts, and a command's whole output put in one would travel everywhere it goes.
MESSAGE_CHARS = 2000
# Status and Severity share their warn and fail words: one icon each.
_ICONS = {Status.OK: "OK  ", Status.WARN: "WARN", Status.FAIL: "FAIL", Severity.INFO: "INFO"}

__all__ = [
    "DRY_RUN",
    "MESSAGE_CHARS",
    "MIMETYPE",
    "OUTPUT_CUT",
    "Severity",
    "SUMMARY",
    "Status",
    "check",
    "cleared",
    "dry_run",
    "finding",
    "metric",
    "summary",
]


def _emit(record: dict[str, Any], text: str) -> dict[str, Any]:
    try:
        from IPython.display import display
    except ImportError:  # outside a kernel (plain Python, tests): print only
        print(text)
        return record
    display({MIMETYPE: record, "text/plain": text}, raw=True)
    return record


def _message(message: Any) -> str:
    """A result's message, masked, and cut at MESSAGE_CHARS."""
    return cut(mask_sensitive(str(message)), MESSAGE_CHARS)


def _number(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TypeError(f"{name} must be a finite number, got {value!r}")
    return value


def check(
    name: str,
    status: Status | str,
    *,
    value: float | None = None,
    limit: float | None = None,
    unit: str = "",
    message: str = "",
) -> dict[str, Any]:
    """Record the verdict of one check: `status` is ok, warn or fail (`Status` or its value)."""
    verdict = Check(
        str(name),
        status,  # type: ignore[arg-type]  # Check refuses anything but ok, warn and fail
        _number("value", value),
        _number("limit", limit),
        unit,
        _message(message),
    )
    shown = "" if value is None else f" {quantity(value, unit)}"
    bound = "" if limit is None else f" (limit {quantity(limit, unit)})"
    icon = _ICONS[verdict.status]
    return _emit(verdict.to_json(), f"[{icon}] {name}:{shown}{bound} {verdict.message}".rstrip())


def metric(
    name: str, value: float, *, unit: str = "", labels: dict[str, str] | None = None
) -> dict[str, Any]:
    """Record a measured value, for trends and for Prometheus-style export."""
    measured = Metric(
        str(name),
        _number("value", value),  # type: ignore[arg-type]
        unit,
        {str(k): str(v) for k, v in (labels or {}).items()},
    )
    label_text = ",".join(f"{k}={v}" for k, v in measured.labels.items())
    suffix = f"{{{label_text}}}" if label_text else ""
    return _emit(measured.to_json(), f"metric {name}{suffix} = {quantity(value, unit)}")


def finding(
    key: str, message: str, *, severity: Severity | str = Severity.WARN, sticky: bool = False
) -> dict[str, Any]:
    """Record something an engineer should look at, keyed so it can be tracked across runs.

    The key is the finding's fingerprint: it stays open until a later run of this runbook no
    longer reports it, a run `cleared` it, or a person acknowledges it. With `sticky` (for what
    a run saw in data it read only once, such as new log lines), not reporting it again does not
    close it."""
    found = Finding(str(key), _message(message), severity, sticky)  # type: ignore[arg-type]
    return _emit(found.to_json(), f"[{_ICONS[found.severity]}] finding {key}: {found.message}")


def cleared(key: str, message: str = "") -> dict[str, Any]:
    """Record that the finding `key` no longer holds (it closes, sticky or not)."""
    done = Clearance(str(key), _message(message))
    return _emit(done.to_json(), f"[OK  ] cleared {key}: {done.message}".rstrip(": "))


def dry_run() -> dict[str, Any]:
    """Say that this run is a dry run: it reports what it would do and changes nothing. upkeep
    records the run as a dry run, shows it as one, and does not count it as its period's run (the
    next `upkeep run --due` still runs the real one). Only the runbook knows: a `dry_run=config`
    parameter, say, is resolved from upkeep.yml inside the kernel."""
    return _emit(
        {"kind": DRY_RUN},
        "[DRY ] a dry run: nothing is changed, and it does not count as this period's run",
    )


def summary(text: str) -> dict[str, Any]:
    """Say in one line what this run did, for the person who reads `upkeep run`'s output (from a
    terminal, cron or CI) and the run's record: `removed 12 entries, freeing 1.4 MiB`. Called
    again, the parts are joined with `; ` in order. A run that says nothing is summed up by its
    checks' counts."""
    line = cut(mask_sensitive(" ".join(str(text).split())), SUMMARY_CHARS)
    return _emit({"kind": SUMMARY, "text": line}, f"[SUM ] {line}")
