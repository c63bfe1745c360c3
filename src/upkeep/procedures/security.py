"""Responsible for the monthly security review runbook's work: take the permission inventory
and compare it with the committed baseline (`audit_permissions`, `record_permissions`), read the
month's access logs against the months before (`review_access`, `record_access`), and read
Lynis's report when Lynis is there (`review_lynis`, `record_lynis`)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from upkeep import report, state
from upkeep.config import Config
from upkeep.config.risk_register import DriftException
from upkeep.dbreview.interface import QueryError
from upkeep.records import Severity, Status
from upkeep.regular_file import path_kind
from upkeep.security.access_logs import Login, MonthTally, month_of, read_access_logs
from upkeep.security.authorized_keys import describe_key
from upkeep.security.baseline import BaselineError, Drift, drift, inventory_digest, read_baseline
from upkeep.security.database_roles import database_roles
from upkeep.security.inventory import Inventory, Unread, host_inventory
from upkeep.security.lynis import LynisReport, audit_system, lynis_installed
from upkeep.units import counted

__all__ = [
    "ACCESS_STATE",
    "PermissionAudit",
    "audit_permissions",
    "inventory_state_path",
    "record_access",
    "record_lynis",
    "record_permissions",
    "review_access",
    "review_lynis",
    "settings_in_force",
]

ACCESS_STATE = "security/access-months.json"
INVENTORY_METRIC = "security_inventory_items"
PREVIOUS_MONTHS = 3  # a month is compared with the average of this many before it


def inventory_state_path(digest: str) -> str:
    """Where a run keeps the inventory it took (by its digest), for `upkeep baseline accept`."""
    return f"security/inventories/{digest[:16]}.json"


def settings_in_force(config: Config) -> str:
    s = config.security
    lines = [
        f"security review settings ({config.path}):",
        f"  baseline: {s.baseline or 'none configured (security.baseline)'}",
        f"  accounts: {s.passwd}, {s.group}; admin groups {', '.join(s.admin_groups)}",
        f"  sudoers: {', '.join(map(str, s.sudoers))}",
        f"  home roots: {', '.join(map(str, s.home_roots))}",
        f"  SUID/SGID roots: {', '.join(map(str, s.suid_roots))}",
        f"  world-writable roots: {', '.join(map(str, s.world_writable_roots))}",
        f"  listening ports: {'yes' if s.listening else 'not audited'}",
        f"  paths: {len(s.paths)}; databases: {', '.join(s.databases) or 'none'}",
        f"  access logs: {', '.join(f'{a.name} ({a.format})' for a in s.access_logs) or 'none'}",
        f"  Lynis: {lynis_installed() or 'not installed'}",
    ]
    return "\n".join(lines)


# --- the permission audit ------------------------------------------------------------------


@dataclass(frozen=True)
class PermissionAudit:
    inventory: Inventory
    notes: tuple[str, ...]
    baseline: Inventory | None
    drifts: tuple[Drift, ...]
    database_errors: dict[str, str] = field(default_factory=dict)
    baseline_error: str | None = None  # the baseline file exists but cannot be read
    unread: tuple[Unread, ...] = ()  # files the inventory needed and could not read

    @property
    def digest(self) -> str:
        return inventory_digest(self.inventory)


def audit_permissions(config: Config) -> PermissionAudit:
    """The inventory of the host and the configured databases, and its drift from the
    baseline (none when there is no baseline yet)."""
    settings = config.security
    inventory, notes, unread = host_inventory(settings, config.root)
    errors: dict[str, str] = {}
    for name in settings.databases:
        try:
            inventory[f"database:{name}"] = database_roles(
                config.database(name), config.database_review.statement_timeout_s
            )
        except QueryError as exc:
            errors[name] = str(exc)
    try:
        baseline = read_baseline(settings.baseline) if settings.baseline else None
    except BaselineError as exc:
        baseline, baseline_error = None, str(exc)
    else:
        baseline_error = None
    if baseline is not None and "authorized_keys" in baseline:
        # a baseline accepted before key options were masked still holds their credentials
        keys = baseline["authorized_keys"]
        baseline["authorized_keys"] = {key: describe_key(value) for key, value in keys.items()}
    drifts = tuple(drift(baseline, inventory)) if baseline is not None else ()
    # a database or file that could not be read is not drift: its part stays as the baseline has it
    incomplete = {part for file in unread for part in file.parts}
    drifts = tuple(
        d
        for d in drifts
        if d.part.removeprefix("database:") not in errors and d.part not in incomplete
    )
    return PermissionAudit(
        inventory, tuple(notes), baseline, drifts, errors, baseline_error, tuple(unread)
    )


def _exceptions(config: Config) -> dict[str, DriftException]:
    return {entry.key: entry for entry in config.risk_register.drift}


def record_permissions(audit: PermissionAudit, config: Config, today: date | None = None) -> None:
    """Checks `security:inventory`, `security:baseline`, `security:drift`,
    `security:exceptions`, `security:database:<name>`; a finding per drift; the inventory kept
    for accepting it, when it is complete (an incomplete one would accept removals never made)."""
    today = today or datetime.now(config.tz).date()
    digest = audit.digest
    items = sum(len(part) for part in audit.inventory.values())
    if audit.unread:
        report.check(
            "security:inventory",
            Status.FAIL,
            value=len(audit.unread),
            message="; ".join(map(str, audit.unread)),
        )
    else:
        state.save(config.state_dir, inventory_state_path(digest), audit.inventory)
        report.metric(INVENTORY_METRIC, items, labels={"inventory": digest[:16]})
        report.check("security:inventory", Status.OK, message="every file of the inventory read")
    for note in audit.notes:
        print(f"note: {note}")
    if audit.baseline_error:
        report.check("security:baseline", Status.FAIL, message=audit.baseline_error)
    elif audit.baseline is None:
        where = config.security.baseline or "security.baseline (not configured)"
        report.check(
            "security:baseline",
            Status.WARN,
            message=f"no baseline at {where}: review this run's inventory, then accept it with "
            "`upkeep baseline accept RUN_ID --by NAME --reason ...`",
        )
    else:
        report.check("security:baseline", Status.OK, message=f"compared with {where_of(config)}")
    _record_drifts(audit, config, today)
    for name in config.security.databases:
        if name in audit.database_errors:
            report.check(
                f"security:database:{name}", Status.FAIL, message=audit.database_errors[name]
            )
        else:
            roles = len(audit.inventory.get(f"database:{name}", {}))
            report.check(f"security:database:{name}", Status.OK, message=f"{roles} roles/grants")
    counts = {change: 0 for change in ("added", "removed", "changed")}
    for found in audit.drifts:
        counts[found.change] += 1
    for change, count in counts.items():
        report.metric("security_drift", count, labels={"change": change})
    unread = f", {counted(len(audit.unread), 'file')} not read" if audit.unread else ""
    report.summary(
        f"{items} inventory items{unread}, {len(audit.drifts)} drifts from the baseline"
        if audit.baseline is not None
        else f"{items} inventory items{unread}, no baseline yet"
    )


def where_of(config: Config) -> str:
    path = config.security.baseline
    try:
        return str(path.relative_to(config.root)) if path else "?"
    except ValueError:
        return str(path)


def _record_drifts(audit: PermissionAudit, config: Config, today: date) -> None:
    exceptions = _exceptions(config)
    open_count = 0
    problems: list[str] = []
    for found in audit.drifts:
        entry = exceptions.pop(found.key, None)
        if entry is not None and not entry.expired(today) and entry.owner and entry.approved_by:
            report.finding(
                found.key,
                f"{found.change}: {found.describe()}; ACCEPTED until {entry.expires.isoformat()} "
                f"(owner {entry.owner}, approved by {entry.approved_by}): {entry.reason}",
                severity=Severity.INFO,
            )
            continue
        if entry is not None:
            problems.append(f"{entry.key}: expired, or without owner or approver")
        open_count += 1
        report.finding(found.key, f"{found.change}: {found.describe()}", severity=Severity.WARN)
    stale = [key for key in exceptions if key.startswith("drift:")]
    if audit.baseline is not None:
        report.check(
            "security:drift",
            Status.WARN if open_count else Status.OK,
            value=open_count,
            message=f"{open_count} drifts not in the baseline nor accepted in the register"
            if open_count
            else "the inventory matches the baseline (or its accepted exceptions)",
        )
    if problems or stale:
        report.check(
            "security:exceptions",
            Status.FAIL if problems else Status.WARN,
            message="; ".join(problems + [f"{key}: matches no drift (stale)" for key in stale]),
        )
    elif config.risk_register.drift:
        report.check("security:exceptions", Status.OK, message="every drift exception holds")


# --- the access logs -----------------------------------------------------------------------


@dataclass(frozen=True)
class AccessReview:
    month: str
    tally: MonthTally
    history: dict[str, dict[str, int]]  # earlier months' counts
    known_sources: frozenset[str]  # "user@source" seen before this month
    known_keys: frozenset[str]  # "user:fingerprint" seen before this month
    first_review: bool
    unreadable: tuple[str, ...] = ()  # logs and copies not read (whole), with why


def _load(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def review_access(config: Config, now: datetime | None = None) -> AccessReview:
    """This month's tally, and what earlier months (kept in the state directory, and still in
    the logs) hold."""
    now = now or datetime.now(UTC)
    settings = config.security
    unreadable: list[str] = []
    months = read_access_logs(
        settings.access_logs, settings.admin_paths, now, config.tz, unreadable
    )
    current = month_of(now, config.tz)
    kept = _load(config.state_dir / ACCESS_STATE)
    history = dict(kept.get("months", {}))
    sources = set(kept.get("sources", ()))
    keys = set(kept.get("keys", ()))
    for month, tally in months.items():
        if month < current:
            history[month] = tally.counts()
            sources |= {f"{login.user}@{login.source}" for login in tally.logins}
            keys |= {
                f"{login.user}:{login.fingerprint}" for login in tally.logins if login.fingerprint
            }
    history.pop(current, None)
    return AccessReview(
        current,
        months.get(current, MonthTally()),
        history,
        frozenset(sources),
        frozenset(keys),
        first_review=not kept,
        unreadable=tuple(unreadable),
    )


def _source_names(tally: MonthTally) -> set[str]:
    return {f"{login.user}@{login.source}" for login in tally.logins}


def _key_names(tally: MonthTally) -> set[str]:
    return {f"{login.user}:{login.fingerprint}" for login in tally.logins if login.fingerprint}


def _hashed(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def record_access(review: AccessReview, config: Config) -> None:
    """Checks `access:logs`, `access:failed-logins`, `access:new-sources`, `access:new-keys`,
    `access:http-denied`, `access:admin-paths`, `access:sudo`, `access:trend`; per-month metrics;
    the month kept for the next review."""
    settings = config.security
    if not settings.access_logs:
        report.check("access:logs", Status.WARN, message="no access logs configured")
        return
    # Nothing at all at the path: a symlink loop or a FIFO there is named as what it is.
    missing = [
        f"{log.name} ({log.path})" for log in settings.access_logs if path_kind(log.path) is None
    ]
    problems = [f"not found: {', '.join(missing)}"] if missing else []
    problems += [f"not read: {'; '.join(review.unreadable)}"] if review.unreadable else []
    report.check(
        "access:logs",
        Status.WARN if problems else Status.OK,
        message="; ".join(problems) or "every access log read",
    )
    tally = review.tally
    _record_failed(tally, settings.failed_login_warn)
    _record_logins(review)
    _record_web(tally, settings.burst_warn, settings.burst_window_s)
    sudo_users = sorted({user for user, _ in tally.sudo})
    report.check(
        "access:sudo",
        Status.OK,
        value=sum(tally.sudo.values()),
        message=f"sudo used by {', '.join(sudo_users)}" if sudo_users else "no sudo use",
    )
    _record_trend(review, settings.failed_login_warn)
    counts = tally.counts()
    report.summary(
        f"{review.month}: {counts['failed_logins']} failed logins, {counts['logins']} logins, "
        f"{counts['sudo']} sudo, {counts['http_denied']} answers 401/403"
    )
    history = dict(review.history)
    history[review.month] = tally.counts()
    state.save(
        config.state_dir,
        ACCESS_STATE,
        {
            "months": dict(sorted(history.items())),
            "sources": sorted(review.known_sources | _source_names(tally)),
            "keys": sorted(review.known_keys | _key_names(tally)),
        },
    )


def _record_failed(tally: MonthTally, limit: int) -> None:
    by_source: dict[str, int] = {}
    users: dict[str, set[str]] = {}
    for (user, source), count in tally.failed.items():
        by_source[source] = by_source.get(source, 0) + count
        users.setdefault(source, set()).add(user)
    noisy = {source: n for source, n in by_source.items() if n >= limit}
    for source, count in sorted(noisy.items()):
        tried = ", ".join(sorted(users[source])[:10])
        report.finding(
            f"access:failed:{_hashed(source)}",
            f"{count} failed logins from {source} this month (users tried: {tried})",
        )
    report.check(
        "access:failed-logins",
        Status.WARN if noisy else Status.OK,
        value=sum(by_source.values()),
        message=f"{counted(len(noisy), 'source')} with {limit} or more failed logins"
        if noisy
        else "no source over the limit",
    )


def _record_logins(review: AccessReview) -> None:
    new_sources: dict[str, Login] = {}
    new_keys: dict[str, Login] = {}
    for login in review.tally.logins:
        if f"{login.user}@{login.source}" not in review.known_sources:
            new_sources.setdefault(f"{login.user}@{login.source}", login)
        if login.fingerprint and f"{login.user}:{login.fingerprint}" not in review.known_keys:
            new_keys.setdefault(f"{login.user}:{login.fingerprint}", login)
    severity = Severity.INFO if review.first_review else Severity.WARN
    for _name, login in sorted(new_sources.items()):
        report.finding(
            f"access:new-source:{login.user}:{_hashed(login.source)}",
            f"{login.user} logged in from {login.source} ({login.method}), never seen before",
            severity=severity,
        )
    for _name, login in sorted(new_keys.items()):
        report.finding(
            f"access:new-key:{login.user}:{_hashed(login.fingerprint)}",
            f"{login.user} logged in with a key never seen before: {login.fingerprint}",
            severity=severity,
        )
    first = " (first review: learned, not judged)" if review.first_review else ""
    for name, found in (("access:new-sources", new_sources), ("access:new-keys", new_keys)):
        report.check(
            name,
            Status.WARN if found and not review.first_review else Status.OK,
            value=len(found),
            message=f"{len(found)} never seen before{first}",
        )


def _record_web(tally: MonthTally, burst_warn: int, window_s: int) -> None:
    bursts = {
        source: tally.worst_burst(source, window_s)
        for source in tally.denied
        if tally.worst_burst(source, window_s) >= burst_warn
    }
    for source, count in sorted(bursts.items()):
        report.finding(
            f"access:denied-burst:{_hashed(source)}",
            f"{source} got {count} answers 401/403 within {window_s} s",
        )
    report.check(
        "access:http-denied",
        Status.WARN if bursts else Status.OK,
        value=sum(len(t) for t in tally.denied.values()),
        message=f"{counted(len(bursts), 'source')} with bursts of {burst_warn}+ in {window_s} s",
    )
    sources: dict[str, list[str]] = {}
    for (source, path), _count in tally.admin.items():
        sources.setdefault(source, []).append(path)
    for source, paths in sorted(sources.items()):
        report.finding(
            f"access:admin-path:{_hashed(source)}",
            f"{source} requested admin paths: {', '.join(sorted(set(paths))[:10])}",
        )
    report.check(
        "access:admin-paths",
        Status.WARN if sources else Status.OK,
        value=sum(tally.admin.values()),
        message=f"{len(sources)} sources requested admin paths",
    )


def _record_trend(review: AccessReview, failed_login_warn: int) -> None:
    counts = review.tally.counts()
    earlier = [review.history[m] for m in sorted(review.history)[-PREVIOUS_MONTHS:]]
    for kind, value in counts.items():
        report.metric("security_access_events", value, labels={"kind": kind, "month": review.month})
    if not earlier:
        report.check("access:trend", Status.OK, message="no earlier month to compare with yet")
        return
    risen = []
    for kind, value in counts.items():
        average = sum(month.get(kind, 0) for month in earlier) / len(earlier)
        if value >= max(2 * average, failed_login_warn) and value > average:
            risen.append(f"{kind} {value} (average {average:.0f})")
    report.check(
        "access:trend",
        Status.WARN if risen else Status.OK,
        message=("more than double the months before: " + "; ".join(risen))
        if risen
        else f"in line with the {len(earlier)} months before",
    )


# --- Lynis ---------------------------------------------------------------------------------


def review_lynis(config: Config) -> LynisReport | str | None:
    """Lynis's report of an audit run now, why there is none, or None when it is switched
    off (`security.lynis: false`)."""
    return audit_system(config.security.lynis_report) if config.security.lynis else None


def record_lynis(found: LynisReport | str | None) -> None:
    """`lynis:report` and the hardening index metric; a finding per warning (warn) and
    suggestion (info). Lynis asked for but not run: `lynis:report` warns, saying why.
    Switched off: says so, records nothing."""
    if found is None:
        print("Lynis is switched off here (security.lynis: false)")
        return
    if isinstance(found, str):
        report.check("lynis:report", Status.WARN, message=f"no Lynis audit this month: {found}")
        return
    if found.hardening_index is not None:
        report.metric("lynis_hardening_index", found.hardening_index)
    for item in found.warnings:
        report.finding(f"lynis:{item.test}", f"{item.text} {item.detail}".strip())
    for item in found.suggestions:
        report.finding(
            f"lynis:{item.test}", f"{item.text} {item.detail}".strip(), severity=Severity.INFO
        )
    report.check(
        "lynis:report",
        Status.WARN if found.warnings or found.hardening_index is None else Status.OK,
        value=found.hardening_index,
        message=f"Lynis {found.version}: {len(found.warnings)} warnings, "
        f"{len(found.suggestions)} suggestions",
    )
