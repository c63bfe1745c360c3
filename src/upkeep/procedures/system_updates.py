"""Responsible for the monthly system updates runbook's work: without an approved plan, write the
change plan (`make_plan`, `record_plan`); with one, apply exactly it (`apply_plan`: the approved
OS pins when `system_updates.os_apply` allows it, each virtualenv's approved majors with its smoke
command and rollback), run the health check, put the virtualenvs back when it fails, and record
it all (`record_apply`)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path

from upkeep import report
from upkeep.config import Config
from upkeep.config.updates import PythonTarget
from upkeep.masking import mask_sensitive
from upkeep.probes import ServiceProbe, probe_service
from upkeep.procedures import dependencies
from upkeep.records import Status
from upkeep.records.vocabulary import iso
from upkeep.run_artifacts import current_run_id, write_artifact
from upkeep.updates import apt_upgrade, needrestart
from upkeep.updates.approval import APPLIED_METRIC, ApprovedPlan, PlanError, approved_plan
from upkeep.updates.change_plan import (
    PLAN_FILE,
    ChangePlan,
    OsChange,
    PythonChange,
    os_changes,
    python_changes,
    restart_needs,
)
from upkeep.updates.model import Update, UpdateKind
from upkeep.updates.patching import (
    PatchOutcome,
    apply_updates,
    installed_versions,
    restore_versions,
)

__all__ = [
    "Applied",
    "NextStep",
    "apply_plan",
    "make_plan",
    "next_step",
    "plan_text",
    "record_apply",
    "record_plan",
]

NO_WINDOWS = (
    "upkeep has no maintenance windows yet: an approved plan is applied by the next run, "
    "whenever it runs; schedule that run (or run it by hand) at a time chosen for it"
)


@dataclass(frozen=True)
class NextStep:
    """What this run does: apply `approved`, or plan (`approved` None). `problem`: an approval
    that cannot be applied (its plan's bytes changed), recorded as a failed check."""

    approved: ApprovedPlan | None = None
    problem: str | None = None


def next_step(config: Config, mode: str = "auto") -> NextStep:
    """Apply the newest approved, unapplied plan (mode `auto`), else plan."""
    from upkeep.evidence import EvidenceStore

    if mode == "plan":
        print("mode=plan: an approved plan waits for a run in mode auto")
        return NextStep()
    try:
        approved = approved_plan(EvidenceStore(config.evidence_dir))
    except PlanError as exc:
        return NextStep(problem=str(exc))
    if approved is None:
        print("no approved plan to apply: this run writes a new change plan")
    else:
        a = approved.approval
        print(f"applying the plan of run {a.subject}, approved by {a.author} at {iso(a.at)}")
        print(NO_WINDOWS)
    return NextStep(approved)


# --- planning ---------------------------------------------------------------------------------


def make_plan(config: Config) -> ChangePlan:
    """The change plan for this system now: apt's simulated upgrade, each environment's majors
    with the advisories they fix (pip-audit), and what would need a restart."""
    notes: list[str] = []
    python: list[PythonChange] = []
    for reviewed in dependencies.review(config).targets:
        name = reviewed.target.name
        if reviewed.audit is None:
            notes.append(f"{name}: not audited, so not planned: {reviewed.audit_error}")
        elif reviewed.updates is None:
            why = reviewed.index_error or "no package index is configured (updates.index_url)"
            notes.append(f"{name}: updates not looked up: {why}")
        else:
            python.extend(python_changes(name, reviewed.updates, reviewed.audit.vulnerabilities))
    os: tuple[OsChange, ...] = ()
    kept_back: tuple[str, ...] = ()
    restarts = None
    if config.updates.os == "apt":
        try:
            simulated = apt_upgrade.simulate_upgrade(config.updates.timeout_s)
            os, kept_back = os_changes(simulated), simulated.kept_back
        except (apt_upgrade.AptUpgradeError, OSError) as exc:
            notes.append(f"OS packages not planned: {exc}")
        restarts = needrestart.needed_restarts(config.updates.timeout_s)
        if restarts is None:
            notes.append("needrestart is not installed: the services to restart are unknown")
    else:
        notes.append("OS packages not planned: updates.os is none (set it to apt)")
    return ChangePlan(
        run_id=current_run_id() or "by-hand",
        created_at=iso(datetime.now(UTC)),
        os=os,
        kept_back=kept_back,
        python=tuple(python),
        restarts=restart_needs(os, restarts),
        # An index's or OSV mirror's URL in an error may carry credentials: never in the plan.
        notes=tuple(mask_sensitive(note) for note in notes),
    )


def plan_text(plan: ChangePlan) -> str:
    """The plan as a person reads it: security first, each Python major with what it fixes."""
    lines = [f"Change plan of run {plan.run_id} ({plan.created_at})", ""]
    lines.append(f"OS packages to upgrade ({sum(c.security for c in plan.os)} security):")
    for change in plan.os:
        mark = "SECURITY " if change.security else ""
        lines.append(
            f"  {mark}{change.name} {change.current or '(new)'} -> {change.version} "
            f"({', '.join(change.origins)})"
        )
    if not plan.os:
        lines.append("  none")
    if plan.kept_back:
        lines.append(f"  kept back (need dist-upgrade by hand): {', '.join(plan.kept_back)}")
    lines.append("Major Python updates:")
    for py in plan.python:
        fixes = f"; fixes {', '.join(py.fixes)}" if py.fixes else ""
        lines.append(f"  {py.target}: {py.package} {py.current} -> {py.version}{fixes}")
    if not plan.python:
        lines.append("  none")
    restarts = plan.restarts
    lines.append("Restarts:")
    lines.append(
        "  reboot: " + ("; ".join(restarts.reboot_reasons) if restarts.reboot else "not needed")
    )
    services = restarts.services
    lines.append(
        "  services: "
        + ("unknown (needrestart not run)" if services is None else ", ".join(services) or "none")
    )
    lines += [f"Note: {note}" for note in plan.notes]
    return "\n".join(lines)


def record_plan(plan: ChangePlan, config: Config, problem: str | None = None) -> Path | None:
    """Write the plan into the run's folder and record its checks; the path written (None
    outside a runner)."""
    written = write_artifact(PLAN_FILE, plan.to_bytes())
    print(plan_text(plan))
    if problem is not None:
        report.check("apply:approval", Status.FAIL, message=f"{problem}; planned anew instead")
    _record_os_plan(plan, config)
    _record_python_plan(plan)
    _record_restarts(plan)
    for kind, count in (
        ("os-security", sum(c.security for c in plan.os)),
        ("os-other", sum(not c.security for c in plan.os)),
        ("python-major", len(plan.python)),
    ):
        report.metric("system_updates_planned", count, labels={"kind": kind})
    if plan.empty:
        report.summary("nothing to update: no plan to approve")
    else:
        report.summary(
            f"planned {len(plan.os)} OS upgrades ({sum(c.security for c in plan.os)} security) "
            f"and {len(plan.python)} Python majors; approve with: upkeep approve {plan.run_id} "
            "--by NAME"
        )
    return written


def _record_os_plan(plan: ChangePlan, config: Config) -> None:
    if config.updates.os != "apt":
        report.check("plan:os", Status.OK, message="OS packages not planned (updates.os: none)")
        return
    failed = [note for note in plan.notes if note.startswith("OS packages not planned")]
    if failed:
        report.check("plan:os", Status.FAIL, message=failed[0])
        return
    security = sum(c.security for c in plan.os)
    kept = f"; kept back: {', '.join(plan.kept_back)}" if plan.kept_back else ""
    report.check(
        "plan:os",
        Status.WARN if plan.os else Status.OK,
        value=security,
        message=f"{security} security and {len(plan.os) - security} other upgrades planned{kept}",
    )


def _record_python_plan(plan: ChangePlan) -> None:
    unplanned = [n for n in plan.notes if ": not audited" in n or ": updates not looked up" in n]
    fixing = [p for p in plan.python if p.fixes]
    listed = ", ".join(f"{p.target}:{p.package} {p.version}" for p in plan.python)
    text = f"{len(plan.python)} major updates planned ({len(fixing)} fix advisories)"
    text += f": {listed}" if listed else ""
    if unplanned:
        text += "; not planned: " + "; ".join(unplanned)
    status = Status.WARN if plan.python or unplanned else Status.OK
    report.check("plan:python", status, value=len(plan.python), message=text)


def _record_restarts(plan: ChangePlan) -> None:
    restarts = plan.restarts
    services = restarts.services
    known = (
        "needrestart not run"
        if services is None
        else f"services to restart: {', '.join(services) or 'none'}"
    )
    if restarts.reboot:
        report.check(
            "plan:restarts",
            Status.WARN,
            message=f"a reboot is needed: {'; '.join(restarts.reboot_reasons)}; {known}",
        )
    else:
        status = Status.WARN if services else Status.OK
        report.check("plan:restarts", status, message=f"no reboot needed; {known}")


# --- applying ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Applied:
    """What applying one approved plan did: the OS part (`os_done`: installed; else why not),
    each environment's outcome (or why it was not applied), the health probes, and what the
    rollback after a failed health check left different (empty: restored)."""

    approved: ApprovedPlan
    os_done: bool = False
    os_message: str = ""
    os_failed: bool = False  # apt-get was allowed and ran, and failed
    python: tuple[PatchOutcome | tuple[str, str], ...] = ()
    health: tuple[ServiceProbe, ...] = ()
    restored: dict[str, list[str]] = field(default_factory=dict)
    zone: tzinfo = UTC  # upkeep.yml's timezone: the times its messages show

    @property
    def healthy(self) -> bool:
        return all(probe.up for probe in self.health)

    @property
    def changed(self) -> bool:
        """Whether anything of the plan was installed and kept."""
        return self.os_done or any(isinstance(o, PatchOutcome) and o.kept for o in self.python)


def apply_plan(approved: ApprovedPlan, config: Config) -> Applied:
    """Apply exactly the approved plan, run the health check, and put the virtualenvs back at
    their previous versions when it fails."""
    plan = approved.plan
    os_done, os_failed, os_message = _apply_os(plan.os, config)
    befores: dict[str, dict[str, str]] = {}
    outcomes: list[PatchOutcome | tuple[str, str]] = []
    targets = {target.name: target for target in config.updates.python}
    by_target: dict[str, list[PythonChange]] = defaultdict(list)
    for change in plan.python:
        by_target[change.target].append(change)
    for name, changes in sorted(by_target.items()):
        target = targets.get(name)
        why = _cannot_apply(target, config)
        if why is not None or target is None or config.updates.index_url is None:
            outcomes.append((name, why or "not configured"))
            continue
        assert target.venv is not None
        befores[name] = installed_versions(target.venv)
        pins = [Update(c.package, c.current, c.version, UpdateKind.MAJOR) for c in changes]
        outcomes.append(apply_updates(target, pins, config.updates.index_url))
    changed = os_done or any(isinstance(o, PatchOutcome) and o.kept for o in outcomes)
    health = _health(config) if changed else ()
    restored: dict[str, list[str]] = {}
    if not all(probe.up for probe in health):
        for outcome in outcomes:
            if isinstance(outcome, PatchOutcome) and outcome.kept:
                venv = targets[outcome.target].venv
                assert venv is not None and config.updates.index_url is not None
                restored[outcome.target] = restore_versions(
                    venv, befores[outcome.target], config.updates.index_url
                )
    return Applied(
        approved, os_done, os_message, os_failed, tuple(outcomes), health, restored, config.tz
    )


def _cannot_apply(target: PythonTarget | None, config: Config) -> str | None:
    if target is None:
        return "no such target under updates.python any more"
    if target.venv is None:
        return f"a lock file ({target.requirements}) is updated by hand, in its repository"
    if target.smoke_command is None:
        return "it has no smoke_command to decide whether to keep the update"
    if config.updates.index_url is None:
        return "no package index is configured (updates.index_url)"
    return None


def _apply_os(changes: tuple[OsChange, ...], config: Config) -> tuple[bool, bool, str]:
    """(installed, failed, what happened) for the plan's OS packages."""
    if not changes:
        return False, False, "no OS package in the plan"
    pins = {change.name: change.version for change in changes}
    command = "sudo apt-get install --only-upgrade " + " ".join(
        f"{n}={v}" for n, v in sorted(pins.items())
    )
    if not config.system_updates.os_apply:
        return False, False, f"system_updates.os_apply is off: install them by hand: {command}"
    try:
        output = apt_upgrade.install_pins(pins, timeout_s=max(config.updates.timeout_s, 1800))
    except (apt_upgrade.AptUpgradeError, OSError) as exc:
        return False, True, f"apt-get failed: {exc}; by hand: {command}"
    return True, False, f"installed {len(pins)} packages: {output[-300:]}"


def _health(config: Config) -> tuple[ServiceProbe, ...]:
    """The health check after an apply: every configured service answers (the daily health
    check's probes, run here in-process); each virtualenv's smoke command ran in the apply."""
    if not config.system_updates.probe_services:
        return ()
    return tuple(probe_service(service) for service in config.services)


def record_apply(applied: Applied) -> None:
    """Record the apply: approval, OS, each environment, the health check and any rollback."""
    approval = applied.approved.approval
    plan = applied.approved.plan
    report.metric(APPLIED_METRIC, 1, labels={"plan": approval.subject})
    approved_at = f"{approval.at.astimezone(applied.zone):%Y-%m-%d %H:%M %Z}"
    report.check(
        "apply:approval",
        Status.OK,
        message=f"the plan of run {approval.subject} (sha256 {applied.approved.sha256[:12]}…),"
        f" approved by {approval.author} at {approved_at}: {approval.reason}",
    )
    if plan.os:
        status = Status.FAIL if applied.os_failed else Status.OK if applied.os_done else Status.WARN
        report.check("apply:os", status, value=len(plan.os), message=applied.os_message)
    for outcome in applied.python:
        _record_python_apply(outcome)
    _record_health(applied)
    ok = applied.healthy and all(isinstance(o, PatchOutcome) and o.kept for o in applied.python)
    if applied.os_failed:  # apt-get stopped part-way: some packages may be in, some not
        report.summary(
            f"the plan of {approval.subject} was not applied in full (see the apply checks)"
        )
        return
    if not applied.changed:
        # os_apply off, or every part refused: saying "applied" would not be true.
        report.summary(
            f"nothing of the plan of {approval.subject} was applied (see the apply checks)"
        )
        return
    report.summary(
        f"applied the plan of {approval.subject}"
        + ("" if ok else ": not everything was kept (see the apply checks)")
    )


def _record_python_apply(outcome: PatchOutcome | tuple[str, str]) -> None:
    if isinstance(outcome, tuple):
        name, why = outcome
        report.check(f"apply:{name}", Status.FAIL, message=f"not applied: {why}")
        return
    applied = ", ".join(f"{u.package} {u.current} -> {u.latest}" for u in outcome.applied)
    if outcome.kept:
        report.check(f"apply:{outcome.target}", Status.OK, message=f"applied: {applied}")
    elif outcome.rolled_back:
        report.check(
            f"apply:{outcome.target}",
            Status.FAIL,
            message=f"{outcome.problem}; rolled back to the previous versions ({applied} not "
            f"applied): {outcome.smoke_output[-300:]}",
        )
    else:
        message = f"ROLLBACK INCOMPLETE: {outcome.problem}"
        report.check(f"apply:{outcome.target}", Status.FAIL, message=message)


def _record_health(applied: Applied) -> None:
    if not applied.health:
        report.check(
            "apply:health",
            Status.OK,
            message="no service probed (none configured, probe_services off, or nothing "
            "changed); each virtualenv's smoke command ran in its apply",
        )
        return
    down = [p for p in applied.health if not p.up]
    if not down:
        names = ", ".join(p.name for p in applied.health)
        report.check("apply:health", Status.OK, message=f"every service answers: {names}")
        return
    restored = [
        f"{name} restored" if not left else f"{name} NOT restored ({', '.join(left)})"
        for name, left in sorted(applied.restored.items())
    ]
    os_back = [f"{c.name}={c.current}" for c in applied.approved.plan.os if c.current is not None]
    instructions = (
        f"; OS packages back by hand: sudo apt-get install --allow-downgrades {' '.join(os_back)}"
        if applied.os_done and os_back
        else ""
    )
    report.check(
        "apply:health",
        Status.FAIL,
        value=len(down),
        message="after the apply, down: "
        + "; ".join(f"{p.name} ({p.detail})" for p in down)
        + (f"; Python environments put back: {', '.join(restored)}" if restored else "")
        + instructions
        + "; then restart the services and run the daily health check",
    )
