"""apt's upgradable list read from a recorded `apt list --upgradable` (Debian 12, with security
updates from `oldstable-security`), and the age of apt's lists."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from upkeep.updates.apt import (
    AptError,
    debsecan_packages,
    lists_age_seconds,
    parse_upgradable,
    upgradable,
)

DATA = Path(__file__).parent / "data" / "updates"


def test_a_recorded_bookworm_list() -> None:
    text = (DATA / "apt-upgradable-bookworm.txt").read_text()
    updates = parse_upgradable(text)
    assert len(updates) == len(text.splitlines()) - 1  # all but "Listing..."
    security = [u for u in updates if u.security]
    assert len(security) == sum("-security" in line for line in text.splitlines()) > 0
    apt = next(u for u in updates if u.name == "apt")
    assert (apt.current, apt.candidate, apt.arch, apt.suites) == (
        "2.6.1",
        "2.6.2",
        "amd64",
        ("oldstable-security",),
    )
    appstream = next(u for u in updates if u.name == "appstream")
    assert not appstream.security


def test_ubuntu_lines_with_several_suites_and_apt_warnings() -> None:
    text = (
        "\nWARNING: apt does not have a stable CLI interface. Use with caution in scripts.\n\n"
        "Listing... Done\n"
        "libc6/jammy-updates,jammy-security 2.35-0ubuntu3.8 amd64 "
        "[upgradable from: 2.35-0ubuntu3.7]\n"
        "tzdata/jammy-updates 2024a-0ubuntu0.22.04 all [upgradable from: 2023c-0ubuntu0.22.04]\n"
    )
    libc, tzdata = parse_upgradable(text)
    assert libc.security and libc.suites == ("jammy-updates", "jammy-security")
    assert not tzdata.security and tzdata.current == "2023c-0ubuntu0.22.04"


def test_the_age_of_apt_lists(tmp_path: Path) -> None:
    assert lists_age_seconds(tmp_path) is None  # apt-get update never ran
    old = tmp_path / "deb.debian.org_debian_dists_bookworm_InRelease"
    new = tmp_path / "deb.debian.org_debian-security_dists_bookworm-security_InRelease"
    for path, mtime in ((old, 1_000_000), (new, 1_500_000)):
        path.write_text("")
        os.utime(path, (mtime, mtime))
    assert lists_age_seconds(tmp_path, now=1_600_000) == 100_000  # the newest one counts


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("apt") is None, reason="not a Debian or Ubuntu system")
def test_apt_on_this_machine_agrees_with_its_own_output() -> None:
    text = subprocess.run(
        ["apt", "list", "--upgradable"], capture_output=True, text=True, check=True
    ).stdout
    assert upgradable() == parse_upgradable(text)


@pytest.mark.skipif(shutil.which("debsecan") is not None, reason="debsecan is installed here")
def test_debsecan_asked_for_but_missing_says_so() -> None:
    with pytest.raises(AptError, match="debsecan is not installed, but updates.debsecan_suite"):
        debsecan_packages("bookworm")
