"""Responsible for the daily health check's procedure: probe every configured service, scan
every log (each file a wildcard path matches), measure every mount and the machine, grade each
against `config.thresholds` (a log's own `errors` limit and a mount's own `limit` win when set)
and record checks, metrics and findings with `upkeep.report`, then say in one line how the system
looks (`record_summary`). What it shows of log lines comes from the scan's groups, already masked
and cut (`logs.excerpts`).
"""

from __future__ import annotations

from datetime import datetime

from upkeep import report
from upkeep.config import Config, Limit, LogSource
from upkeep.logs.excerpts import ELLIPSIS
from upkeep.logs.grouping import group_key
from upkeep.logs.layout import matching_logs
from upkeep.logs.scan import LogScan, scan_log
from upkeep.probes import ServiceProbe, describe_failure, probe_service
from upkeep.records import Severity, Status
from upkeep.system import DiskUsage, SystemUsage, disk_usage, system_usage
from upkeep.units import human_size

__all__ = [
    "format_groups",
    "record_disks",
    "record_graded",
    "record_logs",
    "record_services",
    "record_summary",
    "record_system",
]

MAX_FINDINGS_PER_LOG = 50
# How wide a message is in the printed table of groups.
TABLE_MESSAGE_CHARS = 110
# A log's error groups are findings as bad as its check; below the limit, worth a look only.
_GROUP_SEVERITY = {Status.OK: Severity.INFO, Status.WARN: Severity.WARN, Status.FAIL: Severity.FAIL}


def record_graded(
    name: str, value: float, limit: Limit, *, unit: str = "", message: str = ""
) -> Status:
    """Record a check graded by `limit`; the limit shown is the one crossed (or the next one)."""
    status = limit.grade(value)
    bound = limit.fail if status is Status.FAIL else limit.warn
    report.check(name, status, value=value, limit=bound, unit=unit, message=message)
    return status


def record_services(config: Config) -> tuple[ServiceProbe, ...]:
    """Probe every configured service: down fails; a slow answer warns or fails by latency."""
    probes = tuple(probe_service(service) for service in config.services)
    for service, probe in zip(config.services, probes, strict=True):
        labels = {"service": probe.name, "kind": probe.kind}
        report.metric("service_up", int(probe.up), labels=labels)
        name = f"service:{probe.name}"
        if not probe.up:
            report.check(name, Status.FAIL, message=f"{probe.kind}: {probe.detail}")
        elif probe.latency_ms is not None:
            report.metric("service_latency_ms", probe.latency_ms, unit="ms", labels=labels)
            record_graded(
                name,
                probe.latency_ms,
                config.thresholds.http_latency_ms,
                unit="ms",
                message=f"{probe.kind}: {probe.detail}",
            )
        else:
            report.check(
                name,
                Status.OK,
                value=probe.process_count,
                message=f"process(es) matching {getattr(service, 'process', '')!r}",
            )
    return probes


def record_logs(config: Config, top: int = 5, *, commit: bool = True) -> tuple[LogScan, ...]:
    """Scan every configured log since the last run (each file a wildcard matches as a log of its
    own); grade its error count, show its top groups."""
    scans = []
    now = datetime.now(config.tz)
    for configured in config.logs:
        try:
            logs = matching_logs(configured)
        except OSError as exc:
            where = configured.path.parent
            message = f"cannot list {where}: {describe_failure(exc)}"
            report.check(f"log:{configured.name}", Status.FAIL, message=message)
            continue
        if not logs:
            message = f"no file matches {configured.path}"
            report.check(f"log:{configured.name}", Status.WARN, message=message)
        for log in logs:
            scan = _record_log(config, log, top, commit=commit, now=now)
            if scan is not None:
                scans.append(scan)
    return tuple(scans)


def _record_log(
    config: Config, log: LogSource, top: int, *, commit: bool, now: datetime
) -> LogScan | None:
    name = f"log:{log.name}"
    try:
        scan = scan_log(log, config.state_dir, commit=commit, now=now)
    except OSError as exc:
        report.check(name, Status.FAIL, message=f"cannot read {log.path}: {describe_failure(exc)}")
        return None
    if scan.missing:
        report.check(name, Status.WARN, message=f"{log.path} does not exist")
        return scan
    if scan.not_regular:
        message = f"{log.path} is {scan.not_regular}: only regular files are read"
        report.check(name, Status.FAIL, message=message)
        return scan
    labels = {"log": log.name}
    report.metric("log_error_lines", scan.errors, labels=labels)
    report.metric("log_warning_lines", scan.warnings, labels=labels)
    report.metric("log_bytes_scanned", scan.bytes_scanned, unit="B", labels=labels)
    status = record_graded(
        name,
        scan.errors,
        log.errors or config.thresholds.log_errors,
        message=_log_summary(scan),
    )
    print(format_groups(scan, top))
    _record_groups(log.name, scan, _GROUP_SEVERITY[status])
    if scan.unreadable:
        # Lines this scan may have missed: said where the log's own check is, not left silent.
        count = len(scan.unreadable)
        report.check(
            f"{name}:rotated-copies",
            Status.WARN,
            message=f"{count} rotated cop{'y' if count == 1 else 'ies'} of {log.path} could not"
            f" be read in full: {'; '.join(scan.unreadable)}",
        )
    return scan


