"""Responsible for grading a disaster drill with `upkeep.report`: its phases as checks with
their times, each database's RPO and RTO and each service's RTO against the targets in
`upkeep.yml` (a miss fails), the incident lead and who was told as findings, the summary line;
and the text the runbook prints (the targets in force, the drill's timeline)."""

from __future__ import annotations

from datetime import datetime, tzinfo

from upkeep import report
from upkeep.config import Config
from upkeep.config.disaster_drill import RecoveryTarget
from upkeep.drill.model import PHASES, DatabaseRecovery, DrillReport
from upkeep.records import Severity, Status
from upkeep.units import counted

__all__ = ["record_drill", "targets_text", "timeline"]


def record_drill(drill: DrillReport, config: Config) -> None:
    """Record the drill's checks, metrics and findings; targets from `disaster_drill:`."""
    if drill.nothing_to_do is not None:
        report.check("drill:databases", Status.OK, message=drill.nothing_to_do)
        return
    report.finding(
        "drill:incident-lead", f"incident lead: {drill.incident_lead}", severity=Severity.INFO
    )
    report.finding(
        "drill:communications", f"who was notified: {drill.communications}", severity=Severity.INFO
    )
    if drill.cleaned:
        report.finding("drill:cleaned", "; ".join(drill.cleaned), severity=Severity.INFO)
    _record_phases(drill, config.tz)
    for database in config.databases:
        recovery = drill.databases.get(database.name)
        if recovery is not None:
            _record_database(recovery, config.disaster_drill.database(database.name))
    _record_services(drill, config)
    report.summary(_summary(drill))


def _record_phases(drill: DrillReport, tz: tzinfo) -> None:
    for phase in drill.phases:
        status = Status.OK if phase.ok else Status.FAIL
        report.check(
            f"drill:phase:{phase.name}",
            status,
            value=round(phase.seconds, 3),
            unit="s",
            message=f"{_times(phase.started, phase.ended or phase.started, tz)}: {phase.detail}",
        )
        report.metric(
            "drill_phase_seconds", round(phase.seconds, 3), unit="s", labels={"phase": phase.name}
        )
    reached = {phase.name for phase in drill.phases}
    for name in PHASES:
        if name not in reached:
            report.check(
                f"drill:phase:{name}",
                Status.FAIL,
                message=f"not reached: the drill stopped in phase {drill.failed_phase}",
            )


def _record_database(recovery: DatabaseRecovery, target: RecoveryTarget) -> None:
    name = f"drill:{recovery.database}"
    if recovery.restored is None:
        why = "; ".join([recovery.error or "not restored", *recovery.passed_over])
        report.check(f"{name}:restore", Status.FAIL, message=why)
        return
    if recovery.passed_over:
        report.check(
            f"{name}:restore",
            Status.WARN,
            message=f"restored the older backup {recovery.restored.id}; passed over: "
            + "; ".join(recovery.passed_over),
        )
    else:
        report.check(f"{name}:restore", Status.OK, message=f"restored {recovery.restored.id}")
    if recovery.verify_problems:
        report.check(f"{name}:verify", Status.FAIL, message="; ".join(recovery.verify_problems[:5]))
    elif recovery.outcome is not None:
        rows = sum(recovery.outcome.report.row_counts.values())
        report.check(
            f"{name}:verify",
            Status.OK,
            value=rows,
            unit=" rows",
            message="integrity, row counts and "
            f"{counted(recovery.outcome.samples_checked, 'sample hash', 'sample hashes')} match",
        )
    _objective(
        f"{name}:rpo",
        "drill_rpo_seconds",
        {"database": recovery.database},
        recovery.rpo_s,
        target.rpo_s,
        recovery.rpo_basis,
    )
    _objective(
        f"{name}:rto",
        "drill_rto_seconds",
        {"database": recovery.database},
        recovery.rto_s,
        target.rto_s,
        "from the loss",
    )


