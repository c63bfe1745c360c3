"""Responsible for the monthly system updates' change plan: the OS packages to upgrade (security
first) with their exact versions, the major Python updates of each configured environment with
the advisories each fixes, what would need a restart, and what could not be planned; written as
byte-stable JSON (the bytes a person approves) and read back for the apply."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from upkeep.updates.apt_upgrade import SimulatedUpgrade
from upkeep.updates.model import Update, UpdateKind, Vulnerability
from upkeep.updates.needrestart import Restarts

__all__ = [
    "PLAN_FILE",
    "ChangePlan",
    "OsChange",
    "PythonChange",
    "RestartNeeds",
    "fixed_by",
    "os_changes",
    "plan_sha256",
    "python_changes",
    "restart_needs",
]

PLAN_FILE = "change-plan.json"
PLAN_SCHEMA = 1
# Packages whose new version only takes effect after a reboot.
_REBOOT_PACKAGES = ("linux-image-", "linux-modules-", "libc6", "systemd", "dbus", "intel-microcode")


@dataclass(frozen=True)
class OsChange:
    """An OS package to upgrade: from `current` to exactly `version`."""

    name: str
    current: str | None
    version: str
    origins: tuple[str, ...]
    security: bool


@dataclass(frozen=True)
class PythonChange:
    """A major update of one package of one configured environment, and the advisories of the
    version in use that the new version fixes (ids and aliases: CVE-…, GHSA-…)."""

    target: str
    package: str
    current: str
    version: str
    fixes: tuple[str, ...] = ()


@dataclass(frozen=True)
class RestartNeeds:
    """What would need a restart: `reboot` and why, services needrestart names (None: it is not
    installed, so unknown)."""

    reboot: bool = False
    reboot_reasons: tuple[str, ...] = ()
    services: tuple[str, ...] | None = None
    kernel_running: str | None = None
    kernel_expected: str | None = None


@dataclass(frozen=True)
class ChangePlan:
    """Everything one approval covers. `notes`: what could not be planned, and why."""

    run_id: str
    created_at: str
    os: tuple[OsChange, ...] = ()
    kept_back: tuple[str, ...] = ()
    python: tuple[PythonChange, ...] = ()
    restarts: RestartNeeds = field(default_factory=RestartNeeds)
    notes: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.os and not self.python

    def to_bytes(self) -> bytes:
        """The plan as canonical JSON: the same plan gives the same bytes."""
        document = {"schema": PLAN_SCHEMA, **asdict(self)}
        return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> ChangePlan:
        """A plan from its JSON; ValueError when it is not one."""
        try:
            doc: dict[str, Any] = json.loads(data)
            if doc.get("schema") != PLAN_SCHEMA:
                raise ValueError(f"schema {doc.get('schema')!r}, expected {PLAN_SCHEMA}")
            restarts = doc["restarts"]
            return cls(
                run_id=doc["run_id"],
                created_at=doc["created_at"],
                os=tuple(OsChange(**{**c, "origins": tuple(c["origins"])}) for c in doc["os"]),
                kept_back=tuple(doc["kept_back"]),
                python=tuple(
                    PythonChange(**{**c, "fixes": tuple(c["fixes"])}) for c in doc["python"]
                ),
                restarts=RestartNeeds(
                    reboot=restarts["reboot"],
                    reboot_reasons=tuple(restarts["reboot_reasons"]),
                    services=None if restarts["services"] is None else tuple(restarts["services"]),
                    kernel_running=restarts["kernel_running"],
                    kernel_expected=restarts["kernel_expected"],
                ),
                notes=tuple(doc["notes"]),
            )
        except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not a change plan: {exc}") from None


def plan_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def os_changes(simulated: SimulatedUpgrade) -> tuple[OsChange, ...]:
    """apt's simulated upgrade as changes, security ones first, then by name."""
    changes = [
        OsChange(step.name, step.current, step.version, step.origins, step.security)
        for step in simulated.steps
    ]
    return tuple(sorted(changes, key=lambda c: (not c.security, c.name)))


def python_changes(
    target: str, updates: Iterable[Update], vulnerabilities: Sequence[Vulnerability]
) -> tuple[PythonChange, ...]:
    """The major updates of one target, each with the advisories it fixes."""
    changes = []
    for update in updates:
        if update.kind is not UpdateKind.MAJOR:
            continue
        fixes = fixed_by(update, vulnerabilities)
        changes.append(PythonChange(target, update.package, update.current, update.latest, fixes))
    return tuple(sorted(changes, key=lambda c: (not c.fixes, c.package)))


def fixed_by(update: Update, vulnerabilities: Sequence[Vulnerability]) -> tuple[str, ...]:
    """The advisory names (id and aliases) of the package's vulnerabilities at its current
    version that some fixed version at or below the update's version fixes."""
    name = canonicalize_name(update.package)
    target = Version(update.latest)
    names: set[str] = set()
    for vuln in vulnerabilities:
        if canonicalize_name(vuln.package) != name or vuln.version != update.current:
            continue
        if any(_at_or_below(fix, target) for fix in vuln.fix_versions):
            names.update(vuln.ids)
    return tuple(sorted(names))


def _at_or_below(version: str, limit: Version) -> bool:
    try:
        return Version(version) <= limit
    except InvalidVersion:
        return False


def restart_needs(os: Sequence[OsChange], needrestart: Restarts | None) -> RestartNeeds:
    """A reboot when a planned package only takes effect after one, or when needrestart says the
    running kernel is already outdated; the services needrestart names (None: not installed)."""
    reasons = [
        f"{change.name} is upgraded" for change in os if change.name.startswith(_REBOOT_PACKAGES)
    ]
    if needrestart is not None and needrestart.reboot:
        reasons.append(
            f"the running kernel {needrestart.kernel_running} is older than the installed "
            f"{needrestart.kernel_expected}"
        )
    return RestartNeeds(
        reboot=bool(reasons),
        reboot_reasons=tuple(reasons),
        services=None if needrestart is None else needrestart.services,
        kernel_running=None if needrestart is None else needrestart.kernel_running,
        kernel_expected=None if needrestart is None else needrestart.kernel_expected,
    )
