"""Responsible for what the dependency review finds, as frozen data shared by its parts: a
known vulnerability of a package, an update a package has, and an update kind."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Package", "Update", "UpdateKind", "Vulnerability", "update_kind"]


class UpdateKind(StrEnum):
    """How far an update moves a version (semantic versioning's words)."""

    PATCH = "patch"
    MINOR = "minor"
    MAJOR = "major"


@dataclass(frozen=True)
class Package:
    """A package as installed, or as pinned in a lock file."""

    name: str
    version: str


@dataclass(frozen=True)
class Vulnerability:
    """A known vulnerability of `package` at `version`: its advisory `id`, other names for the
    same advisory (`aliases`), the versions that fix it, and what it is."""

    package: str
    version: str
    id: str
    aliases: tuple[str, ...] = ()
    fix_versions: tuple[str, ...] = ()
    description: str = ""

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(name.upper() for name in (self.id, *self.aliases))


@dataclass(frozen=True)
class Update:
    """A newer version of a package than the one in use, and how big a step it is."""

    package: str
    current: str
    latest: str
    kind: UpdateKind


def update_kind(current: str, latest: str) -> UpdateKind:
    """Patch, minor or major, by the first release number that differs (`1.2.3` -> `1.2.4` is a
    patch, `1.3.0` a minor, `2.0` a major). Under 1.0 a minor step counts as major: semantic
    versioning promises nothing there."""
    from packaging.version import Version

    old, new = Version(current).release, Version(latest).release
    width = max(len(old), len(new), 3)
    old, new = old + (0,) * (width - len(old)), new + (0,) * (width - len(new))
    if old[0] != new[0] or (old[0] == 0 and old[1] != new[1]):
        return UpdateKind.MAJOR
    if old[1] != new[1]:
        return UpdateKind.MINOR
    return UpdateKind.PATCH
