"""Responsible for the `metrics:` section of `upkeep.yml`: where the Prometheus textfile is
written after every run (none: not written), and the grace the exported alerting rules allow a
runbook past its cadence before "has not succeeded" fires."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from upkeep.config.reader import Section

__all__ = ["MetricsSettings", "read_metrics"]

DEFAULT_GRACE = timedelta(hours=6)
_DURATION = re.compile(r"(?P<amount>\d+(?:\.\d+)?)\s*(?P<unit>[mhd])")
_DURATION_UNITS = {"m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class MetricsSettings:
    """`textfile`: the `.prom` file node_exporter's textfile collector reads, rewritten after
    every run (None: no textfile). `grace`: how long past its cadence a runbook may go without
    a success before the exported rule `UpkeepRunbookNotSucceeded` fires."""

    textfile: Path | None = None
    grace: timedelta = DEFAULT_GRACE


def read_metrics(section: Section | None, base: Path) -> MetricsSettings:
    if section is None:
        return MetricsSettings()
    textfile = section.path("textfile", base, None)
    if textfile is not None and textfile.suffix != ".prom":
        # node_exporter's textfile collector reads only *.prom files: any other name is ignored.
        section.fail("textfile", "a file name ending in .prom", str(textfile))
    grace = _grace(section)
    section.done()
    return MetricsSettings(textfile=textfile, grace=grace)


def _grace(section: Section) -> timedelta:
    written = section.get("grace", str, "a duration such as 90m, 6h or 2d", None)
    if written is None:
        return DEFAULT_GRACE
    match = _DURATION.fullmatch(written.strip())
    if match is None:
        section.fail("grace", "a duration such as 90m, 6h or 2d", written)
    assert match is not None
    return timedelta(seconds=float(match["amount"]) * _DURATION_UNITS[match["unit"]])
