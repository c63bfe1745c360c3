"""Responsible for cleaning the configured temp and cache roots, in three plain steps per root.

`scan` lists the root's tree without following symlinks or leaving its filesystem; `plan`
decides what goes, by the root's `CleaningKind`; `execute` hands the plan to `safedelete`,
which re-checks every entry and removes only what is still what the scan saw (a dry run makes
the same checks and removes nothing). A new kind of root is a `CleaningKind` member and its
choice of files in `plan.py`. The runbook's entry points and recording are
`upkeep.procedures.cleaning`.
"""

from __future__ import annotations

from upkeep.cleaning.execute import RootCleaning, execute
from upkeep.cleaning.plan import CleaningKind, Plan, plan_cache, plan_root, plan_temp
from upkeep.cleaning.scan import Scan, scan_root

__all__ = [
    "CleaningKind",
    "Plan",
    "RootCleaning",
    "Scan",
    "execute",
    "plan_cache",
    "plan_root",
    "plan_temp",
    "scan_root",
]
