"""Log lines in the formats real systems write, each with the message group it belongs to: nginx
and Apache combined access logs, nginx and Apache 2.4 error logs, syslog as rsyslog writes it
(classic and RFC 3339 stamps), journalctl's short-iso, short-precise and json output. The
grouping tests and the log-format benchmark judge grouping against these groups. Generated,
never downloaded; the same seed gives the same lines.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

__all__ = ["FORMATS", "LabelledLine", "generate", "mixed"]

START = datetime(2026, 11, 14, 22, 0, tzinfo=UTC)  # a Saturday: Apache's weekday changes


@dataclass(frozen=True)
class LabelledLine:
    """One log line, the group it belongs to, whether an error pattern should match it, and when
    it was written (to the second its stamp shows)."""

    text: str
    group: str
    error: bool
    at: datetime = START


# ---------------------------------------------------------------- access logs

ROUTES: tuple[tuple[str, str, Callable[[random.Random], str]], ...] = (
    ("GET", "/api/orders/<N>", lambda r: f"/api/orders/{r.randint(1, 99999)}"),
    ("GET", "/api/orders/<N>/items", lambda r: f"/api/orders/{r.randint(1, 99999)}/items"),
    ("POST", "/api/orders", lambda r: "/api/orders"),
    ("GET", "/api/customers/<N>", lambda r: f"/api/customers/{r.randint(1, 5000)}"),
    ("GET", "/api/sessions/<HEX>", lambda r: f"/api/sessions/{r.getrandbits(128):032x}"),
    ("GET", "/api/v<N>/products/<UUID>", lambda r: f"/api/v2/products/{_uuid(r)}"),
    ("GET", "/search?<Q>", lambda r: f"/search?q={r.choice(WORDS)}&page={r.randint(1, 9)}"),
    ("GET", "/static/app.<HEX>.js", lambda r: f"/static/app.{r.getrandbits(32):08x}.js"),
    ("GET", "/health", lambda r: "/health"),
)
WORDS = ("shoes", "red+socks", "gift%20card", "hat")
AGENTS = (
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "curl/8.5.0",
    "python-httpx/0.27.0",
)
SERVER_ERRORS = (500, 502, 503, 504)


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128)))


def _ip(rng: random.Random) -> str:
    return f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def _access(rng: random.Random, moment: datetime) -> LabelledLine:
    """A combined-format access line (nginx's default, Apache's `combined`)."""
    stamp = moment.strftime("%d/%b/%Y:%H:%M:%S +0000")
    roll = rng.random()
    if roll < 0.01:  # a TLS handshake sent to the plain HTTP port, as nginx logs it
        request, status, group = r"\x16\x03\x01\x00\xf1\x01\x00\x00\xed\x03\x03", 400, "<STR> 400"
        line = f'{_ip(rng)} - - [{stamp}] "{request}" {status} 157 "-" "-"'
        return LabelledLine(line, group, False)
    method, template, make = rng.choice(ROUTES)
    path = make(rng)
    status = (
        rng.choice(SERVER_ERRORS)
        if roll < 0.06
        else rng.choice((404, 499))
        if roll < 0.09
        else rng.choice((200, 200, 200, 304))
    )
    if template == "/health" and roll < 0.06:
        client, agent = "127.0.0.1", "python-httpx/0.27.0"  # the health check's own probe
    else:
        client, agent = _ip(rng), rng.choice(AGENTS)
    user = rng.choice(("-", "-", "-", "alice"))
    referer = rng.choice(('"-"', '"https://shop.example.com/"'))
    line = (
        f'{client} - {user} [{stamp}] "{method} {path} HTTP/1.1" {status}'
        f' {rng.randint(0, 90000)} {referer} "{agent}"'
    )
    return LabelledLine(line, f"{method} {template} {status}", status >= 500)


# ---------------------------------------------------------------- error logs


def _nginx_error(rng: random.Random, moment: datetime) -> LabelledLine:
    stamp = moment.strftime("%Y/%m/%d %H:%M:%S")
    pid = rng.choice((1234, 1235, 31337))
    head = f"{stamp} [{{level}}] {pid}#{pid}: *{rng.randint(1, 10**7)} "
    method, template, make = rng.choice(ROUTES[:5] + ROUTES[8:])
    path = make(rng)
    tail = (
        f', client: {_ip(rng)}, server: shop.example.com, request: "{method} {path} HTTP/1.1",'
        f' upstream: "http://127.0.0.1:8080{path}", host: "shop.example.com"'
    )
    kinds = (
        (
            "error",
            "upstream timed out (110: Connection timed out) while reading response header from"
            " upstream" + tail,
            f"upstream timed out {method} {template}",
        ),
        (
            "error",
            "connect() failed (111: Connection refused) while connecting to upstream" + tail,
            f"connect() refused {method} {template}",
        ),
        (
            "crit",
            f'open() "/var/lib/nginx/body/{rng.randint(1, 10**9):010d}" failed (13: Permission'
            f" denied), client: {_ip(rng)}, server: shop.example.com",
            "open() body denied",
        ),
        (
            "warn",
            "an upstream response is buffered to a temporary file /var/lib/nginx/proxy/"
            f"{rng.randint(1, 9)}/{rng.randint(10, 99)}/{rng.randint(1, 10**9):010d} while"
            " reading upstream" + tail,
            f"buffered {method} {template}",
        ),
        ("alert", f"worker process {rng.randint(2000, 9000)} exited on signal 9", "worker exited"),
    )
    level, message, group = rng.choice(kinds)
    line = head.format(level=level) + message
    if level == "alert":
        line = f"{stamp} [alert] {pid}#{pid}: {message}"
    return LabelledLine(line, group, level in ("error", "crit", "alert"))


def _apache_error(rng: random.Random, moment: datetime) -> LabelledLine:
    micro = rng.randint(0, 999999)
    stamp = moment.strftime(f"%a %b %d %H:%M:%S.{micro:06d} %Y")
    pid = f"[pid {rng.randint(1000, 9999)}:tid {rng.randint(10**14, 10**15)}]"
    client = f"[client {_ip(rng)}:{rng.randint(1024, 65535)}]"
    kinds = (
        (
            "proxy:error",
            f"{pid} (111)Connection refused: AH00957: http: attempt to connect to"
            f" 127.0.0.1:8080 (backend) failed",
            "AH00957 connect failed",
        ),
        (
            "proxy_http:error",
            f"{pid} {client} AH01114: HTTP: failed to make connection to backend: 127.0.0.1",
            "AH01114 backend",
        ),
        (
            "php:error",
            f"{pid} {client} PHP Fatal error:  Uncaught Error: Call to undefined function"
            f" legacy_total() in /srv/www/cart.php:{rng.choice((12, 88))}",
            "PHP undefined function",
        ),
        (
            "ssl:warn",
            f"{pid} AH01909: shop.example.com:443:0 server certificate does NOT include an ID"
            " which matches the server name",
            "AH01909 certificate",
        ),
    )
    module, message, group = rng.choice(kinds)
    line = f"[{stamp}] [{module}] {message}"
    return LabelledLine(line, group, module.endswith(":error"))


# ---------------------------------------------------------------- syslog and journald


def _syslog_message(rng: random.Random) -> tuple[str, str, str, bool]:
    """(tag with pid, message, group, error) of one system log event."""
    pid = rng.randint(300, 40000)
    kinds = (
        (
            f"sshd[{pid}]",
            "error: kex_exchange_identification: read: Connection reset by peer",
            "sshd kex reset",
            True,
        ),
        (
            f"sshd[{pid}]",
            f"Failed password for invalid user {rng.choice(('admin', 'oracle'))} from"
            f" {_ip(rng)} port {rng.randint(1024, 65535)} ssh2",
            "sshd failed password",
            False,
        ),
        (
            "systemd[1]",
            "nginx.service: Failed with result 'exit-code'.",
            "nginx.service failed",
            True,
        ),
        (
            "kernel",
            f"[{rng.randint(1000, 999999)}.{rng.randint(0, 999999):06d}] Out of memory: Killed"
            f" process {pid} (python3) total-vm:{rng.randint(10**5, 10**7)}kB,"
            f" anon-rss:{rng.randint(10**5, 10**7)}kB",
            "kernel oom",
            True,
        ),
        (
            f"postgres[{pid}]",
            f"[{rng.randint(1, 9)}-1] ERROR:  duplicate key value violates unique constraint"
            ' "orders_pkey"',
            "postgres duplicate key",
            True,
        ),
        (
            f"CRON[{pid}]",
            "(root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)",
            "cron sa1",
            False,
        ),
    )
    return rng.choice(kinds)


def _syslog(rng: random.Random, moment: datetime) -> LabelledLine:
    """As rsyslog writes /var/log/syslog with its traditional stamp (`Nov  6 02:15:00`)."""
    tag, message, group, error = _syslog_message(rng)
    stamp = f"{moment:%b} {moment.day:>2} {moment:%H:%M:%S}"
    return LabelledLine(f"{stamp} web1 {tag}: {message}", group, error)


def _rsyslog_rfc3339(rng: random.Random, moment: datetime) -> LabelledLine:
    """As Debian 12's rsyslog writes it (RFC 3339 stamps)."""
    tag, message, group, error = _syslog_message(rng)
    micro = rng.randint(0, 999999)
    stamp = moment.strftime(f"%Y-%m-%dT%H:%M:%S.{micro:06d}+00:00")
    return LabelledLine(f"{stamp} web1 {tag}: {message}", group, error)


