"""Responsible for building the embedded demo system.

`build_demo` writes, under `config.demo.root`:

- `app.db`: a SQLite application database (customers, orders, users, roles, user_roles, sessions,
  audit_log) with the deliberate defects listed in `DEFECTS`, each found by a health script under
  `scripts/db-health/sqlite/`;
- `logs/app.log` and `logs/worker.log`: timestamped logs whose error and warning lines are counted
  in `LOG_ERRORS` / `LOG_WARNINGS` (between the shipped `log_errors` thresholds: the log checks
  warn, they do not fail);
- `tmp/` and `cache/`: trees of old and fresh files (see `OLD_FILES`);
- `demo.json`: the marker written last, so a half-built demo is never mistaken for a built one.

The data comes from a fixed seed, with timestamps relative to the build time: the stale-record
counts in `DEFECTS` are exact for `EXACT_FOR_DAYS` days after a build (`upkeep demo --force`
renews them).
`DemoService` runs the demo's HTTP health service (`upkeep.demo_service`) for a `with` block.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import IO

from filelock import FileLock

from upkeep import demo_service
from upkeep.config import Config, DemoSettings
from upkeep.errors import UpkeepError
from upkeep.sql import load_sql

DEMO_VERSION = 1
MARKER = "demo.json"
SEED = 20251116
EXACT_FOR_DAYS = 60
OLD_FILE_AGE_DAYS = 30
DEMO_HOST = "127.0.0.1"


@dataclass(frozen=True)
class Defect:
    """A deliberate problem in app.db: its finding key, what it is, how many rows have it, and the
    health script (a name under `scripts/`) that selects exactly those rows."""

    key: str
    description: str
    count: int
    script: str

    @property
    def query(self) -> str:
        """The health script's query, without its header comment."""
        return load_sql(self.script).query


DEFECTS: tuple[Defect, ...] = (
    Defect(
        "orphans:orders.customer_id",
        "orders referencing a customer that does not exist",
        12,
        "db-health/sqlite/orphaned-orders.sql",
    ),
    Defect(
        "orphans:user_roles.user_id",
        "role grants for a user that does not exist",
        3,
        "db-health/sqlite/orphaned-role-grants.sql",
    ),
    Defect(
        "stale:users.last_login_at",
        "users who have not logged in for more than 365 days",
        7,
        "db-health/sqlite/stale-users.sql",
    ),
    Defect(
        "stale:users.admin",
        "admin accounts unused for more than 365 days",
        2,
        "db-health/sqlite/stale-admin-accounts.sql",
    ),
    Defect(
        "stale:orders.pending",
        "pending orders untouched for more than 90 days",
        9,
        "db-health/sqlite/stale-pending-orders.sql",
    ),
    Defect(
        "stale:sessions.last_seen_at",
        "sessions idle for more than 90 days",
        15,
        "db-health/sqlite/stale-sessions.sql",
    ),
)

# Error/warning lines per log, as the default patterns of `LogSource` count them.
LOG_ERRORS = {"app": 14, "worker": 0}
LOG_WARNINGS = {"app": 9, "worker": 9}
# Distinct error messages in app.log once numbers, ids, IPs and quoted strings are masked.
LOG_ERROR_GROUPS = {"app": 4, "worker": 0}
# Files older than OLD_FILE_AGE_DAYS, per tree; the rest are at most 2 days old.
OLD_FILES = {"tmp": 26, "cache": 20}
FRESH_FILES = {"tmp": 14, "cache": 20}

SCHEMA = """
CREATE TABLE customers (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL
);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id),
    status TEXT NOT NULL CHECK (status IN ('pending', 'paid', 'shipped', 'cancelled')),
    total_cents INTEGER NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE INDEX orders_customer_id ON orders(customer_id);
CREATE TABLE users (
    id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE, email TEXT NOT NULL,
    created_at TEXT NOT NULL, last_login_at TEXT
);
CREATE TABLE roles (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, description TEXT NOT NULL);
CREATE TABLE user_roles (
    user_id INTEGER NOT NULL REFERENCES users(id), role_id INTEGER NOT NULL REFERENCES roles(id),
    granted_at TEXT NOT NULL, PRIMARY KEY (user_id, role_id)
);
CREATE TABLE sessions (
    id TEXT PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL, last_seen_at TEXT NOT NULL
);
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, user_id INTEGER REFERENCES users(id),
    action TEXT NOT NULL, target TEXT NOT NULL, detail TEXT NOT NULL
);
"""

