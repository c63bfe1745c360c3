"""Responsible for the `logs:` entries of `upkeep.yml`: a log's path (wildcards in its file name
only), its patterns (each a valid regular expression), where its first scan starts
(`first_scan`: end, whole or a window) and its rotation (when, how, `create` with an owner and
group that exist here, and a writer told to reopen it: a rename without `pid_file` or
`postrotate` is refused)."""

from __future__ import annotations

import grp
import pwd
import re
import signal as signal_module
from datetime import timedelta
from pathlib import Path

from upkeep.config.limits import read_limit
from upkeep.config.model import (
    ROTATION_METHODS,
    ROTATION_PERIODS,
    LogCreate,
    LogRotation,
    LogSource,
)
from upkeep.config.reader import Section
from upkeep.errors import ConfigError

__all__ = ["read_log"]

GLOB_CHARACTERS = "*?["


def read_log(s: Section, base: Path) -> LogSource:
    defaults = LogSource(name="", path=Path())
    log = LogSource(
        name=s.name("name"),
        path=s.path("path", base, resolve=False),
        error_patterns=s.strings("error_patterns", defaults.error_patterns),
        warn_patterns=s.strings("warn_patterns", defaults.warn_patterns),
        errors=read_limit(s.section("errors"), None),
        rotate=_rotation(s.section("rotate"), base),
        mask_ip_addresses=s.bool("mask_ip_addresses", False),
        first_scan_window=_first_scan(s),
        retention_days=s.int("retention_days", None, minimum=1),
    )
    s.done()
    if any(char in part for part in log.path.parent.parts for char in GLOB_CHARACTERS):
        raise ConfigError(
            f"{s.file}: {s.where}.path: {log.path}: only the file name may hold wildcards"
            " (such as /var/log/nginx/*.log); expected a directory without *, ? or ["
        )
    for pattern in log.error_patterns + log.warn_patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigError(
                f"{s.file}: {s.where}: pattern {pattern!r} is not a valid regular expression: {exc}"
            ) from None
    return log


_WINDOW = re.compile(r"(?P<amount>\d+(?:\.\d+)?)\s*(?P<unit>[smhd])")
_WINDOW_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _first_scan(s: Section) -> timedelta | None:
    """`first_scan`: `end` (the default: from the end), `whole`, or a window such as `24h`."""
    value = s.get("first_scan", str, "end, whole or a window such as 24h", "end")
    window = _WINDOW.fullmatch(value.strip())
    if value == "end":
        return timedelta(0)
    if value == "whole":
        return None
    if window is None:
        s.fail("first_scan", "end, whole or a window such as 90m, 24h or 7d", value)
    assert window is not None
    unit = timedelta(seconds=_WINDOW_UNITS[window["unit"]])
    return s.period("first_scan", float(window["amount"]), unit, value, "a window such as 24h")


def _rotation(s: Section | None, base: Path) -> LogRotation | None:
    if s is None:
        return None
    rotation = LogRotation(
        max_bytes=s.int("max_bytes", None, minimum=1),
        max_age_days=s.number("max_age_days", None),
        keep=s.int("keep", 7, minimum=1),
        compress=s.bool("compress", True),
        method=s.choice("method", ROTATION_METHODS, "rename"),
        pid_file=s.path("pid_file", base, None),
        signal=s.str("signal", "SIGHUP"),
        period=s.choice("period", ROTATION_PERIODS, "daily"),
        max_copy_age_days=s.number("max_copy_age_days", None),
        create=_log_create(s.section("create")),
        postrotate=s.str("postrotate", None),
    )
    s.done()
    if rotation.max_bytes is None and rotation.max_age_days is None:
        raise ConfigError(
            f"{s.file}: {s.where}: expected max_bytes, max_age_days or both (when to rotate)"
        )
    if rotation.signal not in signal_module.Signals.__members__:
        s.fail("signal", "a signal name such as SIGHUP or SIGUSR1", rotation.signal)
    if rotation.method == "rename" and rotation.pid_file is None and rotation.postrotate is None:
        raise ConfigError(
            f"{s.file}: {s.where}: method rename moves the log aside, and a writer nobody "
            "tells keeps writing to the moved copy; expected pid_file (the writer to signal "
            "so that it reopens the log), a postrotate command (one that makes it reopen, "
            "such as `systemctl reload nginx`) or method: copytruncate"
        )
    if rotation.method != "rename" and rotation.create != LogCreate():
        raise ConfigError(
            f"{s.file}: {s.where}.create: only method rename creates a new log file "
            f"({rotation.method} keeps the same one); expected no create with it"
        )
    return rotation


_MODE = re.compile(r"0?[0-7]{3}")


def _log_create(s: Section | None) -> LogCreate:
    """`create: {mode: "0640", owner: www-data, group: adm}`: each name must exist here."""
    if s is None:
        return LogCreate()
    mode = s.get("mode", str, "an octal mode as a quoted string, such as '0640'", None)
    if mode is not None and not _MODE.fullmatch(mode):
        s.fail("mode", "an octal mode as a quoted string, such as '0640'", mode)
    create = LogCreate(
        mode=None if mode is None else int(mode, 8),
        owner=s.str("owner", None),
        group=s.str("group", None),
    )
    s.done()
    for key, name, exists in (
        ("owner", create.owner, _user_exists),
        ("group", create.group, _group_exists),
    ):
        if name is not None and not exists(name):
            what = "user" if key == "owner" else "group"
            raise ConfigError(
                f"{s.file}: {s.where}.{key}: no {what} {name!r} on this machine; expected a "
                f"{what} name or numeric id"
            )
    return create


def _user_exists(name: str) -> bool:
    if name.isdigit():
        return True
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _group_exists(name: str) -> bool:
    if name.isdigit():
        return True
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True