def _record_services(drill: DrillReport, config: Config) -> None:
    rpos = [r.rpo_s for r in drill.databases.values()]
    worst_rpo = None if not rpos or None in rpos else max(r for r in rpos if r is not None)
    for service in config.services:
        target = config.disaster_drill.service(service.name)
        if service.name not in drill.service_rto_s:
            if target.rto_s is not None or target.rpo_s is not None:
                why = (
                    drill.failover_note
                    or f"not probed in the failover (stopped in {drill.failed_phase})"
                )
                report.check(
                    f"drill:{service.name}:rto", Status.WARN, message=f"not measured: {why}"
                )
            continue
        labels = {"service": service.name}
        _objective(
            f"drill:{service.name}:rto",
            "drill_rto_seconds",
            labels,
            drill.service_rto_s[service.name],
            target.rto_s,
            "loss to first healthy probe",
        )
        _objective(
            f"drill:{service.name}:rpo",
            "drill_rpo_seconds",
            labels,
            worst_rpo,
            target.rpo_s,
            "the largest of its databases",
        )


def _objective(
    check: str,
    metric: str,
    labels: dict[str, str],
    measured: float | None,
    target: float | None,
    basis: str,
) -> None:
    if measured is None:
        report.check(
            check,
            Status.FAIL if target is not None else Status.WARN,
            message=f"not measured ({basis})",
        )
        return
    report.metric(metric, round(measured, 3), unit="s", labels=labels)
    if target is None:
        report.check(
            check, Status.OK, value=round(measured, 3), unit="s", message=f"{basis}; no target set"
        )
        return
    status = Status.OK if measured <= target else Status.FAIL
    verdict = "within" if status == Status.OK else "MISSED"
    report.check(
        check,
        status,
        value=round(measured, 3),
        limit=target,
        unit="s",
        message=f"{measured:.2f}s ({basis}), target {target:g}s: {verdict}",
    )


def _summary(drill: DrillReport) -> str:
    if drill.failed_phase:
        head = f"drill stopped in phase {drill.failed_phase}"
    else:
        head = f"drill completed in {sum(p.seconds for p in drill.phases):.1f}s"
    rpo = ", ".join(
        f"{r.database} RPO {r.rpo_s:.1f}s" for r in drill.databases.values() if r.rpo_s is not None
    )
    rto = ", ".join(
        f"{name} RTO {s:.1f}s" for name, s in drill.service_rto_s.items() if s is not None
    )
    return "; ".join(part for part in (head, rpo, rto) if part)


# ---------------------------------------------------------------- text for the notebook


def targets_text(config: Config) -> str:
    """The targets, canaries and failover in force, one line each, from `upkeep.yml`."""
    drill = config.disaster_drill
    lines = []
    for database in config.databases:
        target = drill.database(database.name)
        canary = (
            "canary: heartbeat table"
            if target.canary == "table"
            else "canary: query"
            if target.canary_query
            else "no canary"
        )
        lines.append(
            f"database {database.name}: RPO {_seconds(target.rpo_s)}, "
            f"RTO {_seconds(target.rto_s)}, {canary}"
        )
    for service in config.services:
        target = drill.service(service.name)
        lines.append(
            f"service {service.name}: RPO {_seconds(target.rpo_s)}, RTO {_seconds(target.rto_s)}"
        )
    failover = drill.failover
    lines.append(
        "failover: not configured"
        if failover is None
        else f"failover: {failover.kind} on the restored {failover.database}, healthy within "
        f"{drill.healthy_timeout_s:g}s"
    )
    return "\n".join(lines)


def timeline(drill: DrillReport, config: Config) -> str:
    """The phases with their start and end times (in the configured time zone), as the report
    lists them."""
    if drill.nothing_to_do is not None:
        return drill.nothing_to_do
    return "\n".join(
        f"{phase.name:<9} {_times(phase.started, phase.ended or phase.started, config.tz)}"
        f"  {'ok  ' if phase.ok else 'FAIL'}  {phase.detail}"
        for phase in drill.phases
    )


def _times(started: datetime, ended: datetime, tz: tzinfo) -> str:
    """`12:00:01.250 → 12:00:03.500 CET`: to the millisecond, in `tz`, the zone named once."""
    started, ended = started.astimezone(tz), ended.astimezone(tz)
    return f"{started:%H:%M:%S.%f}"[:-3] + f" → {ended:%H:%M:%S.%f}"[:-3] + f" {ended:%Z}"


def _seconds(value: float | None) -> str:
    return "no target" if value is None else f"{value:g}s"
