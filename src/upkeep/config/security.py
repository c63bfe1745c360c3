"""Responsible for the `security:` section of `upkeep.yml`: what the monthly security review
audits (the account files, sudoers, home roots, SUID/SGID and world-writable roots, listening
ports, configured paths, databases), where its committed baseline lives, which access logs it
reads and what counts as a burst, and where Lynis leaves its report."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from upkeep.config.reader import Section, lexical
from upkeep.errors import ConfigError

__all__ = ["AccessLog", "SecurityReview", "read_security"]

ACCESS_LOG_FORMATS = ("auth", "web")


@dataclass(frozen=True)
class AccessLog:
    """One log the review reads: `auth` (sshd/sudo lines, syslog or journald short export) or
    `web` (nginx/Apache combined format); rotated copies beside it are read too."""

    name: str
    path: Path
    format: str


@dataclass(frozen=True)
class SecurityReview:
    """What the security review audits and reads; paths are absolute."""

    baseline: Path | None = None
    passwd: Path = Path("/etc/passwd")
    group: Path = Path("/etc/group")
    admin_groups: tuple[str, ...] = ("sudo", "wheel", "admin")
    sudoers: tuple[Path, ...] = (Path("/etc/sudoers"), Path("/etc/sudoers.d"))
    home_roots: tuple[Path, ...] = (Path("/home"), Path("/root"))
    suid_roots: tuple[Path, ...] = (Path("/usr/bin"), Path("/usr/sbin"), Path("/usr/local"))
    world_writable_roots: tuple[Path, ...] = (Path("/etc"), Path("/usr"))
    temp_paths: tuple[Path, ...] = (Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"))
    max_files: int = 200_000  # per root: a walk stops here and says so
    listening: bool = True
    paths: tuple[Path, ...] = ()
    owners: bool = True  # record owners of paths (off where accounts differ per machine)
    databases: tuple[str, ...] = ()  # configured databases whose roles and grants are audited
    access_logs: tuple[AccessLog, ...] = ()
    failed_login_warn: int = 10  # failed logins of one source in the month
    burst_warn: int = 20  # 401/403 answers to one source within burst_window_s
    burst_window_s: int = 300
    admin_paths: tuple[str, ...] = ("/admin", "/wp-admin", "/phpmyadmin", "/.env", "/.git")
    lynis: bool = True  # run Lynis when it is installed
    lynis_report: Path = Path("/var/log/lynis-report.dat")


def read_security(section: Section | None, base: Path, databases: list[str]) -> SecurityReview:
    """The `security:` section; ConfigError naming the key for anything malformed."""
    default = SecurityReview()
    if section is None:
        return default

    def paths(key: str, fallback: tuple[Path, ...]) -> tuple[Path, ...]:
        values = section.strings(key, None)
        if values is None:
            return fallback
        return tuple(lexical(base / os.path.expanduser(v)) for v in values)

    def path(key: str, fallback: Path | None) -> Path | None:
        value = section.str(key, None)
        return fallback if value is None else lexical(base / value)

    review = SecurityReview(
        baseline=path("baseline", None),
        passwd=path("passwd", default.passwd),
        group=path("group", default.group),
        admin_groups=section.strings("admin_groups", default.admin_groups),
        sudoers=paths("sudoers", default.sudoers),
        home_roots=paths("home_roots", default.home_roots),
        suid_roots=paths("suid_roots", default.suid_roots),
        world_writable_roots=paths("world_writable_roots", default.world_writable_roots),
        temp_paths=paths("temp_paths", default.temp_paths),
        max_files=section.int("max_files", default.max_files, minimum=1),
        listening=section.bool("listening", default.listening),
        paths=paths("paths", ()),
        owners=section.bool("owners", default.owners),
        databases=section.strings("databases", ()),
        access_logs=section.items("access_logs", lambda s: _access_log(s, base)),
        failed_login_warn=section.int("failed_login_warn", default.failed_login_warn, minimum=1),
        burst_warn=section.int("burst_warn", default.burst_warn, minimum=1),
        burst_window_s=section.int("burst_window_s", default.burst_window_s, minimum=1),
        admin_paths=section.strings("admin_paths", default.admin_paths),
        lynis=section.bool("lynis", default.lynis),
        lynis_report=path("lynis_report", default.lynis_report),  # type: ignore[arg-type]
    )
    section.done()
    unknown = [name for name in review.databases if name not in databases]
    if unknown:
        known = ", ".join(databases) or "(none configured)"
        raise ConfigError(
            f"{section.file}: security.databases: no database named {unknown[0]!r}; "
            f"expected one of {known}"
        )
    names = [log.name for log in review.access_logs]
    if len(set(names)) != len(names):
        raise ConfigError(f"{section.file}: security.access_logs: expected unique names")
    return review


def _access_log(s: Section, base: Path) -> AccessLog:
    log = AccessLog(
        name=s.name("name"),
        path=lexical(base / s.str("path")),
        format=s.choice("format", ACCESS_LOG_FORMATS),
    )
    s.done()
    return log
