"""Responsible for the personal data the demo's `app.db` holds for the yearly compliance audit:
support tickets, newsletter sign-ups and refunds, with a known number of rows past their
retention rule (`RETENTION_VIOLATIONS`), one personal column the shipped record of processing
does not declare (`UNDECLARED_COLUMN`), and a synthetic data subject planted in known rows
(`TEST_SUBJECT`, `TEST_SUBJECT_ROWS`) for the data-subject lookup. Drawn from a generator of its
own, so that the rest of the demo stays as it was."""

from __future__ import annotations

import random
import sqlite3
from datetime import datetime, timedelta

__all__ = [
    "PERSONAL_SCHEMA",
    "RETENTION_VIOLATIONS",
    "TEST_SUBJECT",
    "TEST_SUBJECT_ROWS",
    "UNDECLARED_COLUMN",
    "insert_personal_data",
]

PERSONAL_DATA_SEED = 20261205
PERSONAL_SCHEMA = """
CREATE TABLE support_tickets (
    id INTEGER PRIMARY KEY, customer_email TEXT NOT NULL, phone TEXT, subject TEXT NOT NULL,
    body TEXT NOT NULL, opened_at TEXT NOT NULL
);
CREATE TABLE newsletter_signups (
    id INTEGER PRIMARY KEY, email TEXT NOT NULL, signup_ip TEXT NOT NULL,
    subscribed_at TEXT NOT NULL
);
CREATE TABLE refunds (
    id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL, iban TEXT NOT NULL,
    amount_cents INTEGER NOT NULL, refunded_at TEXT NOT NULL
);
"""
# Rows older than the shipped record's retention rule, per table (sessions: the stale sessions
# of the database review, 90 days).
RETENTION_VIOLATIONS = {"support_tickets": 11, "newsletter_signups": 6, "sessions": 15}
RETENTION_DAYS = {"support_tickets": 730, "newsletter_signups": 1095, "refunds": 3650}
UNDECLARED_COLUMN = "newsletter_signups.signup_ip"
TEST_SUBJECT = "erin.subject-4417@dsr-test.example"
TEST_SUBJECT_ROWS = {"app.newsletter_signups": 1, "app.support_tickets": 3}

_NAMES = ("ada", "ben", "chloe", "dmitri", "elena", "farid", "grace", "hiro", "ines", "jonas")
_SUBJECTS = ("parcel late", "wrong size", "refund please", "cannot log in", "invoice copy")
# Valid IBANs of a few countries (check digits recomputed per row below).
_IBAN_COUNTRIES = (("DE", "37040044", 10), ("NL", "ABNA", 10), ("FR", "2004101005", 13))


def insert_personal_data(db: sqlite3.Connection, now: datetime) -> None:
    """Create the tables of PERSONAL_SCHEMA and fill them, times relative to `now`."""
    rng = random.Random(PERSONAL_DATA_SEED)
    db.executescript(PERSONAL_SCHEMA)
    db.executemany("INSERT INTO support_tickets VALUES (?, ?, ?, ?, ?, ?)", _tickets(rng, now))
    db.executemany("INSERT INTO newsletter_signups VALUES (?, ?, ?, ?)", _signups(rng, now))
    db.executemany("INSERT INTO refunds VALUES (?, ?, ?, ?, ?)", _refunds(rng, now))


def _ago(now: datetime, days: float) -> str:
    return (now - timedelta(days=days)).strftime("%Y-%m-%d %H:%M:%S")


def _ages(rng: random.Random, rows: int, retention: int, past: int) -> list[float]:
    """Row ages in days: `past` of them well beyond `retention`, the rest well within it."""
    ages = [rng.uniform(retention + 20, retention * 2) for _ in range(past)]
    ages += [rng.uniform(0, retention - 20) for _ in range(rows - past)]
    rng.shuffle(ages)
    return ages


def _email(rng: random.Random, n: int) -> str:
    return f"{rng.choice(_NAMES)}.{n}@mail.example"


def _phone(rng: random.Random) -> str:
    # Numbers of real numbering plans: UK London (020 7946 0xxx is set aside for drama) and
    # German mobiles.
    if rng.random() < 0.5:
        return f"+44 20 7946 0{rng.randint(100, 999)}"
    return f"+49 151 {rng.randint(10000000, 99999999)}"


def _tickets(rng: random.Random, now: datetime) -> list[tuple[object, ...]]:
    ages = _ages(
        rng, 150, RETENTION_DAYS["support_tickets"], RETENTION_VIOLATIONS["support_tickets"]
    )
    rows = []
    for n, age in enumerate(ages, 1):
        email = _email(rng, n)
        body = f"Hello, about my order {rng.randint(1, 400)}: {rng.choice(_SUBJECTS)}."
        phone = _phone(rng) if rng.random() < 0.6 else None
        rows.append([n, email, phone, rng.choice(_SUBJECTS), body, _ago(now, age)])
    # The synthetic subject: two tickets of theirs, and one in which another customer writes
    # their address in the body; all within retention, so the counts above stay exact.
    recent = [row for row, age in zip(rows, ages, strict=True) if age < 365]
    for row in recent[3:5]:
        row[1] = TEST_SUBJECT
    recent[9][4] = f"Please also send the invoice to my colleague {TEST_SUBJECT}, thanks."
    return [tuple(row) for row in rows]


def _signups(rng: random.Random, now: datetime) -> list[tuple[object, ...]]:
    retention = RETENTION_DAYS["newsletter_signups"]
    ages = _ages(rng, 120, retention, RETENTION_VIOLATIONS["newsletter_signups"])
    rows = []
    for n, age in enumerate(ages, 1):
        ip = f"198.51.100.{rng.randint(1, 254)}" if n % 2 else f"203.0.113.{rng.randint(1, 254)}"
        rows.append([n, _email(rng, 1000 + n), ip, _ago(now, age)])
    recent = [row for row, age in zip(rows, ages, strict=True) if age < 365]
    recent[2][1] = TEST_SUBJECT
    return [tuple(row) for row in rows]


def _refunds(rng: random.Random, now: datetime) -> list[tuple[object, ...]]:
    rows = []
    for n in range(1, 101):
        country, bank, digits = rng.choice(_IBAN_COUNTRIES)
        account = "".join(str(rng.randint(0, 9)) for _ in range(digits))
        rows.append(
            (
                n,
                rng.randint(1, 400),
                _iban(country, bank + account),
                rng.randint(500, 25_000),
                _ago(now, rng.uniform(0, 700)),
            )
        )
    return rows


def _iban(country: str, bban: str) -> str:
    """An IBAN with correct check digits (ISO 13616: mod 97 of the rearranged number)."""
    digits = "".join(str(int(char, 36)) for char in bban + country + "00")
    check = 98 - int(digits) % 97
    return f"{country}{check:02d}{bban}"