FIRST_NAMES = (
    "Ada",
    "Ben",
    "Chloe",
    "Dmitri",
    "Elena",
    "Farid",
    "Grace",
    "Hiro",
    "Ines",
    "Jonas",
    "Kemi",
    "Luca",
    "Maya",
    "Nils",
    "Olga",
    "Priya",
    "Quinn",
    "Rosa",
    "Sven",
    "Tariq",
)
LAST_NAMES = (
    "Novak",
    "Okafor",
    "Lindqvist",
    "Moreau",
    "Tanaka",
    "Silva",
    "Kowalski",
    "Haddad",
    "Brennan",
    "Rossi",
    "Schmidt",
    "Nguyen",
    "Petrov",
    "Costa",
    "Fischer",
    "Larsen",
)
ROLES = (
    ("admin", "full access"),
    ("support", "read customers and orders, refund"),
    ("analyst", "read-only reporting"),
    ("billing", "manage invoices and payments"),
)


class DemoError(UpkeepError):
    """The demo system cannot be built or its service cannot be started."""


def demo_settings(config: Config) -> DemoSettings:
    if config.demo is None:
        raise DemoError(f"{config.path}: no `demo:` section, so there is no demo system to use")
    return config.demo


def demo_is_built(config: Config) -> bool:
    """True when the demo root holds a complete demo of the current version."""
    marker = demo_settings(config).root / MARKER
    try:
        return json.loads(marker.read_text(encoding="utf-8")).get("version") == DEMO_VERSION
    except (OSError, ValueError, AttributeError):
        return False


def build_demo(config: Config, *, force: bool = False) -> Path:
    """Build the demo under `config.demo.root` unless it is already built; return the root.

    The demo is built in a sibling directory and renamed into place, under a lock: a killed build
    leaves either the previous demo or none, never half of one.
    """
    root = demo_settings(config).root
    root.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root.parent / f".{root.name}.lock")):
        if demo_is_built(config) and not force:
            return root
        _remove_leftovers(root)
        staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.building-", dir=root.parent))
        try:
            _build_into(staging, datetime.now(UTC).replace(microsecond=0))
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        staging.chmod(0o755)  # mkdtemp makes it private; the demo is an ordinary directory
        _swap_into_place(staging, root)
    return root


def _remove_leftovers(root: Path) -> None:
    """Delete staging and retired directories left by a build that was killed (we hold the lock)."""
    for pattern in (f".{root.name}.building-*", f".{root.name}.old-*"):
        for path in root.parent.glob(pattern):
            shutil.rmtree(path, ignore_errors=True)


def _swap_into_place(staging: Path, root: Path) -> None:
    retired = None
    if root.exists():
        retired = root.parent / f".{root.name}.old-{os.getpid()}"
        os.rename(root, retired)
    os.rename(staging, root)
    if retired is not None:
        shutil.rmtree(retired, ignore_errors=True)


def _build_into(root: Path, now: datetime) -> None:
    rng = random.Random(SEED)
    _build_database(root / "app.db", rng, now)
    (root / "logs").mkdir()
    _write_lines(root / "logs" / "app.log", _app_log(rng, now))
    _write_lines(root / "logs" / "worker.log", _worker_log(rng, now))
    _build_file_trees(root, rng, now)
    marker = {
        "version": DEMO_VERSION,
        "built_at": now.isoformat(),
        "seed": SEED,
        "defects": {d.key: d.count for d in DEFECTS},
    }
    (root / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")


def _ts(moment: datetime) -> str:
    """SQLite's own datetime format, so `datetime('now', '-90 days')` compares correctly."""
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _ago(now: datetime, rng: random.Random, low_days: float, high_days: float) -> str:
    return _ts(now - timedelta(days=rng.uniform(low_days, high_days)))


# ---------------------------------------------------------------- database


def _build_database(path: Path, rng: random.Random, now: datetime) -> None:
    db = sqlite3.connect(path)
    try:
        # Foreign keys stay unenforced (SQLite's default), as in the system the demo imitates:
        # that is how the orphaned rows below got in.
        db.executescript(SCHEMA)
        _insert_customers_and_orders(db, rng, now)
        _insert_users_and_roles(db, rng, now)
        _insert_sessions_and_audit(db, rng, now)
        db.commit()
    finally:
        db.close()


def _person(rng: random.Random) -> tuple[str, str]:
    return rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)


