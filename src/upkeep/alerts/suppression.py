"""Responsible for silences: people's decisions, kept in the evidence ledger, that a runbook's or a
check's alerts are not sent until an expiry (`upkeep silence add|list|expire`), and the one
question alerting asks: is this run's alert suppressed at `at`, and why.

An open maintenance window (upkeep.config.windows) holds back its runbooks' alerts the same way.
A silence is a `silence` decision whose subject is `runbook:NAME`, `check:CHECK` or
`fingerprint:alert:NAME`, with the expiry in its details; `silence-expired` (subject: the
silence's record id) ends one early. A runbook silence, or one of the runbook's alert fingerprint
(`alert:NAME`, the key alert messages and `upkeep ack` use), suppresses every alert about that
runbook; check silences suppress a run's alert when every check of the run that is not ok is
silenced. An expired silence suppresses nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from upkeep.alerts.deliver import DeliveryError, deliver
from upkeep.alerts.escalate import fingerprint
from upkeep.alerts.message import Message
from upkeep.config import Config
from upkeep.config.windows import open_window
from upkeep.evidence import DecisionEntry, EvidenceStore, LedgerEntry
from upkeep.records import Decision, Status

__all__ = [
    "SCOPES",
    "SILENCE",
    "SILENCE_ENDING",
    "SILENCE_EXPIRED",
    "announce_ending",
    "Silence",
    "expire_silence",
    "parse_until",
    "silence",
    "silences",
    "silences_in",
    "suppressed",
]

SILENCE = "silence"
SILENCE_EXPIRED = "silence-expired"
SILENCE_ENDING = "silence-ending"  # the targets were told a silence ends soon
ENDING_SOON = timedelta(hours=24)
AUTHOR = "upkeep"
_READ: dict[str, Any] = {}  # the silences of the ledger as last read, and its state then
SCOPES = ("runbook", "check", "fingerprint")
LAST_YEAR = 9998  # the last year a silence may end in, as for `--at` (upkeep.cli.options)
# What a check's name can be: text on one line without blanks at either end. upkeep's own are
# COMPONENT:THING (disk:/var, app:restore), a runbook of one's own may name its checks as it
# likes (`backup-age`); a name no last run reported is said to be so, not refused.
_CHECK_NAME = re.compile(r"\S(?:[^\x00-\x1f\x7f-\x9f]*\S)?")
_PERIOD = re.compile(r"(?P<amount>[1-9][0-9]*)(?P<unit>[mhdw])")
_UNITS = {
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}


@dataclass(frozen=True)
class Silence:
    """One silence as the ledger holds it, with when it was ended early, if it was."""

    record_id: str
    scope: str  # "runbook" or "check"
    name: str  # the runbook's name or the check's name
    author: str
    reason: str
    at: datetime
    until: datetime
    expired_at: datetime | None = None
    expired_by: str | None = None

    @property
    def ends(self) -> datetime:
        """When it stops suppressing: its expiry, or when it was expired early."""
        return min(self.until, self.expired_at) if self.expired_at else self.until

    def active(self, at: datetime) -> bool:
        """Whether it suppresses at `at`."""
        return self.at <= at < self.ends

    def covers(self, scope: str, name: str) -> bool:
        return (self.scope, self.name) == (scope, name)


def parse_until(value: str, now: datetime) -> datetime:
    """`4h`, `2d`, `1w` from now, or an ISO date-time (in `now`'s time zone when it names
    none), no later than the year 9998; ValueError says what was expected."""
    text = value.strip()
    match = _PERIOD.fullmatch(text)
    try:
        if match is not None:
            moment = now + int(match["amount"]) * _UNITS[match["unit"]]
        else:
            moment = datetime.fromisoformat(text)
            moment = moment if moment.tzinfo else moment.replace(tzinfo=now.tzinfo)
        # Shown and compared in other zones later: a year past 9998 may not convert.
        in_range = moment.astimezone(UTC).year <= LAST_YEAR
    except OverflowError:
        in_range = False
    except ValueError:
        raise ValueError(
            f"--until: expected a period such as 4h, 2d or 1w, or a date-time such as "
            f"2026-12-24T08:00, got {value!r}"
        ) from None
    if not in_range:
        raise ValueError(
            f"--until: expected a moment no later than the year {LAST_YEAR}, got {value!r}"
        )
    return moment


def silence(
    store: EvidenceStore,
    scope: str,
    name: str,
    *,
    until: datetime,
    author: str,
    reason: str,
    now: datetime,
) -> Silence:
    """Record a silence; ValueError (nothing recorded) for an unknown scope, a check name not of
    the form a check has, an empty reason or an expiry that is not in the future."""
    if scope not in SCOPES:
        raise ValueError(f"silence: expected one of {', '.join(SCOPES)}, got {scope!r}")
    if scope == "check" and not _CHECK_NAME.fullmatch(name):
        raise ValueError(
            f"silence: expected a check's name as a run's report names it, on one line (such "
            f"as disk:/var), got {name!r}"
        )
    if not reason.strip():
        raise ValueError("--reason: expected why the alerts may wait, got nothing")
    if until <= now:
        raise ValueError(f"--until: expected a moment after now ({now:%Y-%m-%d %H:%M %Z})")
    decision = Decision(
        SILENCE,
        f"{scope}:{name}",
        author,
        now,
        reason.strip(),
        {"scope": scope, "name": name, "until": until.isoformat()},
    )
    entry = store.record_decision(decision)
    return Silence(entry.record_id, scope, name, author, reason.strip(), now, until)


def expire_silence(
    store: EvidenceStore, record_id: str, *, author: str, reason: str, now: datetime
) -> Silence:
    """End a silence now; ValueError (nothing recorded) when no silence with that id is active."""
    found = {s.record_id: s for s in silences(store)}
    current = found.get(record_id)
    if current is None or not current.active(now):
        active = ", ".join(s.record_id for s in found.values() if s.active(now)) or "none"
        raise ValueError(f"no active silence {record_id!r}; active ones: {active}")
    store.record_decision(
        Decision(SILENCE_EXPIRED, record_id, author, now, reason.strip() or "expired by hand")
    )
    return Silence(
        current.record_id,
        current.scope,
        current.name,
        current.author,
        current.reason,
        current.at,
        current.until,
        now,
        author,
    )


def silences(store: EvidenceStore) -> list[Silence]:
    """Every silence in the ledger, oldest first, with early expiries applied. Read once per
    state of the ledger (it is append-only: its size changes with every line), since alerting
    asks once per runbook."""
    try:
        stat = store.ledger_path.stat()
    except FileNotFoundError:
        return []
    key = (str(store.ledger_path), stat.st_ino, stat.st_size, stat.st_mtime_ns)
    if _READ.get("key") != key:
        _READ.clear()
        _READ.update(key=key, silences=silences_in(store.decisions()))
    return list(_READ["silences"])


def silences_in(decisions: Iterable[DecisionEntry]) -> list[Silence]:
    """The silences among these decision records, oldest first, with early expiries applied."""
    found: dict[str, Silence] = {}
    for entry in decisions:
        decision = entry.decision
        if decision.type == SILENCE:
            details = decision.details
            found[entry.record_id] = Silence(
                entry.record_id,
                str(details.get("scope")),
                str(details.get("name")),
                decision.author,
                decision.reason,
                decision.at,
                datetime.fromisoformat(str(details.get("until"))),
            )
        elif decision.type == SILENCE_EXPIRED and decision.subject in found:
            old = found[decision.subject]
            found[decision.subject] = Silence(
                old.record_id,
                old.scope,
                old.name,
                old.author,
                old.reason,
                old.at,
                old.until,
                decision.at,
                decision.author,
            )
    return list(found.values())


def suppressed(
    config: Config, store: EvidenceStore, latest: LedgerEntry, at: datetime
) -> str | None:
    """Why the alert about run `latest` is suppressed at `at` (a maintenance window for its
    runbook is open, or a silence covers it), or None when it is not."""
    window = open_window(config.maintenance_windows, latest.runbook, at)
    if window is not None:
        return f"inside maintenance window {window.name} (maintenance_windows in upkeep.yml)"
    active = [s for s in silences(store) if s.active(at)]
    if not active:
        return None
    for item in active:
        if item.covers("runbook", latest.runbook) or item.covers(
            "fingerprint", fingerprint(latest.runbook)
        ):
            return _why(item)
    if not any(item.scope == "check" for item in active):
        return None
    record = store.load(latest)
    not_ok = [check.name for check in record.checks if check.status is not Status.OK]
    covering = [_covering(active, name) for name in not_ok]
    if not_ok and all(covering):
        return "; ".join(dict.fromkeys(_why(item) for item in covering if item))
    return None


def _covering(active: Iterable[Silence], check: str) -> Silence | None:
    return next((item for item in active if item.covers("check", check)), None)


def _why(item: Silence) -> str:
    return (
        f"silenced ({item.scope} {item.name}) by {item.author} until "
        f"{item.until:%Y-%m-%d %H:%M %Z}: {item.reason}"
    )


def announce_ending(
    config: Config,
    store: EvidenceStore,
    now: datetime,
    notify: Callable[[str], None] = lambda text: None,
) -> list[Silence]:
    """Tell every alert target, once, about each active silence that ends within ENDING_SOON
    (a `silence-ending` record says it was told; a silence no target could be told about is
    tried again next time). The silences announced."""
    if not config.alerts.targets or not store.ledger_path.exists():
        return []
    from filelock import FileLock, Timeout  # here: the site imports this module

    lock_path = config.state_dir / "locks" / "silence-ending.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(lock_path), timeout=60):
            return _announce_ending(config, store, now, notify)
    except Timeout:
        notify(f"alerts: {lock_path} is held by another upkeep; it announces ending silences")
        return []


def _announce_ending(
    config: Config, store: EvidenceStore, now: datetime, notify: Callable[[str], None]
) -> list[Silence]:
    decisions = store.decisions()
    told = {e.decision.subject for e in decisions if e.decision.type == SILENCE_ENDING}
    announced = []
    for item in silences_in(decisions):
        if not item.active(now) or item.ends - now > ENDING_SOON or item.record_id in told:
            continue
        ends = item.ends.astimezone(config.tz)
        message = Message(
            f"[SILENCE ENDING] {item.scope} {item.name} is alerted on again from "
            f"{ends:%Y-%m-%d %H:%M %Z}",
            f"The silence of {item.scope} {item.name} by {item.author} ({item.reason}) ends "
            f"{ends:%Y-%m-%d %H:%M %Z}. To keep it, add a new one: upkeep silence add "
            f"{item.scope} {item.name} --until ... --reason ...",
            {
                "kind": SILENCE_ENDING,
                "runbook": "silence",
                "silence": item.record_id,
                "scope": item.scope,
                "name": item.name,
                "until": item.ends.isoformat(),
            },
        )
        reached = []
        for target in config.alerts.targets:
            try:
                deliver(target, message, now)
            except DeliveryError as exc:
                notify(f"alerts: not delivered: {exc}")
                continue
            reached.append(target.name)
        if reached:
            store.record_decision(
                Decision(
                    SILENCE_ENDING,
                    item.record_id,
                    AUTHOR,
                    now,
                    f"told {', '.join(reached)} that the silence of {item.scope} {item.name} "
                    f"ends {ends:%Y-%m-%d %H:%M %Z}",
                    {"targets": reached},
                )
            )
            announced.append(item)
    return announced
