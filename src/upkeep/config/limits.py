"""Responsible for the warn/fail limits of `upkeep.yml`: one `Limit` (a mount's, a log's
`errors`) and the `thresholds:` section, each refused when `fail` is below `warn`."""

from __future__ import annotations

from upkeep.config.model import Limit, Thresholds
from upkeep.config.reader import REQUIRED, Section
from upkeep.errors import ConfigError

__all__ = ["read_limit", "read_thresholds"]


def read_limit(section: Section | None, default: Limit | None) -> Limit | None:
    if section is None:
        return default
    warn = section.number("warn", default.warn if default else REQUIRED)
    fail = section.number("fail", default.fail if default else REQUIRED)
    section.done()
    if fail < warn:
        raise ConfigError(
            f"{section.file}: {section.where}: expected fail ({fail}) >= warn ({warn})"
        )
    return Limit(warn, fail)


def read_thresholds(section: Section | None) -> Thresholds:
    base = Thresholds()
    if section is None:
        return base
    values = {
        name: read_limit(section.section(name), getattr(base, name))
        for name in Thresholds.__dataclass_fields__
    }
    section.done()
    return Thresholds(**values)