def _insert_customers_and_orders(db: sqlite3.Connection, rng: random.Random, now: datetime) -> None:
    customers = []
    for cid in range(1, 241):
        first, last = _person(rng)
        customers.append(
            (
                cid,
                f"{first} {last}",
                f"{first}.{last}.{cid}@example.com".lower(),
                _ago(now, rng, 200, 1500),
            )
        )
    db.executemany("INSERT INTO customers VALUES (?, ?, ?, ?)", customers)
    orders = []
    for oid in range(1, 401):
        status = rng.choice(("paid", "shipped", "shipped", "cancelled", "pending"))
        created = _ago(now, rng, 0, 30) if status == "pending" else _ago(now, rng, 0, 700)
        total = rng.randint(500, 250_000)
        orders.append([oid, rng.randint(1, 240), status, total, created, created])
    # Stale: pending orders nobody touched for a quarter or more.
    for order in rng.sample([o for o in orders if o[2] != "pending"], 9):
        order[2] = "pending"
        order[4] = order[5] = _ago(now, rng, 95, 400)
    # Orphans: customers deleted by hand years ago, their orders left behind.
    for order, missing_id in zip(rng.sample(orders, 12), range(5001, 5013), strict=True):
        order[1] = missing_id
    db.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?)", orders)


def _insert_users_and_roles(db: sqlite3.Connection, rng: random.Random, now: datetime) -> None:
    users = []
    for uid in range(1, 121):
        first, last = _person(rng)
        users.append(
            [
                uid,
                f"{first[0]}{last}{uid}".lower(),
                f"{first}.{last}@corp.example".lower(),
                _ago(now, rng, 400, 1800),
                _ago(now, rng, 0, 180),
            ]
        )
    stale = rng.sample(range(120), 7)
    for index in stale:
        users[index][4] = _ago(now, rng, 400, 900)
    db.executemany("INSERT INTO users VALUES (?, ?, ?, ?, ?)", users)
    db.executemany("INSERT INTO roles (name, description) VALUES (?, ?)", ROLES)
    role_ids = dict(db.execute("SELECT name, id FROM roles"))
    grants: set[tuple[int, int]] = set()
    stale_ids = [users[i][0] for i in stale]
    active_ids = [u[0] for u in users if u[0] not in stale_ids]
    # Exactly two stale admins; the other admins are active.
    for uid in stale_ids[:2] + rng.sample(active_ids, 4):
        grants.add((uid, role_ids["admin"]))
    for uid in [u[0] for u in users]:
        if rng.random() < 0.85:
            grants.add((uid, role_ids[rng.choice(("support", "analyst", "billing"))]))
    for uid in (9001, 9002, 9003):  # users deleted without revoking their grants
        grants.add((uid, role_ids[rng.choice(("support", "billing"))]))
    db.executemany(
        "INSERT INTO user_roles VALUES (?, ?, ?)",
        [(u, r, _ago(now, rng, 30, 900)) for u, r in sorted(grants)],
    )


def _insert_sessions_and_audit(db: sqlite3.Connection, rng: random.Random, now: datetime) -> None:
    sessions = []
    for n in range(300):
        idle = rng.uniform(95, 500) if n < 15 else rng.uniform(0, 14)
        seen = now - timedelta(days=idle)
        sessions.append(
            (
                f"{rng.getrandbits(128):032x}",
                rng.randint(1, 120),
                _ts(seen - timedelta(hours=rng.uniform(0, 48))),
                _ts(seen),
            )
        )
    db.executemany("INSERT INTO sessions VALUES (?, ?, ?, ?)", sessions)
    actions = (
        ("login", "user"),
        ("update", "order"),
        ("refund", "order"),
        ("export", "report"),
        ("grant_role", "user"),
        ("delete", "customer"),
    )
    rows = []
    for n in range(1, 501):
        action, kind = rng.choice(actions)
        target = f"{kind}:{rng.randint(1, 400)}"
        detail = json.dumps({"ip": f"10.0.{rng.randint(0, 9)}.{rng.randint(2, 250)}"})
        rows.append((n, _ago(now, rng, 0, 365), rng.randint(1, 120), action, target, detail))
    rows.sort(key=lambda row: row[1])
    db.executemany(
        "INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?)",
        [(n, *row[1:]) for n, row in enumerate(rows, 1)],
    )


# ---------------------------------------------------------------- logs


def _write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def _log_times(rng: random.Random, now: datetime, count: int) -> Iterator[datetime]:
    """`count` increasing moments spread over the 24 hours before `now`."""
    offsets = sorted(rng.uniform(0, 86_400) for _ in range(count))
    for offset in offsets:
        yield now - timedelta(seconds=86_400 - offset)


