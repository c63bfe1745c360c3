"""Responsible for the `disaster_drill:` section of `upkeep.yml`: the recovery targets (`rto_s`,
`rpo_s`) of each database and service, each database's canary (a heartbeat row upkeep writes, by
opt-in, or a read-only query), how the drill fails over to the restored data (the demo's health
service, or a configured command), and how long it waits for the failed-over system to answer."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from upkeep.config.reader import Section
from upkeep.errors import ConfigError

__all__ = [
    "CANARY_TABLE",
    "DisasterDrill",
    "DrillFailover",
    "FailoverProbe",
    "RecoveryTarget",
    "read_disaster_drill",
]

CANARY_TABLE = "upkeep_canary"
CANARY_KINDS = ("none", "table")
FAILOVER_KINDS = ("demo", "command")
TARGET_PLACEHOLDER = "{target}"
PORT_PLACEHOLDER = "{port}"


@dataclass(frozen=True)
class RecoveryTarget:
    """What one database or service may lose (`rpo_s`: seconds of data) and how long it may be
    down (`rto_s`: seconds from the loss to the first healthy answer); None: no target.

    For a database: `canary` is `table` when upkeep may write its heartbeat row into the live
    database (table `upkeep_canary`, made when missing), `none` when it may not; `canary_query`,
    a read-only query whose one value is the time of the newest write, measures the RPO
    without writing."""

    name: str
    rto_s: float | None = None
    rpo_s: float | None = None
    canary: str = "none"
    canary_query: str | None = None


@dataclass(frozen=True)
class FailoverProbe:
    """One probe of the failed-over system (command failover): GET `url` (`{port}` is the port
    the command was given) must answer `expect_status`; `name` is the service it stands for."""

    name: str
    url: str
    expect_status: int = 200


@dataclass(frozen=True)
class DrillFailover:
    """How the drill brings the application up on the restored data of `database`.

    `demo`: the demo's health service on a free port, reading the restored SQLite file.
    `command`: `command` (a list: program and arguments; `{target}` becomes the restored target,
    a file path or a database name, `{port}` a free port), probed through `probes`."""

    kind: str = "demo"
    database: str | None = None
    command: tuple[str, ...] = ()
    probes: tuple[FailoverProbe, ...] = ()


@dataclass(frozen=True)
class DisasterDrill:
    """The yearly disaster drill's settings (see runbooks/yearly/disaster-drill)."""

    databases: tuple[RecoveryTarget, ...] = ()
    services: tuple[RecoveryTarget, ...] = ()
    failover: DrillFailover | None = None
    healthy_timeout_s: float = 60.0

    def database(self, name: str) -> RecoveryTarget:
        """The targets of database `name` (no target, no canary when it has no entry)."""
        return next((t for t in self.databases if t.name == name), RecoveryTarget(name))

    def service(self, name: str) -> RecoveryTarget:
        return next((t for t in self.services if t.name == name), RecoveryTarget(name))


def read_disaster_drill(
    section: Section | None,
    databases: Sequence[str],
    services: Sequence[str],
) -> DisasterDrill:
    """The section, every name checked against the configured databases and services."""
    if section is None:
        return DisasterDrill()
    drill = DisasterDrill(
        databases=_targets(section, "databases", databases, _database_target),
        services=_targets(section, "services", services, _service_target),
        failover=_failover(section.section("failover"), databases, services),
        healthy_timeout_s=_positive(section, "healthy_timeout_s", 60.0),
    )
    section.done()
    return drill


def _targets(
    section: Section,
    key: str,
    known: Sequence[str],
    read: Callable[[str, Section], RecoveryTarget],
) -> tuple[RecoveryTarget, ...]:
    entries = section.section(key)
    if entries is None:
        return ()
    targets = []
    for name in sorted(entries.data, key=str):
        if name not in known:
            listed = ", ".join(known) or "(none configured)"
            raise ConfigError(
                f"{section.file}: {entries.where}.{name}: no {key[:-1]} of that name in "
                f"{key}:; expected one of {listed}"
            )
        targets.append(
            read(name, Section(entries.data.pop(name), f"{entries.where}.{name}", section.file))
        )
    entries.done()
    return tuple(targets)


def _database_target(name: str, s: Section) -> RecoveryTarget:
    target = RecoveryTarget(
        name,
        rto_s=_positive(s, "rto_s", None),
        rpo_s=_positive(s, "rpo_s", None),
        canary=s.choice("canary", CANARY_KINDS, "none"),
        canary_query=s.str("canary_query", None),
    )
    s.done()
    if target.canary != "none" and target.canary_query is not None:
        raise ConfigError(
            f"{s.file}: {s.where}: give canary: table (upkeep writes its heartbeat row) or "
            "canary_query (a read-only query), not both"
        )
    return target


def _service_target(name: str, s: Section) -> RecoveryTarget:
    target = RecoveryTarget(
        name, rto_s=_positive(s, "rto_s", None), rpo_s=_positive(s, "rpo_s", None)
    )
    s.done()
    return target


def _failover(
    s: Section | None, databases: Sequence[str], services: Sequence[str]
) -> DrillFailover | None:
    if s is None:
        return None
    kind = s.choice("kind", FAILOVER_KINDS)
    database = s.str("database")
    if database not in databases:
        s.fail("database", "the name of a database in databases:", database)
    command = s.strings("command", ())
    probes = s.items("probes", lambda p: _probe(p, services))
    s.done()
    if kind == "command" and not command:
        raise ConfigError(
            f"{s.file}: {s.where}.command: required for kind command; expected the program and "
            f"its arguments as a list, with {TARGET_PLACEHOLDER} for the restored target"
        )
    if kind == "command" and not probes:
        raise ConfigError(
            f"{s.file}: {s.where}.probes: required for kind command; expected at least one "
            f"{{name, url}} that answers when the failed-over system is healthy"
        )
    if kind == "demo" and (command or probes):
        raise ConfigError(
            f"{s.file}: {s.where}: kind demo starts the demo's health service itself; "
            "command and probes belong to kind command"
        )
    return DrillFailover(kind, database, tuple(command), probes)


def _probe(s: Section, services: Sequence[str]) -> FailoverProbe:
    name = s.str("name")
    if name not in services:
        s.fail("name", "the name of a service in services: (the one this probe stands for)", name)
    url = s.str("url")
    if not url.startswith(("http://", "https://")):
        s.fail("url", "an http:// or https:// URL (with {port} for the failover's port)", url)
    probe = FailoverProbe(name, url, s.int("expect_status", 200, minimum=100))
    s.done()
    return probe


def _positive(s: Section, key: str, default: Any) -> Any:
    value = s.number(key, default)
    if value is not None and value <= 0:
        s.fail(key, "a number of seconds above 0", value)
    return value
