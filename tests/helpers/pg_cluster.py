"""Responsible for a throwaway PostgreSQL cluster for tests and benchmarks.

`initdb` + `pg_ctl` in a fresh temp dir on a free loopback port, run as the `postgres` system
user when we are root (the server refuses to run as root). Local socket connections trust the
superuser, so the tests can set up data; TCP connections need a password (scram-sha-256), so the
test role's password really travels through upkeep's secret reference and PGPASSFILE path.

Tests use the session fixture: `from pg_cluster import postgres_server`. Under CI=true a server
that cannot be started fails the test; elsewhere the test is skipped with the reason.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from upkeep.config import Database

SERVER_USER = "postgres"
TEST_ROLE = "upkeep_test"
START_ATTEMPTS = 3
# Durability is irrelevant for a throwaway cluster; this makes setup and bulk loads fast.
SERVER_OPTIONS = (
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
    "-c listen_addresses=127.0.0.1 -c max_connections=30"
)


class ClusterUnavailable(Exception):
    """No PostgreSQL server could be started here; the message says why."""


@dataclass(frozen=True)
class PostgresServer:
    """A running throwaway cluster: a superuser over the socket, a password role over TCP."""

    root: Path
    bin_dir: Path
    port: int
    host: str = "127.0.0.1"
    role: str = TEST_ROLE
    dbname: str = TEST_ROLE

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root

    @property
    def password_file(self) -> Path:
        """Holds the test role's password; `file:` + this path is its secret reference."""
        return self.root / "role-password"

    @property
    def password(self) -> str:
        return self.password_file.read_text().strip()

    def database(self, dbname: str | None = None, name: str = "pg") -> Database:
        """The config entry upkeep would read for `dbname`, password as a `file:` reference."""
        return Database(
            name=name,
            engine="postgresql",
            host=self.host,
            port=self.port,
            dbname=dbname or self.dbname,
            user=self.role,
            password=f"file:{self.password_file}",
        )

    def superuser_database(self, dbname: str | None = None, name: str = "pg") -> Database:
        """The config entry of a backup role that is a superuser: the server's own, over the
        socket (no password)."""
        return Database(
            name=name,
            engine="postgresql",
            host=str(self.socket_dir),
            port=self.port,
            dbname=dbname or self.dbname,
            user=SERVER_USER,
        )

    def psql(self, sql: str, dbname: str | None = None) -> str:
        """Run `sql` as the superuser over the socket; return unaligned, tuples-only output."""
        proc = subprocess.run(
            [
                str(self.bin_dir / "psql"),
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                str(self.socket_dir),
                "-p",
                str(self.port),
                "-U",
                SERVER_USER,
                "-d",
                dbname or self.dbname,
            ],
            input=sql,
            capture_output=True,
            text=True,
            env=_client_env(),
        )
        if proc.returncode != 0:
            raise RuntimeError(f"psql failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc.stdout.strip()

    def create_database(self, dbname: str) -> None:
        self.psql(f'CREATE DATABASE "{dbname}" OWNER "{self.role}"', dbname="postgres")

    def drop_database(self, dbname: str) -> None:
        self.psql(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)', dbname="postgres")

    def databases(self) -> set[str]:
        return set(self.psql("SELECT datname FROM pg_database", dbname="postgres").split())


def _client_env() -> dict[str, str]:
    """Our environment without libpq settings that could point a client somewhere else."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}


def find_bin_dir() -> Path:
    """The directory of `initdb` and `pg_ctl`: $UPKEEP_PG_BIN, Debian's 15, or the PATH."""
    candidates = [os.environ.get("UPKEEP_PG_BIN"), "/usr/lib/postgresql/15/bin"]
    which = shutil.which("pg_ctl")
    if which:
        candidates.append(str(Path(which).resolve().parent))
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").is_file():
            return Path(candidate)
    raise ClusterUnavailable(
        "no PostgreSQL server binaries (initdb, pg_ctl) found: set UPKEEP_PG_BIN or install "
        "PostgreSQL 15 (apt-get install postgresql-15)"
    )


def _as_server_user(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise ClusterUnavailable(
            f"running as root and there is no {SERVER_USER!r} system user to run the server as"
        ) from None
    return ["runuser", "-u", SERVER_USER, "--", *cmd]


def _run(cmd: list[str], cwd: Path, what: str) -> None:
    try:
        proc = subprocess.run(
            _as_server_user(cmd), cwd=cwd, capture_output=True, text=True, env=_client_env()
        )
    except OSError as exc:
        raise ClusterUnavailable(f"{what}: cannot run {cmd[0]}: {exc}") from exc
    if proc.returncode != 0:
        raise ClusterUnavailable(
            f"{what} failed ({proc.returncode}): {(proc.stderr or proc.stdout).strip()[-2000:]}"
        )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _give_to_server_user(path: Path) -> None:
    if os.geteuid() == 0:
        entry = pwd.getpwnam(SERVER_USER)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def start_cluster() -> PostgresServer:
    """initdb and start a cluster in a new temp dir; create the password role and its database."""
    bin_dir = find_bin_dir()
    # Not under pytest's tmp dirs: those are 0700 root and the server user could not enter them.
    root = Path(tempfile.mkdtemp(prefix="upkeep-pg-"))
    try:
        _give_to_server_user(root)
        _run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(root / "data"),
                "-U",
                SERVER_USER,
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
            root,
            "initdb",
        )
        server = _start_on_free_port(root, bin_dir)
        password = secrets.token_urlsafe(18)
        server.password_file.write_text(password + "\n")
        server.password_file.chmod(0o600)
        server.psql(
            f"CREATE ROLE {TEST_ROLE} LOGIN CREATEDB PASSWORD '{password}'", dbname="postgres"
        )
        server.create_database(server.dbname)
        return server
    except BaseException:
        stop_cluster(root, bin_dir)
        raise


def _start_on_free_port(root: Path, bin_dir: Path) -> PostgresServer:
    # A free port can be taken between our probe and the server's bind: try a few.
    error: ClusterUnavailable | None = None
    for _ in range(START_ATTEMPTS):
        port = free_port()
        try:
            _run(
                [
                    str(bin_dir / "pg_ctl"),
                    "-D",
                    str(root / "data"),
                    "-l",
                    str(root / "server.log"),
                    "-w",
                    "-t",
                    "60",
                    "-o",
                    f"-p {port} -k {root} {SERVER_OPTIONS}",
                    "start",
                ],
                root,
                "pg_ctl start",
            )
        except ClusterUnavailable as exc:
            log = root / "server.log"
            error = ClusterUnavailable(f"{exc}\n{log.read_text()[-2000:] if log.exists() else ''}")
            continue
        return PostgresServer(root=root, bin_dir=bin_dir, port=port)
    assert error is not None
    raise error


def stop_cluster(root: Path, bin_dir: Path) -> None:
    """Stop the server (immediately: its data is thrown away) and remove its directory."""
    if (root / "data" / "postmaster.pid").exists():
        subprocess.run(
            _as_server_user(
                [str(bin_dir / "pg_ctl"), "-D", str(root / "data"), "-m", "immediate", "stop"]
            ),
            cwd=root,
            capture_output=True,
            env=_client_env(),
        )
    shutil.rmtree(root, ignore_errors=True)


@contextmanager
def throwaway_cluster() -> Iterator[PostgresServer]:
    server = start_cluster()
    try:
        yield server
    finally:
        stop_cluster(server.root, server.bin_dir)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A running PostgreSQL cluster for the whole test session (skip, or under CI fail, if none)."""
    try:
        server = start_cluster()
    except ClusterUnavailable as exc:
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(f"PostgreSQL is required under CI=true: {exc}", pytrace=False)
        pytest.skip(f"no PostgreSQL server: {exc}")
    try:
        yield server
    finally:
        stop_cluster(server.root, server.bin_dir)
