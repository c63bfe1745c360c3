"""Responsible for reading the access logs the security review is given: sshd and sudo lines of
an auth log (syslog's or journalctl's short formats, or `journalctl -o json`), and nginx/Apache
access logs in the common or combined format, each with its rotated copies (`upkeep.logs.layout`).
Lines are sorted into calendar months by their own timestamps (`upkeep.logs.line_times`); for
each month it tallies failed logins by user and source, successful logins (method, source, key
fingerprint), sudo use, 401/403 answers by source (and their worst burst), and requests to admin
paths. A failed login's user name not shaped like one is kept as `NOT_A_USER_NAME`: people type
their password at the user prompt."""

from __future__ import annotations

import gzip
import json
import re
import stat
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path

from upkeep.config.security import AccessLog
from upkeep.logs.layout import RotatedCopy, copies_in_directory, newest_first
from upkeep.logs.line_times import line_time
from upkeep.masking import marker
from upkeep.regular_file import file_kind, path_kind

__all__ = ["NOT_A_USER_NAME", "Login", "MonthTally", "month_of", "read_access_logs"]

NOT_A_USER_NAME = marker("not-a-user-name")
# useradd's default NAME_REGEX, and its length limit: what a password rarely looks like
_USER_NAME = re.compile(r"[a-z_][a-z0-9_.-]{0,31}\$?\Z")

_FAILED = re.compile(
    rb"sshd\[\d+\]: Failed \S+ for (?:invalid user )?(?P<user>\S+) from (?P<source>\S+)"
)
_ACCEPTED = re.compile(
    rb"sshd\[\d+\]: Accepted (?P<method>\S+) for (?P<user>\S+) from (?P<source>\S+) port \d+"
    rb"(?: ssh2)?(?:: (?P<keytype>\S+) (?P<fingerprint>SHA256:[A-Za-z0-9+/=]+))?"
)
_SUDO = re.compile(rb"sudo(?:\[\d+\])?: +(?P<user>\S+) : .*?USER=(?P<target>\S+) ; COMMAND=")
_WEB = re.compile(
    rb'^(?:\S+ )?(?P<source>[0-9A-Fa-f.:]+) \S+ \S+ \[[^\]]+\] "(?P<method>[A-Z]+) '
    rb'(?P<path>\S+)[^"]*" (?P<status>\d{3}) '
)


@dataclass(frozen=True, order=True)
class Login:
    """A successful login: who, from where, how, and with which key when by key."""

    user: str
    source: str
    method: str
    fingerprint: str = ""


@dataclass
class MonthTally:
    """What one calendar month's access lines hold."""

    failed: Counter[tuple[str, str]] = field(default_factory=Counter)  # (user, source)
    logins: Counter[Login] = field(default_factory=Counter)
    sudo: Counter[tuple[str, str]] = field(default_factory=Counter)  # (user, as whom)
    denied: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    admin: Counter[tuple[str, str]] = field(default_factory=Counter)  # (source, path)

    def counts(self) -> dict[str, int]:
        """The month's totals, as kept from month to month."""
        return {
            "failed_logins": sum(self.failed.values()),
            "logins": sum(self.logins.values()),
            "sudo": sum(self.sudo.values()),
            "http_denied": sum(len(times) for times in self.denied.values()),
            "admin_requests": sum(self.admin.values()),
        }

    def worst_burst(self, source: str, window_s: int) -> int:
        """The most 401/403 answers `source` got within any `window_s` seconds."""
        times = sorted(self.denied.get(source, ()))
        best, start = 0, 0
        for end, moment in enumerate(times):
            while moment - times[start] > window_s:
                start += 1
            best = max(best, end - start + 1)
        return best


def month_of(moment: datetime, zone: tzinfo) -> str:
    return f"{moment.astimezone(zone):%Y-%m}"


