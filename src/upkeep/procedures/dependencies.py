"""Responsible for the weekly dependency review runbook's work: audit every configured Python
environment and lock file with pip-audit, find their updates on the configured index, look at the
OS's upgradable packages, apply the risk-acceptance register to all of it (`review`), grade and
record the result (`record_review`), and on request patch the virtualenvs (`patch`, then
`record_patching`). A source that cannot be audited is a failed check naming it, never an ok."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from upkeep import report
from upkeep.config import Config
from upkeep.config.updates import PythonTarget, UpdatesSettings
from upkeep.masking import mask_sensitive
from upkeep.records import Severity, Status
from upkeep.units import counted
from upkeep.updates import apt
from upkeep.updates.index import PackageIndexError, available_updates
from upkeep.updates.model import Update, UpdateKind, Vulnerability
from upkeep.updates.patching import PatchOutcome, apply_patch_updates, patchable
from upkeep.updates.pip_audit import AuditError, AuditResult, audit
from upkeep.updates.risk import Acceptance, apply_register

__all__ = [
    "OsReview",
    "Review",
    "TargetReview",
    "patch",
    "record_patching",
    "record_review",
    "review",
    "settings_in_force",
]

DAY_S = 86400


@dataclass(frozen=True)
class TargetReview:
    """One Python environment or lock file: pip-audit's result or why there is none, and its
    updates on the index (None: not looked up) or why they could not be."""

    target: PythonTarget
    audit: AuditResult | None = None
    audit_error: AuditError | None = None
    updates: tuple[Update, ...] | None = None
    unlisted: tuple[str, ...] = ()
    index_error: str | None = None


@dataclass(frozen=True)
class OsReview:
    """The OS side: apt's upgradable packages, the age of its lists, debsecan's packages."""

    updates: tuple[apt.OsUpdate, ...] = ()
    error: str | None = None
    lists_age_s: float | None = None
    debsecan: tuple[str, ...] | None = None
    debsecan_error: str | None = None


@dataclass(frozen=True)
class Review:
    targets: tuple[TargetReview, ...]
    acceptance: Acceptance
    os: OsReview | None = None
    today: date = field(default_factory=date.today)


def settings_in_force(config: Config) -> str:
    """What the review reads, from upkeep.yml: targets, advisory source, index, register, OS."""
    updates = config.updates
    lines = [f"dependency review settings ({config.path}):"]
    lines += [f"  {t.name}: {t.source}" for t in updates.python] or ["  no Python targets"]
    lines.append(f"  advisories: {updates.advisory_source}")
    lines.append(f"  versions: {updates.index_url or 'no index configured: no outdated check'}")
    register = config.risk_register
    lines.append(
        f"  risk register: {register.path} ({len(register.entries)} entries)"
        if register.path
        else f"  risk register: none ({updates.risk_register} does not exist)"
    )
    lines.append(f"  OS packages: {updates.os}")
    # An index or OSV URL may carry credentials (https://user:token@…): never print them.
    return mask_sensitive("\n".join(lines))


def review(config: Config, today: date | None = None) -> Review:
    """Audit, look up updates, read apt: everything the report grades. Never raises for one
    source: what went wrong is kept with it."""
    settings = config.updates
    targets = tuple(_review_target(target, settings) for target in settings.python)
    vulnerabilities = [v for t in targets if t.audit for v in t.audit.vulnerabilities]
    complete = all(t.audit is not None for t in targets)
    today = today or datetime.now(config.tz).date()  # an expiry day ends in upkeep.yml's zone
    acceptance = apply_register(vulnerabilities, config.risk_register, today, complete=complete)
    os_review = _review_os(settings) if settings.os == "apt" else None
    return Review(targets, acceptance, os_review, today)


def _review_target(target: PythonTarget, settings: UpdatesSettings) -> TargetReview:
    try:
        result = audit(target, settings)
    except AuditError as exc:
        return TargetReview(target, audit_error=exc)
    if settings.index_url is None:
        return TargetReview(target, result)
    try:
        updates, unlisted = available_updates(settings.index_url, result.packages)
    except PackageIndexError as exc:
        return TargetReview(target, result, index_error=str(exc))
    return TargetReview(target, result, updates=tuple(updates), unlisted=tuple(unlisted))


def _review_os(settings: UpdatesSettings) -> OsReview:
    try:
        updates = tuple(apt.upgradable(settings.timeout_s))
    except (apt.AptError, OSError) as exc:
        return OsReview(error=str(exc))
    debsecan: tuple[str, ...] | None = None
    debsecan_error = None
    if settings.debsecan_suite is not None:
        try:
            debsecan = tuple(apt.debsecan_packages(settings.debsecan_suite, settings.timeout_s))
        except (apt.AptError, OSError) as exc:
            debsecan_error = str(exc)
    return OsReview(updates, None, apt.lists_age_seconds(), debsecan, debsecan_error)


# --- grading and recording -------------------------------------------------------------------


def record_review(run: Review, config: Config) -> None:
    """Record every check, metric and finding of the review, and a one-line summary."""
    if not run.targets:
        report.check(
            "deps:python",
            Status.WARN,
            message="no Python environment or lock file is configured (updates.python): "
            "nothing was audited",
        )
    recorded: set[str] = set()  # a vulnerability two targets share is one finding
    for target in run.targets:
        _record_vulnerabilities(target, run.acceptance, recorded)
        _record_updates(target, config.updates)
    _record_register(run, config)
    if run.os is not None:
        _record_os(run.os, config.updates)
    report.summary(_summary(run))


def _record_vulnerabilities(
    target: TargetReview, acceptance: Acceptance, recorded: set[str]
) -> None:
    name = f"deps:{target.target.name}:vulnerabilities"
    if target.audit is None:
        assert target.audit_error is not None
        report.check(name, Status.FAIL, message=f"not audited: {target.audit_error}")
        return
    mine = set(target.audit.vulnerabilities)
    open_ = [v for v in acceptance.open if v in mine]
    accepted = [(v, e) for v, e in acceptance.accepted if v in mine]
    for vuln in open_:
        if _first(_vuln_key(vuln), recorded):
            report.finding(_vuln_key(vuln), _vuln_text(vuln), severity=Severity.FAIL)
    for vuln, entry in accepted:
        if not _first(_vuln_key(vuln), recorded):
            continue
        report.finding(
            _vuln_key(vuln),
            f"ACCEPTED until {entry.expires.isoformat()} (owner {entry.owner}, approved by "
            f"{entry.approved_by}: {entry.reason}): {_vuln_text(vuln)}",
            severity=Severity.INFO,
        )
    for state, count in (("open", len(open_)), ("accepted", len(accepted))):
        report.metric(
            "dependency_vulnerabilities",
            count,
            labels={"target": target.target.name, "state": state},
        )
    audited = f"{len(target.audit.packages)} packages audited"
    skipped = (
        f"; not audited: {', '.join(f'{n} ({why})' for n, why in target.audit.skipped)}"
        if target.audit.skipped
        else ""
    )
    if open_:
        status = Status.FAIL
        text = f"{len(open_)} open vulnerabilities ({_ids(open_)})"
    elif accepted:
        status = Status.WARN
        found = counted(len(accepted), "vulnerability", "vulnerabilities")
        text = f"{found}, all accepted in the risk register"
    elif not target.audit.packages:
        # An empty lock file (or one pip-audit read nothing from) audits nothing: not "ok".
        status, text = Status.WARN, "nothing was audited: no package listed"
    else:
        status, text = Status.OK, "no known vulnerability"
    report.check(name, status, value=len(open_), limit=0, message=f"{text}; {audited}{skipped}")


def _record_updates(target: TargetReview, settings: UpdatesSettings) -> None:
    if settings.index_url is None or target.audit is None:
        return  # the summary and the vulnerability check say why
    name = f"deps:{target.target.name}:updates"
    if target.index_error is not None:
        report.check(name, Status.FAIL, message=f"updates not looked up: {target.index_error}")
        return
    assert target.updates is not None
    for update in target.updates:
        minor = update.kind is not UpdateKind.MAJOR
        prefix = "update" if minor else "update-major"
        report.finding(
            f"{prefix}:{target.target.name}:{update.package}",
            f"{update.package} {update.current} -> {update.latest} ({update.kind.value})"
            + ("" if minor else ": a major update, for the monthly system updates"),
            severity=Severity.WARN if minor else Severity.INFO,
        )
    for kind in UpdateKind:
        count = sum(u.kind is kind for u in target.updates)
        report.metric(
            "dependency_updates", count, labels={"target": target.target.name, "kind": kind.value}
        )
    pending = patchable(target.updates)
    majors = len(target.updates) - len(pending)
    unlisted = f"; not on the index: {', '.join(target.unlisted)}" if target.unlisted else ""
    text = (
        f"{len(pending)} patch/minor updates to apply ({', '.join(u.package for u in pending)}), "
        if pending
        else "no patch or minor update pending, "
    ) + f"{majors} major{unlisted}"
    report.check(
        name, Status.WARN if pending else Status.OK, value=len(pending), limit=0, message=text
    )


def _record_register(run: Review, config: Config) -> None:
    register = config.risk_register
    for problem in run.acceptance.problems:
        entry = problem.entry
        report.finding(
            f"risk:{entry.package}:{entry.id}",
            f"risk register entry {entry.id} ({entry.package}) {problem.why}",
            severity=Severity.FAIL,
        )
    for entry in run.acceptance.stale:
        report.finding(
            f"risk-stale:{entry.package}:{entry.id}",
            f"risk register entry {entry.id} ({entry.package}) matches no vulnerability any "
            "more: remove it",
            severity=Severity.WARN,
        )
    where = register.path or config.updates.risk_register
    if run.acceptance.problems:
        listed = "; ".join(f"{p.entry.id} {p.why}" for p in run.acceptance.problems)
        status, text = Status.FAIL, f"{where}: {listed}"
    elif run.acceptance.stale:
        listed = ", ".join(e.id for e in run.acceptance.stale)
        status, text = Status.WARN, f"{where}: stale entries (match nothing): {listed}"
    elif register.path is None:
        status, text = Status.OK, f"no risk register ({where} does not exist): nothing accepted"
    else:
        judged = (
            "each current and in use"
            if all(t.audit is not None for t in run.targets)
            else "each current (stale entries not judged: not every target was audited)"
        )
        status, text = Status.OK, f"{where}: {len(register.entries)} entries, {judged}"
    report.check("deps:risk-register", status, value=len(run.acceptance.problems), message=text)


def _record_os(os_review: OsReview, settings: UpdatesSettings) -> None:
    if os_review.error is not None:
        report.check("os:updates", Status.FAIL, message=os_review.error)
        return
    security = [u for u in os_review.updates if u.security]
    for update in security:
        report.finding(
            f"os-security:{update.name}",
            f"{update.name} {update.current} -> {update.candidate} from {', '.join(update.suites)}",
            severity=Severity.WARN,
        )
    report.metric("os_updates", len(security), labels={"kind": "security"})
    report.metric("os_updates", len(os_review.updates) - len(security), labels={"kind": "other"})
    report.check(
        "os:updates",
        Status.WARN if security else Status.OK,
        value=len(security),
        limit=0,
        message=f"{len(security)} security updates, {len(os_review.updates)} upgradable in all",
    )
    limit_s = settings.apt_lists_max_age_days * DAY_S
    age = os_review.lists_age_s
    if age is None:
        report.check(
            "os:package-lists",
            Status.WARN,
            message="apt has no package lists (apt-get update never ran): updates are unknown",
        )
    else:
        report.check(
            "os:package-lists",
            Status.WARN if age > limit_s else Status.OK,
            value=round(age / DAY_S, 1),
            limit=settings.apt_lists_max_age_days,
            unit="days",
            message="apt's package lists' age: older lists hide newer updates",
        )
    if settings.debsecan_suite is not None:
        if os_review.debsecan_error is not None:
            report.check("os:debsecan", Status.FAIL, message=os_review.debsecan_error)
        else:
            assert os_review.debsecan is not None
            report.check(
                "os:debsecan",
                Status.WARN if os_review.debsecan else Status.OK,
                value=len(os_review.debsecan),
                limit=0,
                message="packages with a fixed vulnerability: "
                + (", ".join(os_review.debsecan) or "none"),
            )


def _summary(run: Review) -> str:
    audited = [t for t in run.targets if t.audit is not None]
    parts = [
        f"{len(audited)} of {len(run.targets)} Python targets audited",
        f"{len(run.acceptance.open)} open and {len(run.acceptance.accepted)} accepted "
        "vulnerabilities",
    ]
    looked_up = [t for t in audited if t.updates is not None]
    if looked_up:
        pending = sum(len(patchable(t.updates or ())) for t in looked_up)
        parts.append(f"{pending} patch/minor updates")
    elif audited:
        parts.append("updates not looked up")
    if run.os is not None and run.os.error is None:
        parts.append(f"{sum(u.security for u in run.os.updates)} OS security updates")
    return ", ".join(parts)


def _first(key: str, recorded: set[str]) -> bool:
    """Whether `key` is recorded for the first time in this run (and note that it is)."""
    first = key not in recorded
    recorded.add(key)
    return first


def _vuln_key(vuln: Vulnerability) -> str:
    """`vuln:<package>:<id>`, the id the smallest of the advisory's names: the same whichever
    of them pip-audit (or its advisory service) puts first."""
    return f"vuln:{vuln.package.lower()}:{min(vuln.ids)}"


def _vuln_text(vuln: Vulnerability) -> str:
    fix = f"fixed in {', '.join(vuln.fix_versions)}" if vuln.fix_versions else "no fix yet"
    aliases = f" ({', '.join(vuln.aliases)})" if vuln.aliases else ""
    return f"{vuln.package} {vuln.version}: {vuln.id}{aliases}, {fix}: {vuln.description[:200]}"


def _ids(vulns: list[Vulnerability]) -> str:
    return ", ".join(f"{v.package} {v.id}" for v in vulns)


# --- minor patching ----------------------------------------------------------------------------


def patch(run: Review, config: Config) -> list[PatchOutcome | tuple[PythonTarget, str]]:
    """Apply the patch and minor updates of every virtualenv that has a smoke command; for a
    virtualenv that cannot be patched, (target, why)."""
    outcomes: list[PatchOutcome | tuple[PythonTarget, str]] = []
    index = config.updates.index_url
    for reviewed in run.targets:
        target = reviewed.target
        if target.venv is None:
            continue
        if index is None or reviewed.updates is None:
            outcomes.append((target, "its updates were not looked up on an index"))
        elif target.smoke_command is None:
            outcomes.append((target, "it has no smoke_command to decide whether to keep them"))
        else:
            outcomes.append(apply_patch_updates(target, reviewed.updates, index))
    return outcomes


def record_patching(outcomes: list[PatchOutcome | tuple[PythonTarget, str]]) -> None:
    """One `patch:<target>` check per virtualenv: ok kept, fail rolled back or not patched."""
    if not outcomes:
        report.check(
            "patch:targets", Status.WARN, message="apply=patch, but no virtualenv is configured"
        )
    for outcome in outcomes:
        if isinstance(outcome, tuple):
            target, why = outcome
            report.check(f"patch:{target.name}", Status.FAIL, message=f"not patched: {why}")
            continue
        name = f"patch:{outcome.target}"
        applied = ", ".join(f"{u.package} {u.current} -> {u.latest}" for u in outcome.applied)
        if outcome.kept:
            kept = f"applied and kept: {applied}" if applied else "nothing to apply"
            report.check(name, Status.OK, message=kept)
        elif outcome.rolled_back:
            report.check(
                name,
                Status.FAIL,
                message=f"{outcome.problem}; rolled back to the previous versions ({applied} "
                f"not applied): {outcome.smoke_output[-300:]}",
            )
        else:
            report.check(name, Status.FAIL, message=f"ROLLBACK INCOMPLETE: {outcome.problem}")
