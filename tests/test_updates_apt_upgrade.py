"""apt's upgrade on this host, simulated only (`-s`: nothing is installed): what `apt-get -s
upgrade` plans parses, and the approved pins of that plan are a command apt accepts and that
installs exactly those versions. Skipped where apt is not installed (not Debian or Ubuntu)."""

from __future__ import annotations

import shutil

import pytest

from upkeep.updates.apt_upgrade import (
    AptUpgradeError,
    install_pins,
    parse_simulated_upgrade,
    simulate_upgrade,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("apt-get") is None, reason="apt-get is not installed"),
]


def test_the_planned_pins_simulate_as_exactly_those_versions() -> None:
    steps = [s for s in simulate_upgrade().steps if s.current is not None][:3]
    if not steps:
        pytest.skip("apt has nothing to upgrade on this host")
    output = install_pins({s.name: s.version for s in steps}, simulate=True)
    simulated = parse_simulated_upgrade(output)
    assert {(s.name, s.current, s.version) for s in simulated.steps} >= {
        (s.name, s.current, s.version) for s in steps
    }


def test_a_pin_apt_does_not_know_fails_naming_it() -> None:
    with pytest.raises(AptUpgradeError, match="install --only-upgrade"):
        install_pins({"upkeep-no-such-package": "1.0"}, simulate=True)
