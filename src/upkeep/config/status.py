"""Responsible for the `status:` section of `upkeep.yml`: how long after its scheduled time a
runbook may start and still be on time (start grace), and how long past its time limit a run may
go on before it is overrunning (run grace); defaults for every runbook, overridden per runbook."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType

from upkeep.config.reader import LONGEST_PERIOD_MINUTES, Section
from upkeep.errors import ConfigError

__all__ = ["Grace", "StatusSettings", "read_status"]


@dataclass(frozen=True)
class Grace:
    """A runbook's two grace periods."""

    start: timedelta = timedelta(hours=6)
    run: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class StatusSettings:
    """The grace periods of every runbook (`default`), and of those named in `runbooks`."""

    default: Grace = field(default_factory=Grace)
    runbooks: Mapping[str, Grace] = field(default_factory=lambda: MappingProxyType({}))

    def grace(self, runbook: str) -> Grace:
        """The grace periods of the runbook called `runbook`."""
        return self.runbooks.get(runbook, self.default)

    def check_names(self, known: Iterable[str], file: object) -> None:
        """ConfigError naming a `status.runbooks` entry that names no runbook (a typo would
        otherwise change nothing, silently)."""
        known = set(known)
        for name in self.runbooks:
            if name not in known:
                listed = ", ".join(sorted(known)) or "(none)"
                raise ConfigError(
                    f"{file}: status.runbooks.{name}: no runbook is called {name!r}; "
                    f"expected one of {listed}"
                )


def read_status(section: Section | None) -> StatusSettings:
    if section is None:
        return StatusSettings()
    default = _read_grace(section, Grace())
    runbooks = {}
    listed = section.section("runbooks")
    if listed is not None:
        for name in list(listed.data):
            if not isinstance(name, str) or not name:
                listed.fail(str(name), "a runbook name", name)
            own = listed.section(name) or Section({}, f"{listed.where}.{name}", listed.file)
            runbooks[name] = _read_grace(own, default)
            own.done()
        listed.done()
    section.done()
    return StatusSettings(default, MappingProxyType(runbooks))


def _read_grace(section: Section, base: Grace) -> Grace:
    longest = LONGEST_PERIOD_MINUTES
    start = section.number("start_grace_minutes", base.start.total_seconds() / 60, longest)
    run = section.number("run_grace_minutes", base.run.total_seconds() / 60, longest)
    return Grace(timedelta(minutes=start), timedelta(minutes=run))
