"""Responsible for the OS side of the dependency review on Debian and Ubuntu: the packages apt
can upgrade (`apt list --upgradable`, read line by line), which of them come from a security
suite (`bookworm-security`, `jammy-security`), how old apt's package lists are (an old list
hides new updates), and debsecan's list of packages with fixed vulnerabilities when it is
installed."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "AptError",
    "OsUpdate",
    "debsecan_packages",
    "lists_age_seconds",
    "parse_upgradable",
    "upgradable",
]

APT_LISTS = Path("/var/lib/apt/lists")
# name/suite[,suite…] version arch [upgradable from: version]
_LINE = re.compile(
    r"^(?P<name>[^/\s]+)/(?P<suites>\S+)\s+(?P<version>\S+)\s+(?P<arch>\S+)\s+"
    r"\[upgradable from: (?P<current>[^\]]+)\]"
)
_STDERR_TAIL = 600


class AptError(Exception):
    """apt or debsecan could not say what is upgradable."""


@dataclass(frozen=True)
class OsUpdate:
    """A package apt can upgrade, from which suites, and whether one is a security suite."""

    name: str
    current: str
    candidate: str
    arch: str
    suites: tuple[str, ...]

    @property
    def security(self) -> bool:
        return any(suite.endswith("-security") for suite in self.suites)


def parse_upgradable(text: str) -> list[OsUpdate]:
    """The packages in `apt list --upgradable`'s output; its header and warnings are skipped."""
    updates = []
    for line in text.splitlines():
        match = _LINE.match(line.strip())
        if match:
            updates.append(
                OsUpdate(
                    match["name"],
                    match["current"].strip(),
                    match["version"],
                    match["arch"],
                    tuple(match["suites"].split(",")),
                )
            )
    return updates


def upgradable(timeout_s: float = 120) -> list[OsUpdate]:
    """What apt can upgrade now, from its package lists as they are (this never updates them:
    that is `apt-get update`'s job, and needs the network)."""
    if shutil.which("apt") is None:
        raise AptError("apt is not installed: this is not a Debian or Ubuntu system")
    done = subprocess.run(
        ["apt", "list", "--upgradable"],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
        env={"LC_ALL": "C", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
    )
    if done.returncode != 0:
        raise AptError(f"apt list --upgradable failed: {done.stderr.strip()[-_STDERR_TAIL:]}")
    return parse_upgradable(done.stdout)


def lists_age_seconds(lists: Path = APT_LISTS, now: float | None = None) -> float | None:
    """Seconds since apt's package lists were last fetched (the newest Release file); None
    when there are none."""
    releases = [*lists.glob("*_InRelease"), *lists.glob("*_Release")]
    if not releases:
        return None
    newest = max(path.stat().st_mtime for path in releases)
    return max(0.0, (time.time() if now is None else now) - newest)


def debsecan_packages(suite: str, timeout_s: float = 120) -> list[str]:
    """The installed packages debsecan says have a fixed vulnerability in `suite`. debsecan
    fetches the Debian security tracker's data: without it, AptError naming it."""
    if shutil.which("debsecan") is None:
        raise AptError(
            "debsecan is not installed, but updates.debsecan_suite asks for it: "
            "apt-get install debsecan, or remove the setting"
        )
    done = subprocess.run(
        ["debsecan", "--suite", suite, "--only-fixed", "--format", "packages"],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if done.returncode != 0:
        raise AptError(
            "debsecan could not read the Debian security tracker: "
            f"{done.stderr.strip()[-_STDERR_TAIL:]}"
        )
    return sorted({line.strip() for line in done.stdout.splitlines() if line.strip()})
