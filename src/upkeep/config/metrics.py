"""Responsible for the `metrics:` section of `upkeep.yml`: where the Prometheus textfile is
written after every run (none: not written). The exported alerting rules take their grace from
the `status:` section, as `upkeep status` and `upkeep watch` do."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from upkeep.config.reader import Section

__all__ = ["MetricsSettings", "read_metrics"]


@dataclass(frozen=True)
class MetricsSettings:
    """`textfile`: the `.prom` file node_exporter's textfile collector reads, rewritten after
    every run (None: no textfile)."""

    textfile: Path | None = None


def read_metrics(section: Section | None, base: Path) -> MetricsSettings:
    if section is None:
        return MetricsSettings()
    textfile = section.path("textfile", base, None)
    if textfile is not None and textfile.suffix != ".prom":
        # node_exporter's textfile collector reads only *.prom files: any other name is ignored.
        section.fail("textfile", "a file name ending in .prom", str(textfile))
    section.done()
    return MetricsSettings(textfile=textfile)
