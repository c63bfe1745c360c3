"""Responsible for the demo's log files, `logs/app.log` and `logs/worker.log`: a day of timestamped
lines as Python logging writes them (a traceback's lines carry no timestamp), with the error and
warning lines counted in `LOG_ERRORS` and `LOG_WARNINGS`, between the shipped `log_errors`
thresholds: the health check's log checks warn, they do not fail. The worker's two days before
that are rotated copies, `worker.log.1` and `worker.log.2.gz` (`ROTATED_COPIES`), for the daily
log backup to archive.
"""

from __future__ import annotations

import gzip
import os
import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

# Error/warning lines per log, as the default patterns of `LogSource` count them.
LOG_ERRORS = {"app": 14, "worker": 0}
LOG_WARNINGS = {"app": 9, "worker": 9}
# Distinct error messages in app.log once numbers, ids, IPs and quoted strings are masked.
LOG_ERROR_GROUPS = {"app": 4, "worker": 0}

# The worker's rotated copies, as a copytruncate rotation with compression leaves them.
ROTATED_COPIES = ("worker.log.1", "worker.log.2.gz")
# One log event: its level and its lines (a first line, then any that continue it).
LogEvent = tuple[str, list[str]]


def write_logs(directory: Path, rng: random.Random, now: datetime) -> None:
    """Create `directory` with app.log and worker.log, covering the 24 hours before `now`."""
    directory.mkdir()
    _write_lines(directory / "app.log", _app_log(rng, now))
    _write_lines(directory / "worker.log", _worker_log(rng, now))
    _write_rotated_copies(directory, now)


def _write_rotated_copies(directory: Path, now: datetime) -> None:
    """The worker's two days before `now - 24 h`, each copy last modified when it was rotated
    out (the end of its day). A generator of their own: the live logs stay as they were."""
    rng = random.Random("demo-worker-rotated-copies")
    for days, name in enumerate(ROTATED_COPIES, start=1):
        rotated = now - timedelta(days=days)
        data = "".join(line + "\n" for line in _worker_log(rng, rotated)).encode("utf-8")
        if name.endswith(".gz"):
            data = gzip.compress(data, mtime=0)
        path = directory / name
        path.write_bytes(data)
        os.utime(path, (rotated.timestamp(), rotated.timestamp()))


def _write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def _app_log(rng: random.Random, now: datetime) -> list[str]:
    events = _app_routine(rng)
    events += [("ERROR", event) for event in _app_errors(rng)]
    events += [("WARNING", event) for event in _app_warnings(rng)]
    return _interleave(rng, now, events)


def _app_routine(rng: random.Random) -> list[LogEvent]:
    """Requests served, and now and then a database pool line."""
    routes = (
        ("GET", "/orders/{n}"),
        ("GET", "/customers/{n}"),
        ("POST", "/orders"),
        ("GET", "/health"),
        ("GET", "/search"),
    )
    events: list[LogEvent] = []
    for _ in range(1200):
        method, route = rng.choice(routes)
        path = route.format(n=rng.randint(1, 400))
        events.append(("INFO", [f"[web] {method} {path} 200 {rng.randint(2, 180)}ms"]))
        if rng.random() < 0.25:
            checkout = f"{rng.randint(0, 9)}ms (in use {rng.randint(1, 20)}/20)"
            events.append(("DEBUG", [f"[web.db] pool checkout took {checkout}"]))
    return events


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
    """The 9 warning events of app.log: slow queries and failed logins."""
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


def _worker_log(rng: random.Random, now: datetime) -> list[str]:
    """Jobs done, heartbeats, and 9 warnings (retries, a deep queue); no errors."""
    kinds = ("send_invoice", "resize_image", "sync_inventory", "nightly_export")
    events: list[LogEvent] = []
    for _ in range(700):
        job = rng.randint(1000, 9999)
        kind = rng.choice(kinds)
        events.append(("INFO", [f"[worker] job {job} {kind} done in {rng.uniform(0.1, 9):.2f}s"]))
        if rng.random() < 0.3:
            events.append(("DEBUG", [f"[worker] heartbeat queue_depth={rng.randint(0, 400)}"]))
    for _ in range(6):
        job, attempt, backoff = rng.randint(1000, 9999), rng.randint(1, 4), rng.choice((2, 4, 8))
        text = f"[worker] job {job} retry {attempt}/5 after {backoff}s backoff"
        events.append(("WARNING", [text]))
    for _ in range(3):
        depth = rng.randint(1001, 2500)
        events.append(("WARNING", [f"[worker] queue depth {depth} above soft limit 1000"]))
    return _interleave(rng, now, events)


def _interleave(rng: random.Random, now: datetime, events: list[LogEvent]) -> list[str]:
    """The events in a random order, stamped with increasing times over the last 24 hours."""
    rng.shuffle(events)
    lines = []
    for moment, (level, event) in zip(_log_times(rng, now, len(events)), events, strict=True):
        lines.append(_stamp(moment, level, event[0]))
        lines.extend(event[1:])  # traceback lines carry no timestamp, as Python logging writes them
    return lines


def _log_times(rng: random.Random, now: datetime, count: int) -> Iterator[datetime]:
    """`count` increasing moments spread over the 24 hours before `now`."""
    offsets = sorted(rng.uniform(0, 86_400) for _ in range(count))
    for offset in offsets:
        yield now - timedelta(seconds=86_400 - offset)


def _stamp(moment: datetime, level: str, text: str) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S},{moment.microsecond // 1000:03d} {level:<7} {text}"
