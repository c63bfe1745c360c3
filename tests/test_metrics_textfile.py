"""upkeep.metrics.textfile: the Prometheus textfile holds, per runbook, its last run, last
success, last status, duration, checks by status, open findings by severity and what it
recorded; per database its backup times. Read back with prometheus_client's own parser."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import textwrap
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers.project import CHECK_OK, Project
from prometheus_client.parser import text_string_to_metric_families

from upkeep.config import load_config
from upkeep.evidence import EvidenceStore
from upkeep.metrics import names
from upkeep.metrics.textfile import write_textfile
from upkeep.procedures.backup import back_up_all
from upkeep.records import (
    Check,
    Decision,
    Finding,
    Metric,
    RunbookRef,
    RunRecord,
    Severity,
    Status,
)

DAY0 = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def record(
    runbook: str,
    day: int,
    status: Status = Status.OK,
    *,
    checks: tuple[Check, ...] = (Check("c", Status.OK),),
    metrics: tuple[Metric, ...] = (),
    findings: tuple[Finding, ...] = (),
    duration_s: float = 1.5,
    dry_run: bool = False,
) -> RunRecord:
    at = DAY0 + timedelta(days=day)
    return RunRecord(
        f"{at:%Y%m%dT%H%M%SZ}-{runbook}-{day:04x}",
        RunbookRef(runbook),
        status,
        at,
        at + timedelta(seconds=duration_s),
        at,
        duration_s=duration_s,
        checks=checks,
        metrics=metrics,
        findings=findings,
        dry_run=dry_run,
    )


def publish(store: EvidenceStore, *records: RunRecord) -> None:
    for item in records:
        store.publish(store.new_staging(item.run_id), item)


def samples(path: Path) -> Samples:
    """Every sample of the textfile, by (name, labels), parsed as Prometheus would."""
    found: Samples = {}
    for family in text_string_to_metric_families(path.read_text()):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found: Samples, name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


# The runbooks the tests publish runs of: the textfile shows only runbooks the plan still has.
PLANNED = ("backup", "cleaning", "dependency-review", "drill", "health-check", "review")


@pytest.fixture
def metrics_project(make_project: Callable[[str], Project]) -> Project:
    project = make_project("""\
        version: 1
        evidence_dir: evidence
        state_dir: state
        metrics:
          textfile: metrics/upkeep.prom
    """)
    for name in PLANNED:
        project.add_runbook(name, [CHECK_OK])
    return project


def test_each_runbook_gets_its_last_run_success_status_duration_and_checks(
    metrics_project: Project,
) -> None:
    config = load_config(metrics_project.config)
    store = EvidenceStore(config.evidence_dir)
    publish(
        store,
        record("backup", 0, Status.OK),
        record("backup", 1, Status.FAIL, checks=(Check("a", Status.FAIL), Check("b", Status.OK))),
        record("backup", 2, Status.ERROR, checks=(), duration_s=7.25),
        record("cleaning", 0, Status.WARN, dry_run=True),
        record("cleaning", 1, Status.WARN, checks=(Check("x", Status.WARN),) * 2),
    )
    path = write_textfile(config)
    assert path == metrics_project.root / "metrics/upkeep.prom"
    found = samples(path)

    day = lambda n: (DAY0 + timedelta(days=n)).timestamp()  # noqa: E731
    assert value(found, names.LAST_RUN, runbook="backup") == day(2)
    assert value(found, names.LAST_SUCCESS, runbook="backup") == day(0)  # fail, error: no
    assert value(found, names.LAST_SUCCESS, runbook="cleaning") == day(1)  # not the dry run
    assert value(found, names.LAST_STATUS, runbook="backup", status="error") == 1
    for other in ("ok", "warn", "fail", "skipped"):
        assert value(found, names.LAST_STATUS, runbook="backup", status=other) == 0
    assert value(found, names.LAST_DURATION, runbook="backup") == 7.25
    assert value(found, names.CHECKS, runbook="backup", status="fail") == 0  # the error run's
    assert value(found, names.CHECKS, runbook="cleaning", status="warn") == 2
    assert value(found, names.CHECKS, runbook="cleaning", status="ok") == 0


def test_a_runbook_that_never_succeeded_has_no_last_success_sample(
    metrics_project: Project,
) -> None:
    config = load_config(metrics_project.config)
    publish(EvidenceStore(config.evidence_dir), record("drill", 0, Status.FAIL))
    found = samples(write_textfile(config))
    assert value(found, names.LAST_RUN, runbook="drill") is not None
    assert not any(name == names.LAST_SUCCESS for name, _ in found)


def test_a_runbook_no_longer_in_the_plan_is_left_out(metrics_project: Project) -> None:
    config = load_config(metrics_project.config)
    publish(
        EvidenceStore(config.evidence_dir),
        record("renamed-away", 0, Status.FAIL, checks=(Check("a", Status.FAIL),)),
        record("backup", 0),
    )
    found = samples(write_textfile(config))
    runbooks = {dict(labels).get("runbook") for _, labels in found}
    assert "backup" in runbooks and "renamed-away" not in runbooks


def test_recorded_metrics_keep_their_labels_with_names_made_valid(
    metrics_project: Project,
) -> None:
    config = load_config(metrics_project.config)
    publish(
        EvidenceStore(config.evidence_dir),
        record(
            "health-check",
            0,
            metrics=(
                Metric("disk_used_percent", 87.5, "%", {"mount": "/"}),
                Metric("disk_used_percent", 12.0, "%", {"mount": "/srv"}),
                Metric("http.latency-ms", 3.5, "ms", {"service": "web", "runbook": "theirs"}),
                Metric("rows", 4.0, "", {"__secret": "x", "9lives": "y"}),
            ),
        ),
        record("dependency-review", 0, metrics=(Metric("disk_used_percent", 50.0),)),
    )
    found = samples(write_textfile(config))
    disk = "upkeep_runbook_metric_disk_used_percent"
    assert value(found, disk, runbook="health-check", mount="/") == 87.5
    assert value(found, disk, runbook="health-check", mount="/srv") == 12.0
    # A sample without a label its family has elsewhere holds it empty: Prometheus reads "".
    assert value(found, disk, runbook="dependency-review", mount="") == 50.0
    assert (
        value(
            found,
            "upkeep_runbook_metric_http_latency_ms",
            runbook="health-check",
            service="web",
            label_runbook="theirs",
        )
        == 3.5
    )
    assert (
        value(
            found,
            "upkeep_runbook_metric_rows",
            runbook="health-check",
            label___secret="x",
            _9lives="y",
        )
        == 4.0
    )


def test_names_made_the_same_keep_their_series_apart(metrics_project: Project) -> None:
    # `disk.used`, `disk_used` and `disk-used` were one series, the last one's value.
    config = load_config(metrics_project.config)
    publish(
        EvidenceStore(config.evidence_dir),
        record(
            "health-check",
            0,
            metrics=(Metric("disk.used", 1.0), Metric("disk_used", 2.0), Metric("disk-used", 3.0)),
        ),
    )
    found = samples(write_textfile(config))
    family = "upkeep_runbook_metric_disk_used"
    assert value(found, family, runbook="health-check", upkeep_name="") == 1.0
    assert value(found, family, runbook="health-check", upkeep_name="disk_used") == 2.0
    assert value(found, family, runbook="health-check", upkeep_name="disk-used") == 3.0


def test_open_findings_are_counted_by_severity_until_acknowledged(
    metrics_project: Project,
) -> None:
    config = load_config(metrics_project.config)
    store = EvidenceStore(config.evidence_dir)
    warn = Finding("orphans:a", "3 orphans", Severity.WARN)
    fail = Finding("log:x", "timeouts", Severity.FAIL, sticky=True)
    gone = Finding("old", "fixed since", Severity.INFO)
    publish(store, record("review", 0, findings=(warn, fail, gone)))
    publish(store, record("review", 1, findings=(warn,)))  # `gone` closes; sticky `fail` stays
    found = samples(write_textfile(config))
    assert value(found, names.OPEN_FINDINGS, runbook="review", severity="warn") == 1
    assert value(found, names.OPEN_FINDINGS, runbook="review", severity="fail") == 1
    assert value(found, names.OPEN_FINDINGS, runbook="review", severity="info") == 0

    store.record_decision(Decision("acknowledge", "log:x", "dana", DAY0 + timedelta(days=2), "ok"))
    found = samples(write_textfile(config))
    assert value(found, names.OPEN_FINDINGS, runbook="review", severity="fail") == 0
    assert value(found, names.OPEN_FINDINGS, runbook="review", severity="warn") == 1


def test_backup_times_per_database_come_from_the_store(
    make_project: Callable[[str], Project], tmp_path: Path
) -> None:
    with sqlite3.connect(tmp_path / "app.db") as db:
        db.execute("create table t (id integer primary key, name text)")
        db.executemany("insert into t (name) values (?)", [("a",), ("b",)])
    project = make_project("""\
        version: 1
        state_dir: state
        databases:
          - {name: app, engine: sqlite, path: app.db}
          - {name: never, engine: sqlite, path: never.db}
        backup: {dir: backups, mode: full}
        metrics: {textfile: upkeep.prom}
    """)
    config = load_config(project.config)
    before = datetime.now(UTC).timestamp()
    back_up_all(config, retention=False)
    found = samples(write_textfile(config))
    taken = value(found, names.BACKUP_NEWEST, database="app")
    assert taken is not None and before - 2 <= taken <= datetime.now(UTC).timestamp()
    assert value(found, names.BACKUP_NEWEST_FULL, database="app") == taken
    assert value(found, names.BACKUP_NEWEST_VERIFIED, database="app") == taken
    tested = value(found, names.BACKUP_LAST_RESTORE_TEST, database="app")
    assert tested is not None and tested >= int(taken)
    # A database without backups has no sample: the rule's absent() names it.
    assert not any(dict(labels).get("database") == "never" for _, labels in found)


def test_a_backup_whose_restore_test_failed_is_not_counted_as_verified(
    make_project: Callable[[str], Project], tmp_path: Path
) -> None:
    with sqlite3.connect(tmp_path / "app.db") as db:
        db.execute("create table t (id integer primary key)")
    project = make_project("""\
        version: 1
        state_dir: state
        databases: [{name: app, engine: sqlite, path: app.db}]
        backup: {dir: backups, mode: full}
        metrics: {textfile: upkeep.prom}
    """)
    config = load_config(project.config)
    run = back_up_all(config, retention=False)
    from upkeep.backup.stores import DirectoryStore

    DirectoryStore(config.backup.dir).mark_verified(
        run.backups[0].result.manifest.id, False, "test"
    )
    found = samples(write_textfile(config))
    assert value(found, names.BACKUP_NEWEST, database="app") is not None
    assert value(found, names.BACKUP_NEWEST_VERIFIED, database="app") is None
    assert value(found, names.BACKUP_NEWEST_FULL, database="app") is None


def test_an_incremental_whose_base_is_gone_is_not_the_newest_verified(
    make_project: Callable[[str], Project], tmp_path: Path
) -> None:
    with sqlite3.connect(tmp_path / "app.db") as db:
        db.execute("create table t (id integer primary key)")
    project = make_project("""\
        version: 1
        state_dir: state
        databases: [{name: app, engine: sqlite, path: app.db}]
        backup: {dir: backups, mode: incremental, full_every: 3}
        metrics: {textfile: upkeep.prom}
    """)
    config = load_config(project.config)
    [full] = back_up_all(config, retention=False).backups
    [incremental] = back_up_all(config, retention=False).backups
    assert incremental.result.manifest.base == full.result.manifest.id
    shutil.rmtree(config.backup.dir / full.result.manifest.id)  # deleted by hand

    found = samples(write_textfile(config))

    assert value(found, names.BACKUP_NEWEST, database="app") is not None
    assert value(found, names.BACKUP_NEWEST_VERIFIED, database="app") is None


def test_the_textfile_is_replaced_whole_and_readable_by_node_exporter(
    metrics_project: Project,
) -> None:
    config = load_config(metrics_project.config)
    publish(EvidenceStore(config.evidence_dir), record("backup", 0))
    path = write_textfile(config)
    first = path.stat().st_ino
    publish(EvidenceStore(config.evidence_dir), record("backup", 1))
    write_textfile(config)
    assert path.stat().st_ino != first  # a new file renamed over the old one
    assert path.stat().st_mode & stat.S_IROTH  # node_exporter runs as its own user
    assert [p.name for p in path.parent.iterdir()] == ["upkeep.prom"]  # no temporary left


def test_no_textfile_without_the_setting(project: Project) -> None:
    config = load_config(project.config)
    assert write_textfile(config) is None


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("metrics: {textfile: upkeep.txt}", "metrics.textfile: expected a file name ending in"),
        ("metrics: {grace: 6h}", "metrics.grace: unknown key"),  # the grace is status:'s
        ("metrics: {textfile: a.prom, every: 1h}", "metrics.every: unknown key"),
    ],
)
def test_a_bad_metrics_section_is_refused_at_load_with_exit_2(
    make_project: Callable[[str], Project], section: str, expected: str
) -> None:
    project = make_project("version: 1\n" + section + "\n")
    result = project.upkeep_in_process("list")
    assert result.code == 2
    assert expected in result.err


@pytest.mark.slow
def test_every_upkeep_run_rewrites_the_textfile(metrics_project: Project) -> None:
    metrics_project.add_runbook(
        "tiny",
        [
            CHECK_OK,
            ("code", "report.metric('queue depth', 3, labels={'queue': 'mail'})"),
        ],
    )
    result = metrics_project.upkeep("run", "tiny")
    assert result.code == 0, result.err
    path = metrics_project.root / "metrics/upkeep.prom"
    found = samples(path)
    assert value(found, names.LAST_STATUS, runbook="tiny", status="ok") == 1
    assert value(found, "upkeep_runbook_metric_queue_depth", runbook="tiny", queue="mail") == 3
    run_started = value(found, names.LAST_RUN, runbook="tiny")

    metrics_project.add_runbook("tiny", [("code", "raise RuntimeError('broken')")])
    assert metrics_project.upkeep("run", "tiny").code == 3
    found = samples(path)
    assert value(found, names.LAST_STATUS, runbook="tiny", status="error") == 1
    assert value(found, names.LAST_SUCCESS, runbook="tiny") == run_started
    assert value(found, names.LAST_RUN, runbook="tiny") > run_started


@pytest.mark.slow
def test_a_textfile_that_cannot_be_written_leaves_the_run_as_it_was(
    make_project: Callable[[str], Project],
) -> None:
    project = make_project(
        textwrap.dedent("""\
        version: 1
        state_dir: state
        metrics: {textfile: blocked/upkeep.prom}
    """)
    )
    (project.root / "blocked").write_text("a file where the folder should be")
    project.add_runbook("tiny", [CHECK_OK])
    result = project.upkeep("run", "tiny")
    assert result.code == 0, result.err
    assert "the metrics textfile" in result.err and "was not written" in result.err
    assert [r["status"] for r in project.records()] == ["ok"]


def test_a_full_disk_names_the_textfile_it_could_not_write(
    metrics_project: Project, tmp_path: Path
) -> None:
    # prometheus_client writes the file itself: ENOSPC came out naming no file, and the
    # README promises one line naming the path and the errno.
    from helpers.tiny_fs import tiny_filesystem

    config = load_config(metrics_project.config)
    publish(EvidenceStore(config.evidence_dir), record("backup", 1))
    with tiny_filesystem(tmp_path / "full", "64k") as full:
        _fill(full)
        target = full / "upkeep.prom"
        with pytest.raises(OSError) as caught:
            write_textfile(config, target)
    assert caught.value.filename == str(target)
    assert caught.value.errno == 28


def _fill(folder: Path) -> None:
    """Write into `folder` until its filesystem is full."""
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:  # ENOSPC: full
        pass
    finally:
        os.close(fd)
