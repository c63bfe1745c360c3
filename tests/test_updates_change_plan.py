"""The change plan's parts on recorded outputs: `apt-get -s upgrade` (a real one of 129 upgrades,
and one with a package kept back and libc6 upgraded), `needrestart -b`, the advisories a major
update fixes, and the plan's JSON, byte-stable and read back as it was written."""

from __future__ import annotations

from pathlib import Path

import pytest

from upkeep.updates.apt import parse_upgradable
from upkeep.updates.apt_upgrade import parse_simulated_upgrade
from upkeep.updates.change_plan import (
    ChangePlan,
    PythonChange,
    fixed_by,
    os_changes,
    python_changes,
    restart_needs,
)
from upkeep.updates.model import Update, UpdateKind, Vulnerability
from upkeep.updates.needrestart import parse_batch

DATA = Path(__file__).parent / "data" / "system_updates"


def _text(name: str) -> str:
    return (DATA / name).read_text()


def test_a_recorded_simulated_upgrade_agrees_with_apt_list_on_what_is_security() -> None:
    simulated = parse_simulated_upgrade(_text("apt-get-s-upgrade.txt"))
    listed = parse_upgradable(_text("apt-list-upgradable.txt"))
    assert len(simulated.steps) == 129 and simulated.kept_back == ()
    assert {s.name for s in simulated.steps} == {u.name for u in listed}
    assert {s.name for s in simulated.steps if s.security} == {u.name for u in listed if u.security}
    versions = {u.name: (u.current, u.candidate) for u in listed}
    assert all(versions[s.name] == (s.current, s.version) for s in simulated.steps)


def test_security_upgrades_come_first_and_kept_back_packages_are_named() -> None:
    simulated = parse_simulated_upgrade(_text("apt-get-s-upgrade-kernel.txt"))
    assert simulated.kept_back == ("linux-image-amd64",)
    changes = os_changes(simulated)
    assert [(c.name, c.security) for c in changes] == [
        ("libssl3", True),
        ("openssl", True),
        ("libc6", False),
        ("tzdata", False),
    ]
    openssl = changes[1]
    assert (openssl.current, openssl.version) == ("3.0.14-1~deb12u2", "3.0.15-1~deb12u1")
    assert openssl.origins == ("Debian:12.9/stable", "Debian-Security:12/stable-security")


def test_a_new_package_has_no_current_version() -> None:
    line = "Inst linux-image-6.1.0-28-amd64 (6.1.0-28 Debian-Security:12/stable-security [amd64])"
    [step] = parse_simulated_upgrade(line).steps
    assert (step.name, step.current, step.version, step.security) == (
        "linux-image-6.1.0-28-amd64",
        None,
        "6.1.0-28",
        True,
    )


def test_needrestart_batch_output_names_the_kernel_and_services() -> None:
    pending = parse_batch(_text("needrestart-b.txt"))
    assert pending.reboot and pending.kernel_running == "6.1.0-25-amd64"
    assert pending.services == ("cron.service", "ssh.service")
    assert pending.containers == ("LXC web1",) and pending.sessions == ("deploy @ session #4211",)
    current = parse_batch(_text("needrestart-b-current.txt"))
    assert not current.reboot and current.services == ()


def test_a_reboot_is_needed_for_libc6_or_an_outdated_kernel() -> None:
    changes = os_changes(parse_simulated_upgrade(_text("apt-get-s-upgrade-kernel.txt")))
    needs = restart_needs(changes, parse_batch(_text("needrestart-b.txt")))
    assert needs.reboot and needs.reboot_reasons[0] == "libc6 is upgraded"
    assert "6.1.0-25-amd64 is older than the installed 6.1.0-28-amd64" in needs.reboot_reasons[1]
    assert needs.services == ("cron.service", "ssh.service")
    quiet = restart_needs(changes[:2], parse_batch(_text("needrestart-b-current.txt")))
    assert not quiet.reboot and quiet.services == ()
    assert restart_needs(changes[:2], None).services is None  # unknown, not "none"


VULNS = (
    Vulnerability("Jinja2", "2.11.3", "GHSA-h5c8-rqwp-cp95", ("CVE-2024-22195",), ("3.1.3",)),
    Vulnerability("jinja2", "2.11.3", "GHSA-cpwx-vrp4-4pxq", ("CVE-2025-27516",), ("3.1.6",)),
    Vulnerability("jinja2", "2.10", "GHSA-old", (), ("2.11",)),  # another version in use
)


@pytest.mark.parametrize(
    ("latest", "fixes"),
    [
        (
            "3.1.6",
            ("CVE-2024-22195", "CVE-2025-27516", "GHSA-CPWX-VRP4-4PXQ", "GHSA-H5C8-RQWP-CP95"),
        ),
        ("3.1.4", ("CVE-2024-22195", "GHSA-H5C8-RQWP-CP95")),
        ("3.0.0", ()),
    ],
)
def test_a_major_update_lists_the_advisories_its_version_fixes(
    latest: str, fixes: tuple[str, ...]
) -> None:
    assert fixed_by(Update("jinja2", "2.11.3", latest, UpdateKind.MAJOR), VULNS) == fixes


def test_only_major_updates_are_planned_those_fixing_something_first() -> None:
    updates = [
        Update("attrs", "22.1.0", "25.1.0", UpdateKind.MAJOR),
        Update("jinja2", "2.11.3", "3.1.6", UpdateKind.MAJOR),
        Update("idna", "3.7", "3.10", UpdateKind.MINOR),
    ]
    planned = python_changes("app", updates, VULNS)
    assert [(p.package, p.version, bool(p.fixes)) for p in planned] == [
        ("jinja2", "3.1.6", True),
        ("attrs", "25.1.0", False),
    ]


def test_the_plan_is_byte_stable_and_reads_back_as_written() -> None:
    simulated = parse_simulated_upgrade(_text("apt-get-s-upgrade-kernel.txt"))
    changes = os_changes(simulated)
    plan = ChangePlan(
        run_id="20261201T030000Z-system-updates-7f3a",
        created_at="2026-12-01T03:00:00.000Z",
        os=changes,
        kept_back=simulated.kept_back,
        python=(PythonChange("app", "jinja2", "2.11.3", "3.1.6", ("CVE-2025-27516",)),),
        restarts=restart_needs(changes, parse_batch(_text("needrestart-b.txt"))),
        notes=("a note",),
    )
    data = plan.to_bytes()
    assert ChangePlan.from_bytes(data) == plan
    assert ChangePlan.from_bytes(data).to_bytes() == data
    with pytest.raises(ValueError, match="not a change plan"):
        ChangePlan.from_bytes(b'{"schema": 1}')
