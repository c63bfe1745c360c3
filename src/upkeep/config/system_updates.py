"""Responsible for the `system_updates:` section of `upkeep.yml`: whether the monthly system
updates may run apt itself to install the approved OS packages (off unless set: by default it
plans them and a person installs them), and whether the configured services are probed as the
health check after an apply."""

from __future__ import annotations

from dataclasses import dataclass

from upkeep.config.reader import Section

__all__ = ["SystemUpdates", "read_system_updates"]


@dataclass(frozen=True)
class SystemUpdates:
    """`os_apply`: run `apt-get install --only-upgrade` of the approved pins (needs root).
    `probe_services`: after an apply, every configured service must answer (the health check),
    besides each virtualenv's smoke command."""

    os_apply: bool = False
    probe_services: bool = True


def read_system_updates(s: Section | None) -> SystemUpdates:
    if s is None:
        return SystemUpdates()
    settings = SystemUpdates(
        os_apply=s.bool("os_apply", False),
        probe_services=s.bool("probe_services", True),
    )
    s.done()
    return settings
