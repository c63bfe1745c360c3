"""Responsible for the demo's application database, `app.db`: a SQLite schema of an order-taking
web application (customers, orders, users, roles, user_roles, sessions, audit_log), a few hundred
rows drawn from the build's random generator, and the deliberate defects listed in `DEFECTS`, each
found by a health script under `scripts/db-health/sqlite/`; then the personal data the compliance
audit checks (`upkeep.demo.personal_data`).
"""

from __future__ import annotations

import json
import random
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from upkeep.demo.personal_data import insert_personal_data
from upkeep.sql import load_sql

# The stale-record counts in DEFECTS are exact for this many days after a build: then a pending
# order placed 30 days before the build passes the 90 days of `stale:orders.pending` too.
# `upkeep demo --force` renews them.
EXACT_FOR_DAYS = 60


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
AUDIT_ACTIONS = (
    ("login", "user"),
    ("update", "order"),
    ("refund", "order"),
    ("export", "report"),
    ("grant_role", "user"),
    ("delete", "customer"),
)


def build_database(path: Path, rng: random.Random, now: datetime) -> None:
    """Create `path` with the schema, its rows and the DEFECTS, timestamps relative to `now`."""
    db = sqlite3.connect(path)
    try:
        # Foreign keys stay unenforced (SQLite's default), as in the system the demo imitates:
        # that is how the orphaned rows below got in.
        db.executescript(SCHEMA)
        _insert_customers_and_orders(db, rng, now)
        _insert_users_and_roles(db, rng, now)
        _insert_sessions_and_audit(db, rng, now)
        insert_personal_data(db, now)  # a generator of its own: the rows above stay as they were
        db.commit()
    finally:
        db.close()


def _sqlite_time(moment: datetime) -> str:
    """SQLite's own datetime format, so `datetime('now', '-90 days')` compares correctly."""
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _days_ago(now: datetime, rng: random.Random, low_days: float, high_days: float) -> str:
    return _sqlite_time(now - timedelta(days=rng.uniform(low_days, high_days)))


def _person(rng: random.Random) -> tuple[str, str]:
    return rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)


def _insert_customers_and_orders(db: sqlite3.Connection, rng: random.Random, now: datetime) -> None:
    customers = []
    for cid in range(1, 241):
        first, last = _person(rng)
        email = f"{first}.{last}.{cid}@example.com".lower()
        customers.append((cid, f"{first} {last}", email, _days_ago(now, rng, 200, 1500)))
    db.executemany("INSERT INTO customers VALUES (?, ?, ?, ?)", customers)
    orders = []
    for oid in range(1, 401):
        status = rng.choice(("paid", "shipped", "shipped", "cancelled", "pending"))
        created = _days_ago(now, rng, 0, 30 if status == "pending" else 700)
        total = rng.randint(500, 250_000)
        orders.append([oid, rng.randint(1, 240), status, total, created, created])
    # Stale: pending orders nobody touched for a quarter or more.
    for order in rng.sample([o for o in orders if o[2] != "pending"], 9):
        order[2] = "pending"
        order[4] = order[5] = _days_ago(now, rng, 95, 400)
    # Orphans: customers deleted by hand years ago, their orders left behind.
    for order, missing_id in zip(rng.sample(orders, 12), range(5001, 5013), strict=True):
        order[1] = missing_id
    db.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?)", orders)


def _insert_users_and_roles(db: sqlite3.Connection, rng: random.Random, now: datetime) -> None:
    users = []
    for uid in range(1, 121):
        first, last = _person(rng)
        username = f"{first[0]}{last}{uid}".lower()
        email = f"{first}.{last}@corp.example".lower()
        users.append(
            [uid, username, email, _days_ago(now, rng, 400, 1800), _days_ago(now, rng, 0, 180)]
        )
    stale = rng.sample(range(120), 7)
    for index in stale:
        users[index][4] = _days_ago(now, rng, 400, 900)
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
        [(u, r, _days_ago(now, rng, 30, 900)) for u, r in sorted(grants)],
    )


def _insert_sessions_and_audit(db: sqlite3.Connection, rng: random.Random, now: datetime) -> None:
    sessions = []
    for n in range(300):
        idle = rng.uniform(95, 500) if n < 15 else rng.uniform(0, 14)
        seen = now - timedelta(days=idle)
        token, user_id = f"{rng.getrandbits(128):032x}", rng.randint(1, 120)
        created = seen - timedelta(hours=rng.uniform(0, 48))
        sessions.append((token, user_id, _sqlite_time(created), _sqlite_time(seen)))
    db.executemany("INSERT INTO sessions VALUES (?, ?, ?, ?)", sessions)
    rows = []
    for n in range(1, 501):
        action, kind = rng.choice(AUDIT_ACTIONS)
        target = f"{kind}:{rng.randint(1, 400)}"
        detail = json.dumps({"ip": f"10.0.{rng.randint(0, 9)}.{rng.randint(2, 250)}"})
        rows.append((n, _days_ago(now, rng, 0, 365), rng.randint(1, 120), action, target, detail))
    rows.sort(key=lambda row: row[1])
    db.executemany(
        "INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?)",
        [(n, *row[1:]) for n, row in enumerate(rows, 1)],
    )