def _log_summary(scan: LogScan) -> str:
    text = (
        f"{scan.errors} error lines in {len(scan.error_groups)} groups,"
        f" {scan.warnings} warning lines since the last scan"
    )
    copies = f"{scan.copies_read} rotated cop{'y' if scan.copies_read == 1 else 'ies'} read"
    if scan.first_scan:
        text += f" (first scan: {scan.first_scan_from})"
    if scan.rotated or scan.truncated:
        what = "rotated" if scan.rotated else "truncated"
        if scan.previous_lost:
            text += (
                f" ({what} since the last scan; the file it was reading is gone:"
                f" {copies} whole, every one written to since)"
            )
        elif scan.copies_read:
            text += f" ({what} since the last scan; {copies})"
        else:
            text += f" ({what} since the last scan)"
    return text


def _record_groups(log_name: str, scan: LogScan, severity: Severity) -> None:
    for group in scan.error_groups[:MAX_FINDINGS_PER_LOG]:
        report.finding(
            group_key(log_name, group.template),
            f"{group.count} x {group.template} (last: {group.last.strip()})",
            severity=severity,
            # Seen in new lines only: the next scan not finding it again does not mean it is
            # fixed. It stays open until someone acknowledges it (`upkeep ack`).
            sticky=severity is not Severity.INFO,
        )
    if scan.warnings:
        report.finding(
            f"log:{log_name}:warnings",
            f"{scan.warnings} warning lines in {len(scan.warning_groups)} groups,"
            f" most often: {scan.warning_groups[0].template}",
            severity=Severity.INFO,
        )


def format_groups(scan: LogScan, top: int = 5) -> str:
    """A plain-text table of the `top` most frequent error and warning groups of a scan."""
    rows = [*scan.error_groups[:top], *scan.warning_groups[:top]]
    lines = [f"{scan.path.name}: {scan.errors} errors, {scan.warnings} warnings"]
    if rows:
        lines.append(f"{'count':>7}  {'level':<7}  message")
        lines += [f"{group.count:>7}  {group.level:<7}  {_cell(group.template)}" for group in rows]
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text if len(text) <= TABLE_MESSAGE_CHARS else text[: TABLE_MESSAGE_CHARS - 1] + ELLIPSIS


def record_disks(config: Config) -> tuple[DiskUsage, ...]:
    """Grade the used percentage of every configured mount (its own limit first)."""
    usages = []
    for mount in config.mounts:
        name = f"disk:{mount.path}"
        try:
            usage = disk_usage(mount)
        except OSError as exc:
            message = f"cannot measure {mount.path}: {describe_failure(exc)}"
            report.check(name, Status.FAIL, message=message)
            continue
        usages.append(usage)
        labels = {"mount": str(mount.path)}
        report.metric("disk_used_percent", usage.percent, unit="%", labels=labels)
        report.metric("disk_free_bytes", usage.free_bytes, unit="B", labels=labels)
        record_graded(
            name,
            usage.percent,
            mount.limit or config.thresholds.disk_percent,
            unit="%",
            message=f"{human_size(usage.free_bytes)} free",
        )
    return tuple(usages)


def record_system(config: Config, interval_s: float = 0.5) -> SystemUsage:
    """Grade CPU, memory and load per CPU against the configured thresholds."""
    usage = system_usage(interval_s)
    limits = config.thresholds
    report.metric("cpu_percent", usage.cpu_percent, unit="%")
    report.metric("memory_percent", usage.memory_percent, unit="%")
    for minutes, load in ((1, usage.load_1), (5, usage.load_5), (15, usage.load_15)):
        report.metric("load_average", load, labels={"minutes": str(minutes)})
    report.metric("load_per_cpu", usage.load_per_cpu)
    record_graded(
        "system:cpu",
        usage.cpu_percent,
        limits.cpu_percent,
        unit="%",
        message=f"{usage.cpu_percent:.0f}% busy, sampled over {interval_s:g} s",
    )
    record_graded("system:memory", usage.memory_percent, limits.memory_percent, unit="%")
    record_graded(
        "system:load",
        usage.load_per_cpu,
        limits.load_per_cpu,
        message=f"5-minute load {usage.load_5:g} on {usage.cpus} CPUs",
    )
    return usage


def record_summary(
    services: tuple[ServiceProbe, ...],
    scans: tuple[LogScan, ...],
    disks: tuple[DiskUsage, ...],
    usage: SystemUsage,
) -> None:
    """The run's one line (`upkeep.report.summary`): services up, error lines in the logs, the
    fullest disk, CPU, memory and load."""
    up = sum(probe.up for probe in services)
    parts = [f"{up} of {len(services)} services up"]
    read = [scan for scan in scans if not (scan.missing or scan.not_regular)]
    unread = f" ({len(scans) - len(read)} not read)" if len(read) < len(scans) else ""
    parts.append(f"{sum(scan.errors for scan in read)} error lines in {len(read)} logs{unread}")
    if disks:
        fullest = max(disks, key=lambda disk: disk.percent)
        free = human_size(fullest.free_bytes)
        parts.append(f"fullest disk {fullest.path} {fullest.percent:.0f}% used, {free} free")
    parts.append(
        f"CPU {usage.cpu_percent:.0f}%, memory {usage.memory_percent:.0f}%,"
        f" load {usage.load_per_cpu:g} per CPU"
    )
    report.summary("; ".join(parts))
