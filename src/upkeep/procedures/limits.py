"""Responsible for showing the limits in force: what each daily runbook grades against or acts on,
read from the loaded upkeep.yml (a log's and a mount's own limits included) and printed by a
one-line cell at the top of the runbook, so that its prose names the setting and never a copied
number that drifts.
"""

from __future__ import annotations

from upkeep.config import Config, Limit
from upkeep.units import human_size, quantity

__all__ = ["backup", "backup_verification", "cleaning", "graded", "health"]


def graded(limit: Limit, unit: str = "") -> str:
    """`warn from 80%, fail from 90%`: a value at or above a bound takes its status."""
    return f"warn from {quantity(limit.warn, unit)}, fail from {quantity(limit.fail, unit)}"


def health(config: Config) -> str:
    """The health check's limits: service latency, error lines per log, disk use per mount, CPU,
    memory and load per CPU; where a log or mount has its own limit, that one."""
    limits = config.thresholds
    lines = [
        f"limits in force ({config.path}):",
        f"  service latency: {graded(limits.http_latency_ms, 'ms')} (thresholds.http_latency_ms)",
        f"  log error lines: {graded(limits.log_errors)} (thresholds.log_errors)",
    ]
    lines += [
        f"    {log.name}: {graded(log.errors)} (its own errors:)"
        for log in config.logs
        if log.errors
    ]
    lines.append(f"  disk used: {graded(limits.disk_percent, '%')} (thresholds.disk_percent)")
    lines += [
        f"    {mount.path}: {graded(mount.limit, '%')} (its own limit:)"
        for mount in config.mounts
        if mount.limit
    ]
    lines += [
        f"  CPU busy: {graded(limits.cpu_percent, '%')} (thresholds.cpu_percent)",
        f"  memory in use: {graded(limits.memory_percent, '%')} (thresholds.memory_percent)",
        f"  load per CPU (5 min): {graded(limits.load_per_cpu)} (thresholds.load_per_cpu)",
    ]
    return "\n".join(lines)


def cleaning(config: Config) -> str:
    """What cleaning may remove: each root's age and size limits, the protected globs, whether
    upkeep.yml asks for a dry run, and each rotated log's policy."""
    cleanup = config.cleanup
    lines = [f"limits in force ({config.path}):"]
    for kind, roots in (("temp", cleanup.temp_roots), ("cache", cleanup.cache_roots)):
        for root in roots:
            age = quantity(root.max_age_days, "days")
            size = ""
            if root.max_bytes is not None:
                size = f", then the oldest until {human_size(root.max_bytes)} is left"
            lines.append(f"  {kind} root {root.path}: what is older than {age} goes{size}")
    if not (cleanup.temp_roots or cleanup.cache_roots):
        lines.append("  no temp or cache roots (cleanup.temp_roots, cleanup.cache_roots)")
    lines.append(f"  never touched: {', '.join(cleanup.protect) or 'no protect globs'}")
    lines.append(f"  cleanup.dry_run: {'yes' if cleanup.dry_run else 'no'}")
    for log in config.logs:
        policy = log.rotate
        if policy is None:
            continue
        when = [f"over {human_size(policy.max_bytes)}"] if policy.max_bytes else []
        if policy.max_age_days:
            when.append(f"rotated more than {quantity(policy.max_age_days, 'days')} ago")
        lines.append(
            f"  log {log.name}: rotated by {policy.method} when {' or '.join(when) or 'due'},"
            f" at most once a period ({policy.period}), {policy.keep} copies kept"
        )
    return "\n".join(lines)


def backup(config: Config) -> str:
    """The backup policy: mode, retention and what warns."""
    policy = config.backup
    full = f" (a full backup every {policy.full_every})" if policy.mode == "incremental" else ""
    return "\n".join(
        [
            f"limits in force ({config.path}):",
            f"  store: {policy.dir or 'none (backup.dir)'}; mode {policy.mode}{full}",
            f"  kept: the newest of each of the last {policy.keep_daily} days,"
            f" {policy.keep_weekly} weeks and {policy.keep_monthly} months",
            f"  warns: a backup more than {quantity(policy.shrink_warn_percent, '%')} smaller than"
            f" the previous one; no verified full backup in the last"
            f" {quantity(policy.max_full_age_days, 'days')}",
        ]
    )


def backup_verification(config: Config) -> str:
    """The weekly backup verification's rotation and what warns."""
    settings = config.backup_verification
    samples = f"{settings.sample_rows} rows of each table" if settings.sample_rows else "none (off)"
    return "\n".join(
        [
            f"limits in force ({config.path}):",
            f"  store: {config.backup.dir or 'none (backup.dir)'}",
            f"  restored: the newest backup of each database every week; every retained backup"
            f" at least once every {settings.verify_every_weeks} week(s)",
            f"  sample hashes taken by the daily backup: {samples}",
            f"  warns: the newest verified backup older than"
            f" {quantity(settings.max_verified_age_days, 'days')}; a retained backup overdue",
        ]
    )