def _stamp(moment: datetime, level: str, text: str) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S},{moment.microsecond // 1000:03d} {level:<7} {text}"


def _app_errors(rng: random.Random) -> list[list[str]]:
    """The 14 error events of app.log (4 message groups); an event may span several lines."""
    events = [
        [f"[web.orders] timeout after {31 + n}s for id {rng.randint(1, 999)}"] for n in range(6)
    ]
    for table in ("orders", "audit_log", "sessions"):
        events.append(
            [
                f"[web.db] database is locked while running 'UPDATE {table} SET"
                f" updated_at = ? WHERE id = {rng.randint(1, 400)}'"
            ]
        )
    for _ in range(3):
        events.append(
            [
                f"[web.payments] payment gateway 10.0.3.{rng.randint(2, 40)}:443 refused"
                f" connection (request {rng.getrandbits(40):010x})"
            ]
        )
    for _ in range(2):
        request = "-".join(f"{rng.getrandbits(b * 4):0{b}x}" for b in (8, 4, 4, 4, 12))
        events.append(
            [
                f"[web] unhandled exception in request {request}: KeyError: 'customer_id'",
                "Traceback (most recent call last):",
                '  File "/srv/app/web/orders.py", line 88, in show_order',
                "    customer = customers[order['customer_id']]",
                "KeyError: 'customer_id'",
            ]
        )
    return events


def _app_warnings(rng: random.Random) -> list[list[str]]:
    events = [
        [
            f"[web.db] slow query took {rng.randint(1200, 4800)}ms: SELECT * FROM orders"
            f" WHERE customer_id = {rng.randint(1, 240)}"
        ]
        for _ in range(5)
    ]
    for name in ("bob", "root", "admin", "bob"):
        events.append(
            [
                f"[web.auth] failed login for user '{name}' from"
                f" 192.168.{rng.randint(0, 3)}.{rng.randint(2, 250)}"
            ]
        )
    return events


def _app_log(rng: random.Random, now: datetime) -> list[str]:
    routine = []
    for _ in range(1200):
        method, route = rng.choice(
            (
                ("GET", "/orders/{n}"),
                ("GET", "/customers/{n}"),
                ("POST", "/orders"),
                ("GET", "/health"),
                ("GET", "/search"),
            )
        )
        path = route.format(n=rng.randint(1, 400))
        routine.append(("INFO", [f"[web] {method} {path} 200 {rng.randint(2, 180)}ms"]))
        if rng.random() < 0.25:
            routine.append(
                (
                    "DEBUG",
                    [
                        f"[web.db] pool checkout took {rng.randint(0, 9)}ms"
                        f" (in use {rng.randint(1, 20)}/20)"
                    ],
                )
            )
    events = routine + [("ERROR", e) for e in _app_errors(rng)]
    events += [("WARNING", e) for e in _app_warnings(rng)]
    return _interleave(rng, now, events)


def _worker_log(rng: random.Random, now: datetime) -> list[str]:
    events = []
    for _ in range(700):
        job = rng.randint(1000, 9999)
        kind = rng.choice(("send_invoice", "resize_image", "sync_inventory", "nightly_export"))
        events.append(("INFO", [f"[worker] job {job} {kind} done in {rng.uniform(0.1, 9):.2f}s"]))
        if rng.random() < 0.3:
            events.append(("DEBUG", [f"[worker] heartbeat queue_depth={rng.randint(0, 400)}"]))
    for _ in range(6):
        job, attempt, backoff = rng.randint(1000, 9999), rng.randint(1, 4), rng.choice((2, 4, 8))
        text = f"[worker] job {job} retry {attempt}/5 after {backoff}s backoff"
        events.append(("WARNING", [text]))
    for _ in range(3):
        events.append(
            ("WARNING", [f"[worker] queue depth {rng.randint(1001, 2500)} above soft limit 1000"])
        )
    return _interleave(rng, now, events)


def _interleave(
    rng: random.Random, now: datetime, events: list[tuple[str, list[str]]]
) -> list[str]:
    rng.shuffle(events)
    lines = []
    for moment, (level, event) in zip(_log_times(rng, now, len(events)), events, strict=True):
        lines.append(_stamp(moment, level, event[0]))
        lines.extend(event[1:])  # traceback lines carry no timestamp, as Python logging writes them
    return lines


# ---------------------------------------------------------------- temp and cache trees


def _tree_plan(rng: random.Random) -> Iterator[tuple[str, int, bool]]:
    """(relative path, size, old?) for every file of tmp/ and cache/, matching OLD/FRESH_FILES."""
    for n in range(12):
        yield f"tmp/uploads/upload-{rng.getrandbits(32):08x}.part", rng.randint(1, 64) * 1024, n < 8
    for n in range(20):
        yield f"tmp/sessions/sess_{rng.getrandbits(64):016x}", 128, n < 14
    for n in range(8):
        yield f"tmp/exports/2025/report-{n + 1:03d}.csv", rng.randint(2, 40) * 1024, n < 4
    for n in range(28):
        digest = f"{rng.getrandbits(64):016x}"
        yield f"cache/thumbnails/{digest[:2]}/{digest}.jpg", rng.randint(2, 24) * 1024, n < 14
    for n in range(12):
        yield f"cache/http/{rng.getrandbits(64):016x}.json", rng.randint(1, 8) * 512, n < 6


def _build_file_trees(root: Path, rng: random.Random, now: datetime) -> None:
    stamps: dict[Path, float] = {}
    for relative, size, old in _tree_plan(rng):
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(size))
        days = rng.uniform(OLD_FILE_AGE_DAYS + 5, 180) if old else rng.uniform(0, 2)
        stamps[path] = (now - timedelta(days=days)).timestamp()
    (root / "tmp" / "exports" / "2024-q3").mkdir(parents=True)  # an empty, long-forgotten dir
    stamps[root / "tmp" / "exports" / "2024-q3"] = (now - timedelta(days=400)).timestamp()
    for path, stamp in stamps.items():
        os.utime(path, (stamp, stamp))
    # A directory's mtime is as old as its newest entry, as if files had been written over time;
    # deepest first, since setting a child touches nothing but the child.
    directories = {parent for path in stamps for parent in path.relative_to(root).parents}
    for relative in sorted(directories - {Path(".")}, key=lambda p: -len(p.parts)):
        directory = root / relative
        newest = max(entry.stat().st_mtime for entry in directory.iterdir())
        os.utime(directory, (newest, newest))