def _files(log: AccessLog, unreadable: list[str]) -> list[Path]:
    """The log and its rotated copies, oldest first; a log that is there but not a regular file
    (a directory, a FIFO: opening one would wait for a writer; a symlink loop) is named in
    `unreadable`, with what it is."""
    if not log.path.parent.is_dir():
        return []
    copies: list[RotatedCopy] = newest_first(list(copies_in_directory(log.path)))
    files = []
    for copy in reversed(copies):
        if not stat.S_ISREG(copy.stat.st_mode):  # its own lstat: a link is not followed
            unreadable.append(f"{copy.path}: {file_kind(copy.stat.st_mode)}, not a regular file")
        elif copy.stat.st_size or copy.compressed:
            files.append(copy.path)
    kind = path_kind(log.path)
    if kind == "a regular file":
        files.append(log.path)
    elif kind is not None:  # nothing at all there is said by the check: not found
        unreadable.append(f"{log.path}: {kind}, not a regular file")
    return files


def _lines(path: Path, unreadable: list[str]) -> Iterator[bytes]:
    """The file's lines; when it cannot be read to its end (a damaged or truncated gzip copy, a
    permission), the lines before that, and the file named in `unreadable`."""
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            yield from handle
    except (OSError, EOFError, zlib.error) as exc:
        unreadable.append(f"{path}: {getattr(exc, 'strerror', None) or exc}")


def read_access_logs(
    logs: tuple[AccessLog, ...],
    admin_paths: tuple[str, ...],
    now: datetime,
    zone: tzinfo,
    unreadable: list[str] | None = None,
) -> dict[str, MonthTally]:
    """Each month's tally (`2026-12`) over every configured log and its copies; a log or copy
    that could not be read (whole) is named in `unreadable`."""
    unreadable = [] if unreadable is None else unreadable
    months: dict[str, MonthTally] = defaultdict(MonthTally)
    for log in logs:
        for path in _files(log, unreadable):
            for line in _lines(path, unreadable):
                moment = line_time(line, now, zone)
                if moment is None:
                    continue
                tally = months[month_of(moment, zone)]
                if log.format == "auth":
                    _auth_line(line, tally)
                else:
                    _web_line(line, moment, tally, admin_paths)
    return dict(months)


def _text(value: bytes | None) -> str:
    return (value or b"").decode("utf-8", "replace")


def _journal_json(line: bytes) -> bytes:
    """A `journalctl -o json` line as the syslog text it stands for (`sshd[812]: Accepted ...`);
    any other line as it is."""
    if not line.startswith(b"{"):
        return line
    try:
        entry = json.loads(line)
    except ValueError:
        return line
    if not isinstance(entry, dict) or not isinstance(entry.get("MESSAGE"), str):
        return line
    name = entry.get("SYSLOG_IDENTIFIER") or entry.get("_COMM") or ""
    pid = entry.get("SYSLOG_PID") or entry.get("_PID")
    prefix = f"{name}[{pid}]" if pid else str(name)
    return f"{prefix}: {entry['MESSAGE']}".encode()


def _auth_line(line: bytes, tally: MonthTally) -> None:
    line = _journal_json(line)
    if match := _FAILED.search(line):
        user = _text(match["user"])
        user = user if _USER_NAME.match(user) else NOT_A_USER_NAME
        tally.failed[(user, _text(match["source"]))] += 1
    elif match := _ACCEPTED.search(line):
        login = Login(
            _text(match["user"]),
            _text(match["source"]),
            _text(match["method"]),
            _text(match["fingerprint"]),
        )
        tally.logins[login] += 1
    elif match := _SUDO.search(line):
        tally.sudo[(_text(match["user"]), _text(match["target"]))] += 1


def _web_line(
    line: bytes, moment: datetime, tally: MonthTally, admin_paths: tuple[str, ...]
) -> None:
    match = _WEB.match(line)
    if match is None:
        return
    source, path = _text(match["source"]), _text(match["path"]).split("?")[0]
    if match["status"] in (b"401", b"403"):
        tally.denied[source].append(moment.timestamp())
    if any(path == p or path.startswith(p.rstrip("/") + "/") for p in admin_paths):
        tally.admin[(source, path)] += 1
