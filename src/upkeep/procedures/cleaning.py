"""Responsible for the daily cleaning runbook's steps: clean the temp roots, trim the cache
roots (through `upkeep.cleaning`: scan, plan, execute), and record what happened as checks,
metrics and findings (`upkeep.report`), with a list of what was removed and of what vanished
(removed or renamed by someone else meanwhile: counted and listed, never a warning), and the
one-line summary of the run (`record_summary`); a dry run says it is one."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from upkeep import report
from upkeep.cleaning import CleaningKind, RootCleaning, execute, plan_root
from upkeep.config import Cleanup
from upkeep.records import Severity, Status
from upkeep.units import counted, human_size, parse_bool

if TYPE_CHECKING:
    from upkeep.logs.rotation_plan import RotationResult

__all__ = [
    "clean",
    "clean_temp_roots",
    "record_cleaning",
    "record_summary",
    "record_totals",
    "resolve_dry_run",
    "trim_cache_roots",
]

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


def resolve_dry_run(choice: bool | str | None, cleanup: Cleanup) -> bool:
    """The runbook's `dry_run` parameter: None follows the config's `cleanup.dry_run`; true or
    false, or a word for one (`yes`, `no`, ... as papermill hands them over by hand), says it.
    Only here does the run learn whether it is a dry run, so a dry run says so here
    (`upkeep.report.dry_run`): it is recorded and shown as one, and the real cleaning of the
    day still runs."""
    if choice is None:
        dry = cleanup.dry_run
    elif isinstance(choice, bool):
        dry = choice
    else:
        dry = parse_bool(str(choice))
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
        message=f"{verb} {human_size(freed)} ({removed} entries) in {len(results)} roots",
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
        report.finding(
            f"{name}:skipped:{shown(skip.path)}", skip.skipped or "", severity=Severity.WARN
        )
    if len(skipped) > MAX_FINDINGS:
        report.finding(
            f"{name}:skipped:more",
            f"{len(skipped) - MAX_FINDINGS} more skipped entries not listed",
            severity=Severity.WARN,
        )
    summary = (
        f"{verb} {counted(count, 'entry', 'entries')}, {human_size(result.freed_bytes)}; "
        f"{human_size(result.bytes_after)} left; {len(skipped)} skipped; "
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
        happen = "would not happen" if result.dry_run else "did not happen"
        message = f"{counted(len(failed), 'removal')} {happen}: {summary}"
        report.check(name, Status.WARN, message=message)
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
        print(f"  {verb} {outcome.kind:7} {human_size(outcome.size):>10}  {shown(outcome.path)}")
    if count > MAX_LISTED:
        print(f"  ... and {count - MAX_LISTED} more")
    vanished = result.vanished
    for removal in vanished[:MAX_LISTED]:
        print(f"  vanished {removal.kind:7} {'':>10}  {shown(removal.path)}")
    if len(vanished) > MAX_LISTED:
        print(f"  ... and {len(vanished) - MAX_LISTED} more vanished")


def record_summary(
    results: Sequence[RootCleaning], rotations: Sequence[RotationResult] = ()
) -> None:
    """The run's one line (`upkeep.report.summary`): what was removed, or in a dry run would be,
    and what that frees, in how many roots; and how many logs were rotated."""
    dry = any(r.dry_run for r in results) or any(r.dry_run for r in rotations)
    removed = sum(r.removed_count for r in results)
    freed = human_size(sum(r.freed_bytes for r in results))
    refused = sum(1 for r in results if r.error is not None)
    if not results:
        parts = ["no temp or cache roots to clean"]
    else:
        verb = "would remove" if dry else "removed"
        parts = [f"{verb} {_entries(removed)}, freeing {freed} in {_roots(len(results))}"]
    if refused:
        parts.append(f"{_roots(refused)} refused")
    if rotations:
        rotated = sum(1 for r in rotations if r.rotated)
        verb = "would rotate" if dry else "rotated"
        parts.append(f"{verb} {rotated} of {len(rotations)} logs")
    report.summary("; ".join(parts))


def _entries(count: int) -> str:
    return "1 entry" if count == 1 else f"{count} entries"


def _roots(count: int) -> str:
    return "1 root" if count == 1 else f"{count} roots"


def shown(path: Path | str) -> str:
    """A path as one printable line: a control character (a name may hold a newline, which
    would start a line of its own in the listing) or a byte that is not UTF-8 (kept by Python
    as a surrogate escape) written as its escape, `\\n` or `\\xff`."""
    text = str(path)
    if text.isprintable():
        return text
    return "".join(_escaped(char) for char in text)


def _escaped(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte of a name that is not UTF-8
        return f"\\x{code - 0xDC00:02x}"
    if char.isprintable():
        return char
    return char.encode("unicode_escape").decode("ascii")
