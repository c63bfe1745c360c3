"""Responsible for the Prometheus alerting rules derived from the plan (`upkeep export
prometheus-rules`): per runbook, "has not succeeded within its cadence + its time limit +
grace" and "has never succeeded"; a check failing, a run ending in error; per database, the
newest verified full backup and the newest verified backup older than their limits; and the
textfile itself not rewritten for longer than the shortest cadence allows. The rules read the
metrics the textfile holds (`upkeep.metrics.names`); the document is Prometheus' rule-file YAML.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import yaml
from cronsim import CronSim

from upkeep.config import Config
from upkeep.metrics import names
from upkeep.registry import Runbook
from upkeep.schedule import cron_for

__all__ = ["GROUP", "longest_gap", "rules_document", "rules_yaml"]

GROUP = "upkeep"
_SPAN = timedelta(days=400)  # every month and weekday, and a leap day, seen at least once
_MAX_STEPS = 5000  # a cron firing every minute: its gap is found long before the span ends
_DAY = 86400


def longest_gap(cadence: str, tz: tzinfo) -> timedelta:
    """The longest time between two scheduled times of `cadence` in a year of `tz` (a monthly
    cadence: 31 days; `0 3 * * 1-5`: 3 days), so that the rule never fires on a quiet stretch."""
    start = datetime(2026, 1, 1, tzinfo=tz)
    times = CronSim(cron_for(cadence), start)
    previous = next(times)
    longest = timedelta(0)
    for _ in range(_MAX_STEPS):
        moment = next(times)
        gap = moment.astimezone(UTC) - previous.astimezone(UTC)
        longest, previous = max(longest, gap), moment
        if moment - start > _SPAN:
            break
    return longest


def rules_document(config: Config, runbooks: Iterable[Runbook]) -> dict[str, Any]:
    """The rule file: one group holding every rule, runbook rules in name order."""
    rules: list[dict[str, Any]] = []
    for runbook in sorted(runbooks, key=lambda r: r.name):
        rules.extend(_runbook_rules(config, runbook))
    rules.extend(_run_rules())
    rules.extend(_backup_rules(config))
    rules.extend(_textfile_rules(config, runbooks))
    return {"groups": [{"name": GROUP, "rules": rules}]}


def rules_yaml(config: Config, runbooks: Iterable[Runbook]) -> str:
    header = (
        f"# Alerting rules for upkeep, derived from the plan by `upkeep export prometheus-rules`\n"
        f"# (config {config.path.name}). Regenerate them when runbooks or limits change;\n"
        "# check them with `promtool check rules FILE`.\n"
    )
    body = yaml.safe_dump(
        rules_document(config, list(runbooks)), sort_keys=False, width=100, allow_unicode=True
    )
    return header + body


def _runbook_rules(config: Config, runbook: Runbook) -> list[dict[str, Any]]:
    gap = longest_gap(runbook.cadence, config.tz)
    time_limit = timedelta(seconds=runbook.timeout_s or config.timeout_s)
    grace = config.status.grace(runbook.name)
    limit = gap + grace.start + time_limit + grace.run
    selector = f'{names.LAST_SUCCESS}{{{names.RUNBOOK_LABEL}="{runbook.name}"}}'
    why = (
        f"cadence {runbook.cadence} (at most {_duration(gap)} between runs) + start grace "
        f"{_duration(grace.start)} + time limit {_duration(time_limit)} + run grace "
        f"{_duration(grace.run)}"
    )
    # Each rule its own copy of the labels: one shared dict would be written as a YAML alias.
    labels = {"severity": "warning", names.RUNBOOK_LABEL: runbook.name}
    return [
        {
            "alert": "UpkeepRunbookNotSucceeded",
            "expr": f"time() - {selector} > {int(limit.total_seconds())}",
            "labels": dict(labels),
            "annotations": {
                "summary": f"{runbook.name} has not succeeded for over {_duration(limit)}",
                "description": f"{runbook.title}: last success "
                "{{ $value | humanizeDuration }} ago; " + why + ".",
            },
        },
        {
            "alert": "UpkeepRunbookNeverSucceeded",
            "expr": f"absent({selector})",
            "for": _duration(limit),
            "labels": dict(labels),
            "annotations": {
                "summary": f"{runbook.name} has no successful run on record",
                "description": f"{runbook.title}: no successful run in the textfile for "
                f"{_duration(limit)} ({why}), or the textfile is not scraped.",
            },
        },
    ]


def _run_rules() -> list[dict[str, Any]]:
    return [
        {
            "alert": "UpkeepCheckFailing",
            "expr": f'{names.CHECKS}{{status="fail"}} > 0',
            "labels": {"severity": "critical"},
            "annotations": {
                "summary": "{{ $labels.runbook }}: {{ $value }} check(s) failing",
                "description": "The last run of {{ $labels.runbook }} failed a check: see its "
                "report (`upkeep list`, the site's dashboard) and the runbook's triage table.",
            },
        },
        {
            "alert": "UpkeepRunErrored",
            "expr": f'{names.LAST_STATUS}{{status="error"}} == 1',
            "labels": {"severity": "critical"},
            "annotations": {
                "summary": "{{ $labels.runbook }}: the last run ended in error",
                "description": "The notebook raised, timed out, lost its kernel or recorded "
                "no check: its report names the cell and the error.",
            },
        },
    ]


def _backup_rules(config: Config) -> list[dict[str, Any]]:
    if config.backup.dir is None or not config.databases:
        return []
    full_limit = timedelta(days=config.backup.max_full_age_days)
    verified_limit = timedelta(days=config.backup_verification.max_verified_age_days)
    return [
        {
            "alert": "UpkeepBackupTooOld",
            "expr": f"time() - {names.BACKUP_NEWEST_FULL} > {int(full_limit.total_seconds())}",
            "labels": {"severity": "critical"},
            "annotations": {
                "summary": "{{ $labels.database }}: newest verified full backup older than "
                f"{_duration(full_limit)}",
                "description": "backup.max_full_age_days in upkeep.yml; the daily backup "
                "runbook says why no newer full backup was taken or verified.",
            },
        },
        {
            "alert": "UpkeepVerifiedBackupTooOld",
            "expr": f"time() - {names.BACKUP_NEWEST_VERIFIED} > "
            f"{int(verified_limit.total_seconds())}",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "{{ $labels.database }}: newest backup that passed a restore test "
                f"is older than {_duration(verified_limit)}",
                "description": "backup_verification.max_verified_age_days in upkeep.yml; see "
                "the weekly backup verification runbook.",
            },
        },
        *(
            {
                "alert": "UpkeepBackupMissing",
                "expr": f'absent({names.BACKUP_NEWEST_FULL}{{{names.DATABASE_LABEL}="{db.name}"}})',
                "for": _duration(full_limit),
                "labels": {"severity": "critical", names.DATABASE_LABEL: db.name},
                "annotations": {
                    "summary": f"{db.name}: no verified full backup on record",
                    "description": f"No verified full backup of {db.name} in the textfile for "
                    f"{_duration(full_limit)}, or the textfile is not scraped.",
                },
            }
            for db in config.databases
        ),
    ]


def _textfile_rules(config: Config, runbooks: Iterable[Runbook]) -> list[dict[str, Any]]:
    textfile = config.metrics.textfile
    gaps = [longest_gap(runbook.cadence, config.tz) for runbook in runbooks]
    if textfile is None or not gaps:
        return []
    limit = min(gaps) + config.status.default.start
    pattern = _promql_string("(.*/)?" + _re2_literal(textfile.name))
    return [
        {
            "alert": "UpkeepTextfileStale",
            "expr": f'time() - node_textfile_mtime_seconds{{file=~"{pattern}"}} > '
            f"{int(limit.total_seconds())}",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": f"{textfile.name} not rewritten for over {_duration(limit)}",
                "description": "upkeep rewrites the textfile after every run: no run for "
                "this long means its scheduler (the nightly) has stopped.",
            },
        }
    ]


def _re2_literal(text: str) -> str:
    """`text` as a regular expression (RE2, Prometheus') matching exactly it."""
    return "".join(f"\\{char}" if char in _RE2_SPECIAL else char for char in text)


def _promql_string(text: str) -> str:
    """`text` inside a double-quoted PromQL string: backslashes and quotes escaped."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


_RE2_SPECIAL = frozenset("\\.+*?()|[]{}^$")


def _duration(span: timedelta) -> str:
    """A Prometheus duration: `1d6h`, `31d`, `90m`, whole units only."""
    seconds = int(span.total_seconds())
    parts = []
    for unit, size in (("d", _DAY), ("h", 3600), ("m", 60), ("s", 1)):
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts) or "0s"