# ---------------------------------------------------------------- HTTP service


def health_answers(host: str, port: int, timeout_s: float = 0.5) -> bool:
    """True when `http://host:port/health` answers 200 with `{"status": "ok"}`."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"http://{host}:{port}/health", timeout=timeout_s) as response:
            return response.status == 200 and json.load(response).get("status") == "ok"
    except (OSError, ValueError, AttributeError):
        return False


class DemoService:
    """Run the demo health service on `config.demo.http_port` for the duration of a `with` block.

    If something already answers on that port's /health it is left alone: neither started
    nor stopped (it may be an `upkeep demo --serve` an engineer is running).
    """

    def __init__(self, config: Config, *, startup_timeout_s: float = 10.0) -> None:
        self.host = DEMO_HOST
        self.port = demo_settings(config).http_port
        self.startup_timeout_s = startup_timeout_s
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/health"

    def __enter__(self) -> DemoService:
        if health_answers(self.host, self.port):
            return self
        command = [
            sys.executable,
            "-m",
            "upkeep.demo_service",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--exit-with-stdin",
        ]
        # stderr goes to a file, not a pipe nobody reads: a full pipe would hang the service.
        with tempfile.TemporaryFile() as stderr:
            self.process = subprocess.Popen(
                # Its stdin is a pipe only we hold: when we end, killed or not, it stops too.
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
            self._wait_until_up(stderr)
        return self

    def _wait_until_up(self, stderr: IO[bytes]) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.startup_timeout_s
        while not health_answers(self.host, self.port, timeout_s=0.25):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                stderr.seek(0)
                said = stderr.read().decode("utf-8", "replace").strip()
                raise DemoError(
                    f"the demo service did not come up on {self.url}"
                    f" within {self.startup_timeout_s:g}s: {said or 'no output'}"
                )
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the service if this object started it: SIGTERM, then SIGKILL after 5 s."""
        if self.process is None:
            return
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve_forever(config: Config) -> None:
    """Run the demo health service in the foreground until Ctrl-C (`upkeep demo --serve`)."""
    port = demo_settings(config).http_port
    try:
        demo_service.serve(DEMO_HOST, port)
    except OSError as exc:
        raise DemoError(
            f"cannot listen on {DEMO_HOST}:{port}: {exc.strerror}; is another service"
            " using it? Change `demo.http_port` in upkeep.yml"
        ) from None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (for tests and throwaway demos)."""
    with socket.socket() as sock:
        sock.bind((DEMO_HOST, 0))
        return sock.getsockname()[1]
