"""The security review's permission inventory on a real filesystem tree made in tmp: account
files, a sudoers file, homes with authorized_keys, a SUID file, a world-writable folder, a
listening socket; the baseline is byte-stable and every change appears as drift, by key."""

from __future__ import annotations

import json
import multiprocessing
import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from helpers.recorder import Recorder

from upkeep.config import Config, load_config
from upkeep.demo.security import demo_public_key
from upkeep.errors import ConfigError
from upkeep.procedures import security
from upkeep.security.baseline import dump_inventory, read_baseline, write_baseline
from upkeep.security.inventory import READ_LIMIT, listening_sockets


def make_host(root: Path) -> None:
    (root / "etc").mkdir(parents=True)
    (root / "etc/passwd").write_text(
        "root:x:0:0:root:/root:/bin/bash\nann:x:1000:1000::/home/ann:/bin/sh\n"
    )
    (root / "etc/group").write_text("root:x:0:\nsudo:x:27:ann\nann:x:1000:\n")
    (root / "etc/sudoers").write_text("# comment\nroot ALL=(ALL) ALL\n%sudo   ALL=(ALL)  ALL\n")
    ssh = root / "home/ann/.ssh"
    ssh.mkdir(parents=True)
    (ssh / "authorized_keys").write_text(demo_public_key("ann") + "\n")
    (root / "usr/bin").mkdir(parents=True)
    tool = root / "usr/bin/tool"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    (root / "usr/tmp").mkdir()
    (root / "usr/tmp").chmod(0o1777)  # temp: not reported


def write_config(root: Path, **security_extra: object) -> Path:
    settings = {
        "baseline": "baseline.yml",
        "passwd": "etc/passwd",
        "group": "etc/group",
        "sudoers": ["etc/sudoers"],
        "home_roots": ["home"],
        "suid_roots": ["usr"],
        "world_writable_roots": ["usr"],
        "temp_paths": ["usr/tmp"],
        "paths": ["etc/sudoers"],
        "listening": False,
        "lynis": False,
        **security_extra,
    }
    config = {"version": 1, "evidence_dir": "evidence", "state_dir": "state", "security": settings}
    path = root / "upkeep.yml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def host(tmp_path: Path) -> Path:
    make_host(tmp_path)
    write_config(tmp_path)
    return tmp_path


def test_two_runs_on_an_unchanged_host_give_the_same_bytes_and_no_drift(host: Path) -> None:
    config = load_config(host / "upkeep.yml")
    first = security.audit_permissions(config)
    write_baseline(config.security.baseline, first.inventory)
    written = config.security.baseline.read_bytes()
    second = security.audit_permissions(config)
    assert dump_inventory(second.inventory) == written
    assert second.drifts == ()
    assert read_baseline(config.security.baseline) == first.inventory
    # key order of the input does not change the bytes
    reordered = {
        part: dict(reversed(list(items.items())))
        for part, items in reversed(first.inventory.items())
    }
    assert dump_inventory(reordered) == written


def test_a_new_suid_file_sudoer_key_and_world_writable_folder_each_appear_as_drift(
    host: Path,
) -> None:
    config = load_config(host / "upkeep.yml")
    write_baseline(config.security.baseline, security.audit_permissions(config).inventory)

    (host / "usr/bin/tool").chmod(0o4755)
    with (host / "etc/sudoers").open("a") as sudoers:
        sudoers.write("mallory ALL=(ALL) NOPASSWD: ALL\n")
    with (host / "home/ann/.ssh/authorized_keys").open("a") as keys:
        keys.write(demo_public_key("intruder") + "\n")
    (host / "usr/share").mkdir()
    (host / "usr/share").chmod(0o777)
    (host / "etc/sudoers").chmod(0o666)

    found = {d.key: d for d in security.audit_permissions(config).drifts}
    assert found["drift:suid_sgid:usr/bin/tool"].change == "added"
    assert found["drift:suid_sgid:usr/bin/tool"].after.startswith("mode=4755")
    assert found["drift:sudoers:mallory ALL=(ALL) NOPASSWD: ALL"].change == "added"
    new_keys = [k for k in found if k.startswith("drift:authorized_keys:ann:ssh-ed25519:SHA256:")]
    assert len(new_keys) == 1 and found[new_keys[0]].after == "intruder@demo"
    assert found["drift:world_writable:usr/share"].change == "added"
    assert found["drift:paths:etc/sudoers"].change == "changed"
    assert found["drift:paths:etc/sudoers"].before.startswith("mode=0644")
    assert found["drift:paths:etc/sudoers"].after.startswith("mode=0666")
    assert not any("usr/tmp" in key for key in found)  # temp is left out
    assert len(found) == 5


