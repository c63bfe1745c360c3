"""Responsible for the Prometheus textfile (`metrics.textfile` in `upkeep.yml`): per runbook its
last run, last success, last status, duration, checks by status, open findings by severity and
every metric its last executed run recorded, and per database the times of its backups; built
from the evidence each time (see `evidence_fold`) into a `prometheus_client` registry and
written by `write_to_textfile` (a temporary file renamed into place), one writer at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import filelock
from prometheus_client import CollectorRegistry, write_to_textfile
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from upkeep.atomic import file_mode, naming
from upkeep.config import Config
from upkeep.errors import UpkeepError
from upkeep.evidence import EvidenceStore
from upkeep.metrics import names
from upkeep.metrics.backups import DatabaseBackups, backup_times
from upkeep.metrics.evidence_fold import EvidenceFold, fold_evidence, last_record
from upkeep.records import CHECK_STATUSES, RunRecord, Severity, Status, parse_time
from upkeep.registry import notebook_names

__all__ = [
    "RunbookMetrics",
    "collect_metrics",
    "metrics_registry",
    "textfile_writer",
    "write_textfile",
]

CHECKPOINT = "evidence-fold.json"  # under <state_dir>/metrics/
LOCK = "textfile.lock"
LOCK_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class RunbookMetrics:
    """What the textfile says about one runbook."""

    runbook: str
    last_run: datetime | None
    last_status: Status | None
    last_success: datetime | None
    last_executed: RunRecord | None  # its duration, checks and metrics
    open_findings: dict[Severity, int]


def write_textfile(config: Config, path: Path | None = None) -> Path | None:
    """Write the textfile to `path` (default: `metrics.textfile`); None when there is none to
    write. One writer at a time (runs finishing together, two `upkeep run` at once), each
    building from the evidence as it is when it holds the lock, so the last write is current."""
    path = path or config.metrics.textfile
    if path is None:
        return None
    folder = config.state_dir / "metrics"
    folder.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(folder / LOCK, mode=file_mode(), thread_local=False)
    with lock.acquire(timeout=LOCK_TIMEOUT_SECONDS):
        runbooks, databases = collect_metrics(config, folder / CHECKPOINT)
        path.parent.mkdir(parents=True, exist_ok=True)
        with naming(path):  # prometheus_client's own write: a full disk names no file
            write_to_textfile(str(path), metrics_registry(runbooks, databases))
    return path


def textfile_writer(config: Config, notify: Callable[[str], None]) -> Callable[[], None]:
    """What a run calls once its evidence is published: rewrite the textfile (when one is
    configured). A textfile that cannot be written, for whatever reason, is said through
    `notify` and does not change the run's outcome: the evidence is recorded, and
    `UpkeepTextfileStale` fires if it lasts."""
    if config.metrics.textfile is None:
        return lambda: None

    def write() -> None:
        try:
            write_textfile(config)
        except Exception as exc:  # a bug here too: the run it follows is recorded and stands
            reason = str(exc) if isinstance(exc, OSError | UpkeepError) else repr(exc)
            notify(f"the metrics textfile {config.metrics.textfile} was not written: {reason}")

    return write


def collect_metrics(
    config: Config, checkpoint: Path | None
) -> tuple[list[RunbookMetrics], list[DatabaseBackups]]:
    """Every runbook of the plan that has evidence, and every configured database's backup
    times. A runbook no longer in the plan (no notebook of its name in the runbooks folders) is
    left out: its last failure would otherwise fire `UpkeepCheckFailing` for ever."""
    store = EvidenceStore(config.evidence_dir)
    fold = fold_evidence(store, checkpoint)
    planned = notebook_names(config.runbooks_dir)
    return _runbooks(store, fold, planned), backup_times(config)


def _runbooks(store: EvidenceStore, fold: EvidenceFold, planned: set[str]) -> list[RunbookMetrics]:
    found = []
    for name, runs in sorted(fold.runbooks.items()):
        if name not in planned:
            continue
        last = runs.last_run
        found.append(
            RunbookMetrics(
                runbook=name,
                last_run=parse_time(last.started_at) if last else None,
                last_status=last.status if last else None,
                last_success=parse_time(runs.last_success.started_at)
                if runs.last_success
                else None,
                last_executed=last_record(store, runs.last_executed),
                open_findings=fold.open_by_severity(name),
            )
        )
    return found


def metrics_registry(
    runbooks: list[RunbookMetrics], databases: list[DatabaseBackups]
) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_UpkeepCollector(runbooks, databases))
    return registry


class _UpkeepCollector(Collector):
    """Yields the metric families of one textfile, from what was collected."""

    def __init__(self, runbooks: list[RunbookMetrics], databases: list[DatabaseBackups]) -> None:
        self.runbooks = runbooks
        self.databases = databases

    def collect(self) -> Iterator[Metric]:
        yield from self._runbook_families()
        yield from _recorded_families(self.runbooks)
        yield from self._backup_families()

    def _runbook_families(self) -> Iterator[Metric]:
        label = [names.RUNBOOK_LABEL]
        last_run = GaugeMetricFamily(
            names.LAST_RUN, "When the runbook's last run started (Unix time).", labels=label
        )
        last_success = GaugeMetricFamily(
            names.LAST_SUCCESS,
            "When the runbook's last successful run (ok or warn, not a dry run) started.",
            labels=label,
        )
        status = GaugeMetricFamily(
            names.LAST_STATUS,
            "1 for the status the runbook's last run ended in, 0 for the others.",
            labels=[*label, "status"],
        )
        duration = GaugeMetricFamily(
            names.LAST_DURATION,
            "How long the runbook's last executed (not skipped) run took.",
            labels=label,
        )
        checks = GaugeMetricFamily(
            names.CHECKS,
            "Checks of the runbook's last executed run, by status (waived: a warn or fail "
            "that the risk register accepts).",
            labels=[*label, "status"],
        )
        findings = GaugeMetricFamily(
            names.OPEN_FINDINGS,
            "The runbook's open findings (not cleared, not acknowledged), by severity.",
            labels=[*label, "severity"],
        )
        for item in self.runbooks:
            name = item.runbook
            if item.last_run is not None:
                last_run.add_metric([name], item.last_run.timestamp())
            if item.last_success is not None:
                last_success.add_metric([name], item.last_success.timestamp())
            for each in Status:
                status.add_metric([name, each.value], float(each is item.last_status))
            if item.last_executed is not None:
                duration.add_metric([name], item.last_executed.duration_s)
                # A waived warn or fail is counted as `waived`, not `fail`: the accepted risk
                # shows, and the failing-check alert does not page for it.
                counts = dict.fromkeys([*(s.value for s in CHECK_STATUSES), "waived"], 0)
                for check in item.last_executed.checks:
                    counts[check.word.lower()] += 1
                for check_status, count in counts.items():
                    checks.add_metric([name, check_status], count)
            for severity, count in item.open_findings.items():
                findings.add_metric([name, severity.value], count)
        yield from (last_run, last_success, status, duration, checks, findings)

    def _backup_families(self) -> Iterator[Metric]:
        label = [names.DATABASE_LABEL]
        families = {
            "newest": GaugeMetricFamily(
                names.BACKUP_NEWEST, "When the database's newest backup was taken.", labels=label
            ),
            "newest_full": GaugeMetricFamily(
                names.BACKUP_NEWEST_FULL,
                "When the database's newest verified full backup was taken.",
                labels=label,
            ),
            "newest_verified": GaugeMetricFamily(
                names.BACKUP_NEWEST_VERIFIED,
                "When the database's newest backup that passed a restore test was taken.",
                labels=label,
            ),
            "last_restore_test": GaugeMetricFamily(
                names.BACKUP_LAST_RESTORE_TEST,
                "When a restore test of one of the database's backups last passed.",
                labels=label,
            ),
        }
        for database in self.databases:
            for field_name, family in families.items():
                moment = getattr(database, field_name)
                if moment is not None:
                    family.add_metric([database.database], moment.timestamp())
        yield from families.values()


def _recorded_families(runbooks: list[RunbookMetrics]) -> Iterator[Metric]:
    """Every metric the runbooks' last executed runs recorded, one family per sanitised name,
    labelled with the runbook and the recorded labels (a label another sample of the family has
    and this one lacks is empty, which Prometheus reads as absent); when two samples end up
    with the same name and labels, the last recorded wins. Names recorded differently that are
    made the same (`disk.used`, `disk-used`) stay apart: each but the first sample of a series
    carries its name as recorded in the label `upkeep_name`."""
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    recorded_as: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}
    described: dict[str, str] = {}
    for item in runbooks:
        if item.last_executed is None:
            continue
        for metric in item.last_executed.metrics:
            family = names.runbook_metric_name(metric.name)
            labels = {names.label_name(k): v for k, v in metric.labels.items()}
            labels[names.RUNBOOK_LABEL] = item.runbook
            key = tuple(sorted(labels.items()))
            first = recorded_as.setdefault((family, key), metric.name)
            if first != metric.name:
                labels[names.RECORDED_NAME_LABEL] = metric.name
                key = tuple(sorted(labels.items()))
            samples.setdefault(family, {})[key] = metric.value
            unit = f" ({metric.unit})" if metric.unit else ""
            described.setdefault(family, f"{metric.name}{unit}, as runbooks recorded it.")
    for family, values in sorted(samples.items()):
        label_names = sorted({name for key in values for name, _ in key})
        metric = Metric(family, described[family], "gauge")
        for key, value in values.items():
            given = dict(key)
            metric.add_sample(family, {n: given.get(n, "") for n in label_names}, value)
        yield metric
