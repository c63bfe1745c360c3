"""Responsible for the `updates:` section of `upkeep.yml`: which Python environments and lock
files the weekly dependency review audits, where vulnerability advisories and package versions
come from, whether the OS's packages are looked at, and the smoke command that minor patching
runs; each refused at load when it names something it cannot be."""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from upkeep.config.reader import Section, resolved
from upkeep.errors import ConfigError

__all__ = ["OS_PACKAGE_MANAGERS", "PythonTarget", "UpdatesSettings", "read_updates"]

OS_PACKAGE_MANAGERS = ("none", "apt")
DEFAULT_RISK_REGISTER = "risk-register.yml"
_URL = re.compile(r"^(https?|file)://")


@dataclass(frozen=True)
class PythonTarget:
    """One Python dependency set to review: a virtualenv (`venv`, its packages as installed) or
    a requirements / lock file (`requirements`, every line pinned with `==`). `smoke_command`
    (a virtualenv only) is what minor patching runs to decide whether to keep an update."""

    name: str
    venv: Path | None = None
    requirements: Path | None = None
    smoke_command: str | None = None

    @property
    def source(self) -> str:
        """What is audited, as a person would name it."""
        return f"virtualenv {self.venv}" if self.venv else f"requirements file {self.requirements}"


@dataclass(frozen=True)
class UpdatesSettings:
    """The `updates:` section. Advisories come from `advisory_dir` (OSV records, served to
    pip-audit on loopback), else `osv_url` (an OSV query API), else pip-audit's default
    service (PyPI's, on the internet). Package versions come from the simple index `index_url`
    (a URL or a folder); without one, no outdated check is made (and the run says so)."""

    python: tuple[PythonTarget, ...] = ()
    advisory_dir: Path | None = None
    osv_url: str | None = None
    index_url: str | None = None
    risk_register: Path | None = None
    os: str = "none"
    debsecan_suite: str | None = None
    apt_lists_max_age_days: float = 7.0
    timeout_s: int = 120

    @property
    def advisory_source(self) -> str:
        """The advisory source, as a check message names it."""
        if self.advisory_dir is not None:
            return f"the OSV advisory folder {self.advisory_dir}"
        if self.osv_url is not None:
            return f"the OSV service {self.osv_url}"
        return "pip-audit's default service (PyPI's vulnerability API)"


def read_updates(s: Section | None, base: Path) -> UpdatesSettings:
    register = base / DEFAULT_RISK_REGISTER
    if s is None:
        return UpdatesSettings(risk_register=register)
    settings = UpdatesSettings(
        python=s.items("python", lambda item: _python_target(item, base)),
        advisory_dir=s.path("advisory_dir", base, None),
        osv_url=s.str("osv_url", None),
        index_url=_index(s, base),
        risk_register=s.path("risk_register", base, register),
        os=s.choice("os", OS_PACKAGE_MANAGERS, "none"),
        debsecan_suite=s.str("debsecan_suite", None),
        apt_lists_max_age_days=s.number("apt_lists_max_age_days", 7.0),
        timeout_s=s.int("timeout_s", 120, minimum=1),
    )
    s.done()
    if settings.advisory_dir is not None and settings.osv_url is not None:
        raise ConfigError(
            f"{s.file}: {s.where}: advisory_dir and osv_url are both set; expected one advisory "
            "source (a folder of OSV records, or an OSV query URL)"
        )
    if settings.advisory_dir is not None and not settings.advisory_dir.is_dir():
        s.fail("advisory_dir", "a folder of OSV records (*.json)", str(settings.advisory_dir))
    if settings.osv_url is not None and not re.match(r"^https?://", settings.osv_url):
        s.fail("osv_url", "an http:// or https:// URL of an OSV query API", settings.osv_url)
    names = [target.name for target in settings.python]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"{s.file}: {s.where}.python: name {name!r} is used twice")
    return settings


def _index(s: Section, base: Path) -> str | None:
    """The simple index as a URL: one written as a URL, or a folder beside upkeep.yml."""
    written = s.str("index_url", None)
    if written is None:
        return None
    if _URL.match(written):
        return _index_url(s, written)
    folder = resolved(base / written, f"{s.file}: {s.where}.index_url")
    if not folder.is_dir():
        s.fail("index_url", "a simple index URL (https://…, file://…) or a folder", written)
    return folder.as_uri()


def _index_url(s: Section, written: str) -> str:
    """A URL as written, once it names a host and a port that is a number. Credentials in it
    are kept (the index is asked with HTTP basic auth, pip is given them) but never shown."""
    parts = urllib.parse.urlsplit(written)
    try:
        port_ok = parts.port is None or parts.port > 0  # ValueError: a port that is no number
    except ValueError:
        port_ok = False
    has_host = parts.scheme == "file" or (bool(parts.hostname) and port_ok)
    if not has_host:
        shown = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
        s.fail("index_url", "a simple index URL with a host, such as https://host/simple", shown)
    return written


def _python_target(s: Section, base: Path) -> PythonTarget:
    target = PythonTarget(
        name=s.name("name"),
        venv=s.path("venv", base, None),
        requirements=s.path("requirements", base, None),
        smoke_command=s.str("smoke_command", None),
    )
    s.done()
    if (target.venv is None) == (target.requirements is None):
        raise ConfigError(
            f"{s.file}: {s.where}: expected exactly one of venv (a virtualenv's folder) or "
            "requirements (a pinned requirements / lock file)"
        )
    if target.venv is not None and not (target.venv / "bin" / "python").exists():
        s.fail("venv", "a virtualenv folder holding bin/python", str(target.venv))
    if target.requirements is not None and not target.requirements.is_file():
        s.fail("requirements", "an existing requirements / lock file", str(target.requirements))
    if target.smoke_command is not None and target.venv is None:
        raise ConfigError(
            f"{s.file}: {s.where}.smoke_command: only a venv target is patched, so only it "
            "has a smoke command"
        )
    return target
