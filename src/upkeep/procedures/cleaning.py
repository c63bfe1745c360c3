"""Responsible for the daily cleaning runbook's steps: clean the temp roots, trim the cache
roots (through `upkeep.cleaning`: scan, plan, execute), and record what happened as checks,
metrics and findings (`upkeep.report`), with a list of what was removed and of what vanished
(removed or renamed by someone else meanwhile: counted and listed, never a warning); a dry run
says it is one."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime

from upkeep import report
from upkeep.cleaning import CleaningKind, RootCleaning, execute, plan_root
from upkeep.config import Cleanup
from upkeep.records import Severity, Status

__all__ = [
    "DRY_RUN_CHOICES",
    "clean",
    "clean_temp_roots",
    "record_cleaning",
    "record_totals",
    "resolve_dry_run",
    "trim_cache_roots",
]

DRY_RUN_CHOICES = ("config", "yes", "no")
MAX_LISTED = 200  # removed (or vanished) entries printed per root; counts and bytes cover all
MAX_FINDINGS = 50  # skipped entries recorded as findings per root


def clean_temp_roots(
    cleanup: Cleanup, *, dry_run: bool, now: datetime | None = None
) -> list[RootCleaning]:
    """Plan and clean every configured temp root, in order."""
    return [
        execute(plan_root(root, CleaningKind.TEMP, cleanup.protect, now=now), dry_run=dry_run)
        for root in cleanup.temp_roots
    ]


def trim_cache_roots(
    cleanup: Cleanup, *, dry_run: bool, now: datetime | None = None
) -> list[RootCleaning]:
    """Plan and trim every configured cache root, in order."""
    return [
        execute(plan_root(root, CleaningKind.CACHE, cleanup.protect, now=now), dry_run=dry_run)
        for root in cleanup.cache_roots
    ]


def clean(
    cleanup: Cleanup, *, dry_run: bool | None = None, now: datetime | None = None
) -> list[RootCleaning]:
    """Clean every temp root, then trim every cache root; `dry_run` defaults to the config's."""
    dry = cleanup.dry_run if dry_run is None else dry_run
    return clean_temp_roots(cleanup, dry_run=dry, now=now) + trim_cache_roots(
        cleanup, dry_run=dry, now=now
    )


def resolve_dry_run(choice: str, cleanup: Cleanup) -> bool:
    """The runbook's `dry_run` parameter: "config" (the config's `cleanup.dry_run`), "yes", "no".
    Only here does the run learn whether it is a dry run, so a dry run says so here
    (`upkeep.report.dry_run`): it is recorded and shown as one, and the real cleaning of the
    day still runs."""
    if choice not in DRY_RUN_CHOICES:
        raise ValueError(f"dry_run must be one of {', '.join(DRY_RUN_CHOICES)}, got {choice!r}")
    dry = cleanup.dry_run if choice == "config" else choice == "yes"
    if dry:
        report.dry_run()
    return dry


# ---------------------------------------------------------------- record


def record_cleaning(results: Sequence[RootCleaning]) -> None:
    """One check per root, metrics of what was freed, a finding per skipped entry, and a list of
    what was removed. A check fails when a root could not be used at all, and warns when the root
    is still over its `max_bytes` afterwards or an expected removal failed."""
    for result in results:
        _record_root(result)


def record_totals(results: Sequence[RootCleaning]) -> None:
    """A closing check over every root: what was freed in all. No root configured is nothing to
    do, said in the check's message: an absent section is not a problem to look at every day."""
    verb = "would free" if any(r.dry_run for r in results) else "freed"
    freed = sum(r.freed_bytes for r in results)
    report.metric("cleaning_freed_bytes_total", freed, unit="B")
    if not results:
        report.check(
            "cleaning:total",
            Status.OK,
            value=0,
            unit="B",
            message="nothing to clean: upkeep.yml lists no temp or cache roots under cleanup:",
        )
        return
    removed = sum(r.removed_count for r in results)
    report.check(
        "cleaning:total",
        Status.OK,
        value=freed,
        unit="B",
        message=f"{verb} {_size(freed)} ({removed} entries) in {len(results)} roots",
    )


def _record_root(result: RootCleaning) -> None:
    root = result.root
    name = f"cleaning:{result.purpose}:{root.path}"
    labels = {"root": str(root.path), "purpose": result.purpose}
    verb = "would remove" if result.dry_run else "removed"
    if result.error is not None:
        report.check(name, Status.FAIL, message=f"root refused: {result.error}")
        return
    count = result.removed_count
    skipped = result.all_skipped
    vanished = result.vanished
    report.metric("cleaning_removed_entries", count, labels=labels)
    report.metric("cleaning_freed_bytes", result.freed_bytes, unit="B", labels=labels)
    report.metric("cleaning_root_bytes", result.bytes_after, unit="B", labels=labels)
    report.metric("cleaning_skipped_entries", len(skipped), labels=labels)
    report.metric("cleaning_vanished_entries", len(vanished), labels=labels)
    _print_removed(result, verb, count)
    failed = result.failed
    for skip in skipped[:MAX_FINDINGS]:
        report.finding(f"{name}:skipped:{skip.path}", skip.skipped or "", severity=Severity.WARN)
    if len(skipped) > MAX_FINDINGS:
        report.finding(
            f"{name}:skipped:more",
            f"{len(skipped) - MAX_FINDINGS} more skipped entries not listed",
            severity=Severity.WARN,
        )
    summary = (
        f"{verb} {count} entries, {_size(result.freed_bytes)}; "
        f"{_size(result.bytes_after)} left; {len(skipped)} skipped; "
        f"{len(vanished)} vanished; {result.protected} protected"
    )
    if result.over_limit:
        report.check(
            name,
            Status.WARN,
            value=result.bytes_after,
            limit=root.max_bytes,
            unit="B",
            message=f"still over its limit after cleaning: {summary}",
        )
    elif failed:
        report.check(name, Status.WARN, message=f"{len(failed)} removals did not happen: {summary}")
    else:
        report.check(
            name,
            Status.OK,
            value=result.bytes_after,
            limit=root.max_bytes,
            unit="B",
            message=summary,
        )


def _print_removed(result: RootCleaning, verb: str, count: int) -> None:
    print(f"{result.purpose} root {result.root.path}: {verb} {count} entries")
    listed = (o for o in result.iter_outcomes() if o.would_remove)
    for outcome in itertools.islice(listed, MAX_LISTED):
        print(f"  {verb} {outcome.kind:7} {outcome.size:>12,} B  {outcome.path}")
    if count > MAX_LISTED:
        print(f"  ... and {count - MAX_LISTED} more")
    vanished = result.vanished
    for removal in vanished[:MAX_LISTED]:
        print(f"  vanished {removal.kind:7} {'':>12}    {removal.path}")
    if len(vanished) > MAX_LISTED:
        print(f"  ... and {len(vanished) - MAX_LISTED} more vanished")


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    value, unit = n / 1024, "KiB"
    for bigger in ("MiB", "GiB", "TiB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{value:,.1f} {unit}"
