"""Responsible for the names of what upkeep exports to Prometheus, each defined once for the
textfile and the alerting rules, and for turning a name or label a runbook recorded into one
Prometheus accepts (letters, digits and underscores; a label never `__`-reserved nor `runbook`).
"""

from __future__ import annotations

import re

RUNBOOK_LABEL = "runbook"
# A recorded metric's name as written, when another name was made the same Prometheus name.
RECORDED_NAME_LABEL = "upkeep_name"
DATABASE_LABEL = "database"

LAST_RUN = "upkeep_runbook_last_run_timestamp_seconds"
LAST_SUCCESS = "upkeep_runbook_last_success_timestamp_seconds"
LAST_STATUS = "upkeep_runbook_last_status"
LAST_DURATION = "upkeep_runbook_last_duration_seconds"
CHECKS = "upkeep_runbook_checks"
OPEN_FINDINGS = "upkeep_runbook_open_findings"
RUNBOOK_METRIC_PREFIX = "upkeep_runbook_metric_"

BACKUP_NEWEST = "upkeep_backup_newest_timestamp_seconds"
BACKUP_NEWEST_FULL = "upkeep_backup_newest_full_timestamp_seconds"
BACKUP_NEWEST_VERIFIED = "upkeep_backup_newest_verified_timestamp_seconds"
BACKUP_LAST_RESTORE_TEST = "upkeep_backup_last_restore_test_timestamp_seconds"

_NOT_ALLOWED = re.compile(r"[^a-zA-Z0-9_]")


def runbook_metric_name(recorded: str) -> str:
    """`report.metric("disk_used_percent", …)` → `upkeep_runbook_metric_disk_used_percent`;
    each character Prometheus does not allow (`-`, `.`, `/`, a space, …) becomes `_`."""
    return RUNBOOK_METRIC_PREFIX + (_NOT_ALLOWED.sub("_", recorded) or "_")


def label_name(recorded: str) -> str:
    """A recorded label as a Prometheus label name: characters not allowed become `_`, one that
    would start with a digit gets a leading `_`, and one Prometheus reserves (`__…`) or that is
    upkeep's own (`runbook`) gets the prefix `label_`."""
    name = _NOT_ALLOWED.sub("_", recorded) or "_"
    if name[0].isdigit():
        name = "_" + name
    if name.startswith("__") or name == RUNBOOK_LABEL:
        name = "label_" + name
    return name
