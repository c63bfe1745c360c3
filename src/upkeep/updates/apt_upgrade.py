"""Responsible for apt's upgrade, simulated and real: `apt-get -s upgrade` read into the packages
it would install (from which origin, a security one or not) and those it keeps back, and the
approved pins installed with `apt-get install --only-upgrade NAME=VERSION…`, which upgrades only
what is already installed and nothing else."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

__all__ = [
    "AptUpgradeError",
    "SimulatedUpgrade",
    "UpgradeStep",
    "install_pins",
    "parse_simulated_upgrade",
    "simulate_upgrade",
]

# Inst NAME [CURRENT] (VERSION ORIGIN[, ORIGIN…] [ARCH]) []   -- [CURRENT] absent for a new package
_INST = re.compile(
    r"^Inst (?P<name>\S+) (?:\[(?P<current>[^\]]*)\] )?"
    r"\((?P<version>\S+) (?P<origins>.*) \[(?P<arch>[^\]]+)\]\)"
)
_ENV = {"LC_ALL": "C", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive"}
_TAIL = 600


class AptUpgradeError(Exception):
    """apt-get could not simulate or run the upgrade."""


@dataclass(frozen=True)
class UpgradeStep:
    """One package apt would install: its version now (None: new), the new one, its origins."""

    name: str
    current: str | None
    version: str
    origins: tuple[str, ...]
    arch: str

    @property
    def security(self) -> bool:
        return any("-security" in origin or "Security" in origin for origin in self.origins)


@dataclass(frozen=True)
class SimulatedUpgrade:
    """What `apt-get -s upgrade` would do: the packages installed, and those kept back (their
    upgrade needs a new package or a removal: `apt-get dist-upgrade` by a person)."""

    steps: tuple[UpgradeStep, ...]
    kept_back: tuple[str, ...] = ()


def parse_simulated_upgrade(text: str) -> SimulatedUpgrade:
    """`apt-get -s upgrade`'s output read (LC_ALL=C); its `Conf` lines and notes skipped."""
    steps = []
    kept: list[str] = []
    in_kept = False
    for line in text.splitlines():
        if line.startswith("The following packages have been kept back"):
            in_kept = True
            continue
        if in_kept and line.startswith("  "):
            kept.extend(line.split())
            continue
        in_kept = False
        match = _INST.match(line)
        if match:
            origins = tuple(o.strip() for o in match["origins"].split(",") if o.strip())
            steps.append(
                UpgradeStep(
                    match["name"], match["current"], match["version"], origins, match["arch"]
                )
            )
    return SimulatedUpgrade(tuple(steps), tuple(sorted(kept)))


def simulate_upgrade(timeout_s: float = 120) -> SimulatedUpgrade:
    """What `apt-get upgrade` would do now (simulated: `-s` changes nothing and needs no root)."""
    done = _apt_get(["-s", "upgrade"], timeout_s)
    return parse_simulated_upgrade(done.stdout)


def install_pins(pins: dict[str, str], timeout_s: float = 1800, *, simulate: bool = False) -> str:
    """`apt-get install --only-upgrade -y NAME=VERSION…`: exactly the approved versions, of
    packages already installed (`simulate`: with `-s`, changing nothing). Returns apt's output;
    AptUpgradeError when it fails."""
    if not pins:
        return ""
    args = ["install", "--only-upgrade", "-y", *(f"{n}={v}" for n, v in sorted(pins.items()))]
    done = _apt_get(["-s", *args] if simulate else args, timeout_s)
    return (done.stdout + done.stderr).strip()


def _apt_get(args: list[str], timeout_s: float) -> subprocess.CompletedProcess[str]:
    if shutil.which("apt-get") is None:
        raise AptUpgradeError("apt-get is not installed: this is not a Debian or Ubuntu system")
    try:
        done = subprocess.run(
            ["apt-get", *args],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
            env=_ENV,
        )
    except subprocess.TimeoutExpired:
        raise AptUpgradeError(f"apt-get {' '.join(args)} ran over {timeout_s} s") from None
    if done.returncode != 0:
        raise AptUpgradeError(
            f"apt-get {' '.join(args[:3])} failed (exit {done.returncode}): "
            f"{done.stderr.strip()[-_TAIL:]}"
        )
    return done
