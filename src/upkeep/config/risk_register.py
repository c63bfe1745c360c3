"""Responsible for the risk-acceptance register, `risk-register.yml` beside `upkeep.yml`: the
vulnerabilities people decided to live with for a while (id and aliases, package, reason, owner,
expiry, approver), the permission drifts accepted for a while (`drift:`, by the drift's key) and
the checks waived for a while (`checks:`, by runbook and check name), read and checked for form
at load; whether an entry still holds (expired, without an owner or approver, matching nothing)
is for the run to say (`upkeep.updates.risk`, `upkeep.waivers`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from fnmatch import fnmatchcase
from pathlib import Path

from upkeep.config.reader import Section, parse_document
from upkeep.errors import ConfigError
from upkeep.regular_file import read_regular

__all__ = ["CheckWaiver", "DriftException", "RiskEntry", "RiskRegister", "read_risk_register"]


@dataclass(frozen=True)
class RiskEntry:
    """One accepted vulnerability: `id` (or any of `aliases`) in `package`, accepted until
    `expires` (that day included) for `reason`, owned by `owner`, approved by `approved_by`."""

    id: str
    package: str
    reason: str
    expires: date
    owner: str | None = None
    approved_by: str | None = None
    aliases: tuple[str, ...] = ()

    @property
    def ids(self) -> frozenset[str]:
        """Every id the entry answers to, upper-cased (advisory ids are case-insensitive)."""
        return frozenset(name.upper() for name in (self.id, *self.aliases))

    def expired(self, today: date) -> bool:
        return today > self.expires

    def matches(self, package: str, ids: frozenset[str]) -> bool:
        return _canonical(package) == _canonical(self.package) and bool(self.ids & ids)


@dataclass(frozen=True)
class DriftException:
    """A permission drift (the security review's finding key, `drift:...`) accepted until
    `expires` (that day included), without accepting it into the baseline."""

    key: str
    reason: str
    expires: date
    owner: str | None = None
    approved_by: str | None = None

    def expired(self, today: date) -> bool:
        return today > self.expires


@dataclass(frozen=True)
class CheckWaiver:
    """A check of one runbook whose warn or fail is an accepted risk until `expires` (that day
    included): the check is shown as waived, never as ok. `check` is the check's name, or a
    shell-style pattern (`disk:/srv/*`) for a family of checks."""

    runbook: str
    check: str
    reason: str
    expires: date
    owner: str | None = None
    approved_by: str | None = None

    def expired(self, today: date) -> bool:
        return today > self.expires

    def matches(self, runbook: str, check: str) -> bool:
        return runbook == self.runbook and fnmatchcase(check, self.check)


@dataclass(frozen=True)
class RiskRegister:
    """The register's entries and the file they were read from (None: no register file)."""

    path: Path | None = None
    entries: tuple[RiskEntry, ...] = ()
    drift: tuple[DriftException, ...] = ()
    checks: tuple[CheckWaiver, ...] = ()


def read_risk_register(path: Path | None) -> RiskRegister:
    """The register in `path`; an empty one when there is no such file. ConfigError naming the
    file and entry for anything malformed."""
    if path is None or not path.exists():
        return RiskRegister(None, ())
    try:
        raw = read_regular(path)  # a FIFO is refused, not waited on
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the risk register: {exc.strerror}") from None
    top = Section(parse_document(raw, path), "", path)
    entries = top.items("entries", _entry)
    drift = top.items("drift", _drift)
    checks = top.items("checks", _waiver)
    top.done()
    seen: set[tuple[str, str]] = set()
    for entry in entries:
        key = (_canonical(entry.package), entry.id.upper())
        if key in seen:
            raise ConfigError(
                f"{path}: entries: {entry.id} for {entry.package} is listed twice; expected "
                "one entry per vulnerability and package"
            )
        seen.add(key)
    if len({d.key for d in drift}) != len(drift):
        raise ConfigError(f"{path}: drift: a key is listed twice; expected one entry per drift")
    waived = [(w.runbook, w.check) for w in checks]
    for twice in sorted({key for key in waived if waived.count(key) > 1}):
        raise ConfigError(
            f"{path}: checks: {twice[1]} of {twice[0]} is waived twice; expected one waiver per "
            "check of a runbook"
        )
    return RiskRegister(path, entries, drift, checks)


def _waiver(s: Section) -> CheckWaiver:
    waiver = CheckWaiver(
        runbook=s.str("runbook"),
        check=s.str("check"),
        reason=s.str("reason"),
        expires=_date(s, "expires"),
        # As for vulnerabilities: a waiver without owner or approver is read and waives
        # nothing, so the check fails naming the waiver rather than every command refusing.
        owner=s.str("owner", None),
        approved_by=s.str("approved_by", None),
    )
    s.done()
    return waiver


def _drift(s: Section) -> DriftException:
    exception = DriftException(
        key=s.str("key"),
        reason=s.str("reason"),
        expires=_date(s, "expires"),
        owner=s.str("owner", None),
        approved_by=s.str("approved_by", None),
    )
    s.done()
    return exception


def _entry(s: Section) -> RiskEntry:
    aliases = s.strings("aliases", ())
    entry = RiskEntry(
        id=s.str("id"),
        package=s.str("package"),
        reason=s.str("reason"),
        expires=_date(s, "expires"),
        # Missing owner or approver is read, not refused: the run fails on it, naming the entry,
        # so that a register that lost its owner stops the weekly review rather than every run.
        owner=s.str("owner", None),
        approved_by=s.str("approved_by", None),
        aliases=aliases,
    )
    s.done()
    return entry


def _date(s: Section, key: str) -> date:
    if key not in s.data:
        raise ConfigError(f"{s.file}: {s.where}.{key}: required key is missing")
    value = s.data.pop(key)
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    s.fail(key, "a date such as 2027-03-31 (the last day the acceptance holds)", value)
    raise AssertionError("unreachable")


def _canonical(name: str) -> str:
    """A package name as PyPI compares them (PEP 503): case and runs of -_. do not matter."""
    from packaging.utils import canonicalize_name

    return str(canonicalize_name(name))
