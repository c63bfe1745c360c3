"""Responsible for the demo's security material, under `security/`: account files, a sudoers
file, a home with an authorized key, an auth log and a web access log of the hours before the
build, and the application database's `role_grants` table. All of it is fixed (no random
draws: the other demo data keeps its seed's values) and its modes are set explicitly, so that
the committed demo baseline (`demo/security/baseline.yml`) matches every build: the monthly
security review ends ok on its permissions and warns on the access logs' planted problems."""

from __future__ import annotations

import base64
import hashlib
import sqlite3
import struct
from datetime import datetime, timedelta
from pathlib import Path

__all__ = ["DEMO_FAILED_SOURCE", "demo_public_key", "write_security_files"]

DEMO_FAILED_SOURCE = "203.0.113.50"  # tries many users and passwords: a failed-logins finding
_BURST_SOURCE = "198.51.100.7"  # 30 answers 403 in a minute: a burst finding
_PASSWD = """root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
alice:x:1000:1000:Alice Admin:/home/alice:/bin/bash
bob:x:1001:1001:Bob Deploy:/home/bob:/bin/bash
app:x:998:998:application:/srv/app:/usr/sbin/nologin
"""
_GROUP = """root:x:0:
sudo:x:27:alice
alice:x:1000:
bob:x:1001:
app:x:998:bob
"""
_SUDOERS = """# demo sudoers
Defaults env_reset
root ALL=(ALL:ALL) ALL
%sudo ALL=(ALL:ALL) ALL
bob ALL=(app) NOPASSWD: /usr/bin/systemctl restart app
"""
_ROLE_GRANTS = (
    ("admin", "all", "*"),
    ("support", "read", "customers"),
    ("support", "read", "orders"),
    ("billing", "write", "orders"),
    ("analyst", "read", "orders"),
)


def demo_public_key(name: str) -> str:
    """A well-formed ssh-ed25519 public key (not anyone's), fixed for `name`."""
    kind = b"ssh-ed25519"
    blob = struct.pack(">I", len(kind)) + kind + struct.pack(">I", 32)
    blob += hashlib.sha256(name.encode()).digest()
    return f"ssh-ed25519 {base64.b64encode(blob).decode()} {name}@demo"


def _write(path: Path, text: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)


def write_security_files(root: Path, now: datetime) -> None:
    """Write `root/security/` and add `role_grants` to `root/app.db`."""
    base = root / "security"
    _write(base / "etc" / "passwd", _PASSWD, 0o644)
    _write(base / "etc" / "group", _GROUP, 0o644)
    _write(base / "etc" / "sudoers", _SUDOERS, 0o440)
    _write(
        base / "home" / "alice" / ".ssh" / "authorized_keys", demo_public_key("alice") + "\n", 0o600
    )
    for folder in (base / "home" / "alice" / ".ssh", base / "home" / "alice", base / "home"):
        folder.chmod(0o700 if folder.name == ".ssh" else 0o755)
    for folder in (base / "etc", base):
        folder.chmod(0o755)
    _write(base / "log" / "auth.log", _auth_log(now), 0o640)
    _write(base / "log" / "access.log", _access_log(now), 0o640)
    base.joinpath("log").chmod(0o755)
    with sqlite3.connect(root / "app.db") as db:
        db.execute(
            "CREATE TABLE role_grants (role TEXT NOT NULL, privilege TEXT NOT NULL, "
            "object TEXT NOT NULL, PRIMARY KEY (role, privilege, object))"
        )
        db.executemany("INSERT INTO role_grants VALUES (?, ?, ?)", _ROLE_GRANTS)
    db.close()


def _syslog(moment: datetime, text: str) -> str:
    return f"{moment:%b} {moment.day:2d} {moment:%H:%M:%S} demo {text}"


def _auth_log(now: datetime) -> str:
    start = now - timedelta(hours=3)
    fingerprint = _fingerprint(demo_public_key("alice"))
    lines = [
        _syslog(
            start,
            f"sshd[811]: Accepted publickey for alice from 192.0.2.10 port 50122 ssh2: "
            f"ED25519 {fingerprint}",
        ),
        _syslog(
            start + timedelta(seconds=5),
            "sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; "
            "USER=root ; COMMAND=/usr/bin/systemctl status app",
        ),
    ]
    for index, user in enumerate(("root", "admin", "test", "oracle", "ubuntu", "git") * 2):
        moment = start + timedelta(minutes=10, seconds=index * 7)
        invalid = "" if user == "root" else "invalid user "
        lines.append(
            _syslog(
                moment,
                f"sshd[{900 + index}]: Failed password for {invalid}{user} "
                f"from {DEMO_FAILED_SOURCE} port {40000 + index} ssh2",
            )
        )
    lines.append(
        _syslog(
            start + timedelta(hours=1),
            "sshd[990]: Failed password for bob from 192.0.2.11 port 50200 ssh2",
        )
    )
    lines.append(
        _syslog(
            start + timedelta(hours=1, seconds=20),
            "sshd[991]: Accepted password for bob from 192.0.2.11 port 50201 ssh2",
        )
    )
    return "\n".join(lines) + "\n"


def _fingerprint(public_key: str) -> str:
    blob = base64.b64decode(public_key.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def _clf(moment: datetime, source: str, request: str, status: int) -> str:
    return (
        f'{source} - - [{moment:%d/%b/%Y:%H:%M:%S} +0000] "{request} HTTP/1.1" {status} 512 '
        '"-" "demo-client/1.0"'
    )


def _access_log(now: datetime) -> str:
    start = now - timedelta(hours=2)
    lines = [
        _clf(start + timedelta(seconds=i * 30), "192.0.2.20", "GET /orders", 200) for i in range(20)
    ]
    lines += [
        _clf(start + timedelta(minutes=30, seconds=i * 2), _BURST_SOURCE, "GET /api/orders", 403)
        for i in range(30)
    ]
    lines.append(_clf(start + timedelta(minutes=40), _BURST_SOURCE, "GET /wp-admin/setup.php", 404))
    lines.append(_clf(start + timedelta(minutes=41), "192.0.2.20", "GET /health", 200))
    return "\n".join(lines) + "\n"