def test_a_removed_admin_member_is_drift_and_symlinks_are_not_followed(host: Path) -> None:
    config = load_config(host / "upkeep.yml")
    write_baseline(config.security.baseline, security.audit_permissions(config).inventory)
    (host / "etc/group").write_text("root:x:0:\nsudo:x:27:\nann:x:1000:\n")
    outside = host.parent / f"{host.name}-outside"
    outside.mkdir()
    (outside / "suid").write_text("x")
    (outside / "suid").chmod(0o4755)
    (host / "usr/link").symlink_to(outside)
    found = {d.key: d for d in security.audit_permissions(config).drifts}
    assert found["drift:admin_members:sudo:ann"].change == "removed"
    assert found["drift:groups:sudo"].change == "changed"
    assert not any("suid" in key and "link" in key for key in found)


def _account_file(host: Path, kind: str) -> str:
    """A `security.passwd` path that names something other than an account file."""
    if kind == "missing":
        return "etc/passwd-typo"
    path = host / f"etc/passwd-{kind.replace('/', '-')}"
    if kind == "a directory":
        path.mkdir()
    elif kind == "empty":
        path.write_text("")
    elif kind == "a symlink loop":
        path.symlink_to(path)
    elif kind == "a FIFO":
        os.mkfifo(path)
    elif kind == "/dev/zero":
        path.symlink_to("/dev/zero")
    return str(path.relative_to(host))


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("missing", "does not exist (check its path)"),
        ("a directory", "a directory, not a regular file: not read"),
        ("empty", "empty: an account file holds at least root"),
        ("a symlink loop", "cannot be read: Too many levels of symbolic links"),
        ("a FIFO", "a FIFO, not a regular file: not read"),
        ("/dev/zero", "a character device, not a regular file: not read"),
    ],
)
def test_an_account_file_that_cannot_be_read_fails_the_inventory_and_removes_no_user(
    host: Path, kind: str, reason: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each read as "every user removed" (5 drifts, a warning); a FIFO held the run until the
    # runbook's timeout and /dev/zero was read until the kernel died.
    config = load_config(host / "upkeep.yml")
    write_baseline(config.security.baseline, security.audit_permissions(config).inventory)
    passwd = _account_file(host, kind)
    write_config(host, passwd=passwd)
    config = load_config(host / "upkeep.yml")
    audit = _audit_in_child(config)
    assert [str(file) for file in audit.unread] == [
        f"{config.security.passwd}: {reason} (users not compared)"
    ]
    assert audit.drifts == ()
    recorded = Recorder()
    monkeypatch.setattr(security, "report", recorded)
    security.record_permissions(audit, config)
    check = recorded.checks()["security:inventory"]
    assert check["status"] == "fail" and str(config.security.passwd) in check["message"]
    # an incomplete inventory is not kept: `baseline accept` cannot make it the baseline
    assert security.INVENTORY_METRIC not in recorded.metrics()
    assert not (config.state_dir / "security/inventories").exists()
    assert "1 file not read" in recorded.summaries()[0]


def test_a_sudoers_path_that_does_not_exist_holds_no_rule_on_a_host_without_sudo(
    host: Path,
) -> None:
    # The default sudoers paths are /etc/sudoers and /etc/sudoers.d: a host without sudo (most
    # containers) has neither, and its review failed every month for it.
    write_config(host, sudoers=["etc/no-sudoers", "etc/no-sudoers.d"])
    config = load_config(host / "upkeep.yml")

    audit = security.audit_permissions(config)

    assert audit.unread == ()
    assert audit.inventory["sudoers"] == {}


def _audit_in_child(config: Config) -> security.PermissionAudit:
    """The audit, in a forked child held to 2 GiB and 20 s: a read that never ends (a FIFO,
    /dev/zero) fails the test rather than hanging it or exhausting the machine's memory."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)

    def audit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2 * 2**30, 2 * 2**30))
        send.send(security.audit_permissions(config))

    child = context.Process(target=audit)
    child.start()
    send.close()
    try:
        assert receive.poll(20), "the audit did not finish within 20 s"
        try:
            return receive.recv()
        except EOFError:
            child.join(5)
            raise AssertionError(f"the audit died (exit code {child.exitcode})") from None
    finally:
        child.kill()  # the child this test forked, if it still runs
        child.join()


def test_a_sudoers_file_too_large_or_not_a_file_fails_the_inventory_not_read(host: Path) -> None:
    config = load_config(host / "upkeep.yml")
    write_baseline(config.security.baseline, security.audit_permissions(config).inventory)
    huge = host / "etc/sudoers-huge"
    with huge.open("wb") as out:
        out.write(b"mallory ALL=(ALL) ALL\n")
        out.truncate(READ_LIMIT + 10)
    (host / "etc/sudoers").unlink()
    (host / "etc/sudoers").symlink_to("/dev/zero")
    write_config(host, sudoers=["etc/sudoers", "etc/sudoers-huge"])
    audit = _audit_in_child(load_config(host / "upkeep.yml"))
    reasons = [file.reason for file in audit.unread]
    assert reasons == [
        "a character device, not a regular file: not read",
        "larger than 16 MiB: not read",
    ]
    assert audit.inventory["sudoers"] == {}
    assert [d for d in audit.drifts if d.part == "sudoers"] == []  # not "both rules removed"


def test_credentials_in_authorized_keys_options_are_masked_in_the_inventory_and_state(
    host: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `command="... --token=..."` and `environment="DB_PASSWORD=..."` reached run.json, the
    # report, the kept inventory and the site verbatim.
    key = demo_public_key("carol").rsplit(" ", 1)[0]
    line = (
        'command="/usr/local/bin/backup-push --token=SECRETTOKEN_AK99",'
        'environment="DB_PASSWORD=AkPass123xyz",from="10.0.0.0/8",no-pty '
        f"{key} carol@laptop"
    )
    (host / "home/ann/.ssh/authorized_keys").write_text(line + "\n")
    config = load_config(host / "upkeep.yml")
    recorded = Recorder()
    monkeypatch.setattr(security, "report", recorded)
    audit = security.audit_permissions(config)
    security.record_permissions(audit, config)
    (value,) = audit.inventory["authorized_keys"].values()
    assert value == (
        'command="/usr/local/bin/backup-push --token=«token»",'
        'environment="DB_PASSWORD=«value»",from="10.0.0.0/8",no-pty carol@laptop'
    )
    (kept,) = (config.state_dir / "security/inventories").iterdir()
    for text in (kept.read_text(), json.dumps(recorded.records)):
        assert "SECRETTOKEN_AK99" not in text and "AkPass123xyz" not in text


def test_a_baseline_holding_key_option_credentials_shows_no_drift_and_no_credential(
    host: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A baseline accepted before the masking holds the options verbatim: comparing it with the
    # masked inventory quoted the old value ("changed from command=... --token=SECRET ...").
    key = demo_public_key("carol").rsplit(" ", 1)[0]
    options = 'command="/bin/push --token=SECRETTOKEN_AK99",environment="DB_PASSWORD=AkPass123xyz"'
    (host / "home/ann/.ssh/authorized_keys").write_text(f"{options} {key} carol@laptop\n")
    config = load_config(host / "upkeep.yml")
    inventory = security.audit_permissions(config).inventory
    inventory["authorized_keys"] = {
        item: f"{options} carol@laptop" for item in inventory["authorized_keys"]
    }
    write_baseline(config.security.baseline, inventory)
    with (host / "home/ann/.ssh/authorized_keys").open("a") as keys:
        keys.write(f'environment="API_TOKEN=ghp_secret" {demo_public_key("dave")}\n')
    recorded = Recorder()
    monkeypatch.setattr(security, "report", recorded)
    audit = security.audit_permissions(config)
    security.record_permissions(audit, config)
    assert [d.change for d in audit.drifts] == ["added"]  # dave's key; carol's is unchanged
    assert "SECRETTOKEN_AK99" not in json.dumps(recorded.records)
    assert "ghp_secret" not in json.dumps(recorded.records)


def test_the_walk_is_bounded_and_says_so(host: Path) -> None:
    for index in range(5):
        (host / f"usr/bin/file{index}").write_text("x")
    write_config(host, max_files=3)
    audit = security.audit_permissions(load_config(host / "upkeep.yml"))
    assert any("stopped after 3 entries" in note for note in audit.notes)


def test_a_listening_socket_is_found_with_its_process() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        found = listening_sockets([])
    comm = Path(f"/proc/{os.getpid()}/comm").read_text().strip()
    assert comm in found[f"tcp:127.0.0.1:{port}"].split(",")
    assert f"tcp:127.0.0.1:{port}" not in listening_sockets([])


def test_a_jupyter_kernels_loopback_ports_are_left_out(tmp_path: Path) -> None:
    # Every security review saw its own kernel's five random ports as new drift: a real
    # ipykernel is started here and its ports must not be in the inventory; a plain socket is.
    connection = tmp_path / "kernel.json"
    kernel = subprocess.Popen(
        [sys.executable, "-m", "ipykernel_launcher", "-f", str(connection)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not connection.exists() or not connection.read_text().endswith("}"):
            assert time.monotonic() < deadline and kernel.poll() is None, "kernel did not start"
            time.sleep(0.1)
        info = json.loads(connection.read_text())
        ports = [info[f"{name}_port"] for name in ("shell", "iopub", "stdin", "control", "hb")]
        with socket.socket() as server:
            server.bind(("127.0.0.1", 0))
            server.listen()
            notes: list[str] = []
            while True:  # the kernel binds its ports right after writing the file
                listening = _listening_ports()
                if set(ports) <= listening or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            found = listening_sockets(notes)
            own = server.getsockname()[1]
        assert set(ports) <= listening, "the kernel never listened"
        assert not [key for key in found if int(key.rsplit(":", 1)[1]) in ports]
        assert f"tcp:127.0.0.1:{own}" in found
        assert any("of Jupyter kernels left out" in note for note in notes)
    finally:
        kernel.kill()  # only the kernel this test started, by its pid
        kernel.wait()


def _listening_ports() -> set[int]:
    """The ports of IPv4 TCP sockets in LISTEN state (0A), read from /proc as they stand."""
    rows = [row.split() for row in Path("/proc/net/tcp").read_text().splitlines()[1:]]
    return {int(row[1].rsplit(":", 1)[1], 16) for row in rows if row[3] == "0A"}


def test_record_permissions_grades_drift_and_applies_the_register_exceptions(
    host: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorded = Recorder()
    monkeypatch.setattr(security, "report", recorded)
    config = load_config(host / "upkeep.yml")
    security.record_permissions(security.audit_permissions(config), config)
    assert recorded.checks()["security:baseline"]["status"] == "warn"  # no baseline yet

    write_baseline(config.security.baseline, security.audit_permissions(config).inventory)
    (host / "usr/bin/tool").chmod(0o4755)
    (host / "risk-register.yml").write_text(
        yaml.safe_dump(
            {
                "drift": [
                    {
                        "key": "drift:suid_sgid:usr/bin/tool",
                        "reason": "vendor tool, ticket 12",
                        "owner": "ops-oncall",
                        "approved_by": "security-lead",
                        "expires": "2099-01-31",
                    },
                    {
                        "key": "drift:listening:tcp:0.0.0.0:1",
                        "reason": "gone",
                        "owner": "x",
                        "approved_by": "y",
                        "expires": "2099-01-31",
                    },
                ]
            }
        )
    )
    config = load_config(host / "upkeep.yml")
    recorded.records.clear()
    audit = security.audit_permissions(config)
    security.record_permissions(audit, config)
    checks, findings = recorded.checks(), recorded.findings()
    assert checks["security:drift"]["status"] == "ok"
    assert findings["drift:suid_sgid:usr/bin/tool"]["severity"] == "info"
    assert "ACCEPTED until 2099-01-31" in findings["drift:suid_sgid:usr/bin/tool"]["message"]
    assert checks["security:exceptions"]["status"] == "warn"  # the stale entry
    # the inventory is kept, named by the digest in the evidence, for `baseline accept`
    digest = recorded.metrics()[security.INVENTORY_METRIC]["labels"]["inventory"]
    assert (config.state_dir / security.inventory_state_path(digest)).exists()

    (host / "risk-register.yml").write_text(
        yaml.safe_dump(
            {
                "drift": [
                    {
                        "key": "drift:suid_sgid:usr/bin/tool",
                        "reason": "old",
                        "owner": "ops",
                        "approved_by": "sec",
                        "expires": "2020-01-31",
                    }
                ]
            }
        )
    )
    config = load_config(host / "upkeep.yml")
    recorded.records.clear()
    security.record_permissions(security.audit_permissions(config), config)
    assert recorded.checks()["security:drift"]["status"] == "warn"
    assert recorded.checks()["security:exceptions"]["status"] == "fail"
    assert recorded.findings()["drift:suid_sgid:usr/bin/tool"]["severity"] == "warn"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"max_files": 0}, "security.max_files: expected an integer >= 1"),
        ({"databases": ["nope"]}, "security.databases: no database named 'nope'"),
        (
            {"access_logs": [{"name": "a", "path": "x", "format": "csv"}]},
            "expected one of auth, web",
        ),
        ({"colour": "red"}, "security.colour: unknown key"),
    ],
)
def test_a_bad_security_section_is_refused_naming_the_key(
    host: Path, extra: dict, message: str
) -> None:
    write_config(host, **extra)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_config(host / "upkeep.yml")


def test_a_baseline_that_is_not_one_fails_the_check_and_the_run_goes_on(
    host: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorded = Recorder()
    monkeypatch.setattr(security, "report", recorded)
    (host / "baseline.yml").write_text("<<<<<<< HEAD\nversion: 1\n")
    config = load_config(host / "upkeep.yml")
    audit = security.audit_permissions(config)
    security.record_permissions(audit, config)
    check = recorded.checks()["security:baseline"]
    assert check["status"] == "fail" and "baseline.yml" in check["message"]
    assert "security:drift" not in recorded.checks()  # nothing to compare with: no verdict
