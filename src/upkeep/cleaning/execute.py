"""Responsible for carrying out a cleaning plan: every entry re-checked, then removed or skipped.

`execute` hands the plan's batches to `safedelete`, which re-checks every entry and removes
only what is still what the scan saw. A dry run goes through the same checks and removes
nothing, so it reports exactly what a real run would remove. A `RootCleaning` keeps counts,
bytes, the skips and the entries that vanished (gone before the scan or the removal could get
to them: counted, not failures), and rebuilds the list of removals from the plan only when asked.
"""

from __future__ import annotations

import stat
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

from upkeep.cleaning.plan import CleaningKind, Plan, failure_message, planned_entries
from upkeep.cleaning.safedelete import (
    Batch,
    Outcome,
    Removal,
    RemovalCounts,
    RootError,
    kind_of,
    remove_batches,
)
from upkeep.config import CleanupRoot
from upkeep.gc_pause import gc_paused

__all__ = ["RootCleaning", "execute"]


@dataclass(frozen=True)
class RootCleaning:
    """The outcome for one root: counts and bytes of what went, every skip with its reason.

    Only skips are kept entry by entry; the full list of removals is rebuilt on demand from the
    plan (every planned entry that was not skipped went), so a large cleaning stays cheap."""

    root: CleanupRoot
    purpose: CleaningKind
    dry_run: bool
    attempted: tuple[Batch, ...]  # the plan's batches, in the order they were attempted
    failures: tuple[Outcome, ...]  # attempted entries that were not removed, with the reason
    removed_count: int  # removed (in a dry run: that a real run would remove)
    freed_bytes: int
    skipped: tuple[Removal, ...]  # skipped at scan or plan time
    bytes_before: int
    protected: int
    error: str | None = None
    gone: tuple[Outcome, ...] = ()  # attempted entries already gone when their turn came
    vanished_at_scan: tuple[Removal, ...] = ()  # listed, then gone before the scan's lstat

    def iter_outcomes(self) -> Iterator[Outcome]:
        """Every attempted removal, in order: removed (would be, in a dry run), skipped, or
        gone (skipped with the reason `already gone`)."""
        failed = {outcome.path: outcome for outcome in self.failures + self.gone}
        done, dry = not self.dry_run, self.dry_run
        for path, seen in planned_entries(self.attempted):
            if path in failed:
                yield failed[path]
            else:
                kind = kind_of(seen.st_mode)
                yield Outcome(path, kind, 0 if kind == "dir" else seen.st_size, done, None, dry)

    @property
    def outcomes(self) -> tuple[Outcome, ...]:
        return tuple(self.iter_outcomes())

    @property
    def removals(self) -> tuple[Removal, ...]:
        """Every attempted removal, removed or skipped."""
        return tuple(outcome.removal() for outcome in self.iter_outcomes())

    @property
    def removed(self) -> tuple[Removal, ...]:
        """Removed entries (in a dry run: the entries a real run would remove)."""
        return tuple(o.removal() for o in self.iter_outcomes() if o.would_remove)

    @property
    def failed(self) -> tuple[Removal, ...]:
        """Attempted removals that did not happen (or, in a dry run, would not)."""
        return tuple(outcome.removal() for outcome in self.failures)

    @property
    def all_skipped(self) -> tuple[Removal, ...]:
        return self.skipped + self.failed

    @property
    def vanished(self) -> tuple[Removal, ...]:
        """Entries removed or renamed by someone else while the root was cleaned, whether at the
        scan or at the removal: not failures, but reported."""
        return self.vanished_at_scan + tuple(outcome.removal() for outcome in self.gone)

    @cached_property
    def bytes_after(self) -> int:
        """What the root holds after the cleaning, measured as `bytes_before` (each file's size,
        per link): less every file removed, whether or not its bytes were freed. A file with
        another link outside the root leaves the root but frees nothing (`freed_bytes`)."""
        not_removed = {outcome.path for outcome in self.failures + self.gone}
        taken = 0
        for batch in self.attempted:
            for seen in batch.entries:
                if not stat.S_ISDIR(seen.st_mode):
                    taken += seen.st_size
        for path, seen in planned_entries(self.attempted) if not_removed else ():
            if path in not_removed and not stat.S_ISDIR(seen.st_mode):
                taken -= seen.st_size
        return self.bytes_before - taken

    @property
    def over_limit(self) -> bool:
        return self.root.max_bytes is not None and self.bytes_after > self.root.max_bytes


def execute(plan: Plan, *, dry_run: bool) -> RootCleaning:
    """Remove what `plan` lists, each entry re-checked by `safedelete` (nothing in a dry run)."""
    counts = RemovalCounts(0, 0, ())
    error = plan.error
    if error is None and plan.batches:
        try:
            with gc_paused():
                counts = remove_batches(plan.root.path, plan.batches, dry_run=dry_run)
        except RootError as exc:
            error = failure_message(exc, plan.root.path)
    return RootCleaning(
        root=plan.root,
        purpose=plan.purpose,
        dry_run=dry_run,
        attempted=plan.batches if error is None else (),
        failures=counts.skipped,
        removed_count=counts.removed,
        freed_bytes=counts.freed,
        skipped=plan.skipped,
        bytes_before=plan.bytes_before,
        protected=plan.protected,
        error=error,
        gone=counts.vanished,
        vanished_at_scan=plan.vanished,
    )