def _journal_short_iso(rng: random.Random, moment: datetime) -> LabelledLine:
    tag, message, group, error = _syslog_message(rng)
    return LabelledLine(f"{moment:%Y-%m-%dT%H:%M:%S%z} web1 {tag}: {message}", group, error)


def _journal_short_precise(rng: random.Random, moment: datetime) -> LabelledLine:
    tag, message, group, error = _syslog_message(rng)
    stamp = f"{moment:%b} {moment.day:02d} {moment:%H:%M:%S}.{rng.randint(0, 999999):06d}"
    return LabelledLine(f"{stamp} web1 {tag}: {message}", group, error)


def _journal_json(rng: random.Random, moment: datetime) -> LabelledLine:
    tag, message, group, error = _syslog_message(rng)
    identifier, _, pid = tag.partition("[")
    entry = {
        "__CURSOR": f"s={rng.getrandbits(128):032x};i={rng.getrandbits(20):x}",
        "__REALTIME_TIMESTAMP": str(int(moment.timestamp() * 1e6)),
        "PRIORITY": "3" if error else "5",
        "_HOSTNAME": "web1",
        "SYSLOG_IDENTIFIER": identifier,
        "_PID": pid.rstrip("]") or "1",
        "MESSAGE": message,
    }
    return LabelledLine(json.dumps(entry, separators=(",", ":")), group, error)


FORMATS: dict[str, Callable[[random.Random, datetime], LabelledLine]] = {
    "nginx-access": _access,
    "nginx-error": _nginx_error,
    "apache-error": _apache_error,
    "syslog": _syslog,
    "rsyslog-rfc3339": _rsyslog_rfc3339,
    "journal-short-iso": _journal_short_iso,
    "journal-short-precise": _journal_short_precise,
    "journal-json": _journal_json,
}


def generate(
    kind: str, count: int, seed: int = 1, start: datetime = START, gap_s: int = 20
) -> list[LabelledLine]:
    """`count` lines of format `kind`, up to `gap_s` seconds apart from `start` (in UTC, which
    formats without a zone write as it is; crossing midnight, so that Apache's weekday and the
    syslog day change within the lines)."""
    rng = random.Random(seed)
    make = FORMATS[kind]
    moment = start
    lines = []
    for _ in range(count):
        moment += timedelta(seconds=rng.randint(0, gap_s))
        lines.append(replace(make(rng, moment), at=moment))
    return lines


def mixed(count_per_format: int, seed: int = 1) -> dict[str, list[LabelledLine]]:
    """Every format's lines, `count_per_format` of each."""
    return {kind: generate(kind, count_per_format, seed) for kind in FORMATS}
