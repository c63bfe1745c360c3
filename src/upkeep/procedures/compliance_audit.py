"""Responsible for the yearly compliance audit runbook's work, each step recorded with
`upkeep.report`: the record of processing present (`record_record`); every configured database
audited against it over a read-only connection (`audit_databases`, `record_databases`: coverage,
undeclared personal columns, rows past retention with the DELETE to run, stale entries); the
logs kept past their retention (`record_logs`); upkeep's own evidence scanned for personal data
(`record_evidence`); the data-subject lookup run for the synthetic subject and compared with
the rows planted (`record_subject_lookup`). Messages quote counts and kinds, never a value."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from upkeep import report
from upkeep.compliance.database_audit import DatabaseAudit, audit_database, without_values
from upkeep.compliance.dialects import dialect_for
from upkeep.compliance.evidence_scan import scan_evidence
from upkeep.compliance.log_retention import logs_past_retention
from upkeep.compliance.recognizers import describe
from upkeep.compliance.subject_lookup import find_subject_rows
from upkeep.config import Config, Database
from upkeep.config.compliance import Compliance
from upkeep.dbreview.connect import connect
from upkeep.dbreview.interface import QueryError
from upkeep.records import Severity, Status
from upkeep.units import counted, human_size

__all__ = [
    "DatabaseAuditResult",
    "audit_databases",
    "record_databases",
    "record_evidence",
    "record_logs",
    "record_record",
    "record_subject_lookup",
    "subject_counts",
    "summarize",
]

SHOWN = 5  # names listed in a message before "and N more"


@dataclass(frozen=True)
class DatabaseAuditResult:
    """What auditing one database found, or why it could not be audited."""

    database: Database
    audit: DatabaseAudit | None = None
    problem: str | None = None


def record_record(compliance: Compliance, databases: int = 1) -> bool:
    """Check that the record of processing is there; False when not: a failed check when
    `databases` are configured (their data cannot be audited), a warning when none is (a
    system adopting upkeep, whose logs and evidence are still checked)."""
    record = compliance.record
    if record.path is None:
        status = Status.FAIL if databases else Status.WARN
        what = "nothing to audit the data against" if databases else "no database configured"
        report.check(
            "compliance:record",
            status,
            message=f"no record of processing at {compliance.record_path}: {what} (see the "
            "runbook, section 1)",
        )
        return False
    activities = counted(len(record.activities), "processing activity", "processing activities")
    report.check(
        "compliance:record",
        Status.OK,
        value=len(record.activities),
        message=f"{record.path.name}: {activities}, "
        f"{counted(len(record.categories), 'data category', 'data categories')}, "
        f"{counted(len(record.tables), 'table')} mapped; controller {record.controller}",
    )
    return True


def audit_databases(config: Config, names: list[str] | None = None) -> list[DatabaseAuditResult]:
    """Audit the databases called `names` (every configured one when None)."""
    databases = [config.database(name) for name in names] if names else list(config.databases)
    settings = config.compliance
    results = []
    for database in databases:
        try:
            with connect(database, settings.statement_timeout_s) as connection:
                audit = audit_database(
                    connection,
                    dialect_for(database.engine),
                    database.name,
                    settings.record.tables_of(database.name),
                    settings.sample_rows,
                )
        except QueryError as exc:
            problem = f"cannot be audited: {without_values(str(exc))}"
            results.append(DatabaseAuditResult(database, problem=problem))
            continue
        results.append(DatabaseAuditResult(database, audit))
    return results


def record_databases(results: list[DatabaseAuditResult], compliance: Compliance) -> None:
    """Record each database's audit, then the categories declared with no data anywhere."""
    if not results:
        report.check("compliance:databases", Status.OK, value=0, message="no database configured")
    for result in results:
        if result.audit is None:
            report.check(
                f"compliance:{result.database.name}:connect",
                Status.FAIL,
                message=result.problem or "",
            )
            continue
        _record_audit(result.audit)
    audited = [r.audit for r in results if r.audit is not None]
    if compliance.record.path is None or len(audited) != len(results):
        return  # a category's data may be in the database that could not be read
    with_data = set().union(*(a.categories_with_data for a in audited)) if audited else set()
    unused = [c.name for c in compliance.record.categories if c.name not in with_data]
    for name in unused:
        report.finding(
            f"compliance:stale-category:{name}",
            f"category {name} is declared in the record of processing, but no column of any "
            "database holds data of it: remove it from the record (and its activities), or map "
            "the columns that hold it",
        )
    report.check(
        "compliance:categories",
        Status.WARN if unused else Status.OK,
        value=len(unused),
        message=f"{counted(len(unused), 'declared category', 'declared categories')} without data"
        + (f": {_listed(unused)}" if unused else ""),
    )


def _record_audit(audit: DatabaseAudit) -> None:
    name = audit.database
    for problem in audit.problems:
        report.finding(f"compliance:{name}:query", problem, severity=Severity.WARN)
    report.check(
        f"compliance:{name}:coverage",
        Status.OK if not audit.unclassified and not audit.problems else Status.WARN,
        value=audit.classified,
        message=audit.coverage
        + (f"; not in the record: {_listed(audit.unclassified)}" if audit.unclassified else "")
        + (
            f"; {counted(len(audit.problems), 'query', 'queries')} failed" if audit.problems else ""
        ),
    )
    report.metric("compliance_columns_classified", audit.classified, labels={"database": name})
    report.metric("compliance_columns", audit.columns, labels={"database": name})
    for column in audit.personal:
        kind = "undeclared" if column.declared is None else "not-personal"
        said = "does not declare it" if column.declared is None else "marks it not personal"
        report.finding(
            f"compliance:{kind}:{name}:{column.label}",
            f"{column.label} looks personal ({column.evidence}), but the record of processing "
            f"{said}: declare its category and retention, or remove the data",
        )
    report.check(
        f"compliance:{name}:personal-columns",
        Status.WARN if audit.personal else Status.OK,
        value=len(audit.personal),
        message=f"{counted(len(audit.personal), 'column')} looking personal but not declared so"
        + (f": {_listed([c.label for c in audit.personal])}" if audit.personal else ""),
    )
    for count in audit.retention:
        if count.rows:
            report.finding(
                f"compliance:retention:{name}:{count.table}",
                f"{counted(count.rows, 'row')} of {count.table} older than its retention of "
                f"{count.days} days ({count.column}); to delete them, after checking (runbook "
                f"section 3): {count.delete_sql}",
            )
        report.metric(
            "compliance_rows_past_retention",
            count.rows,
            labels={"database": name, "table": count.table},
        )
    past = [c for c in audit.retention if c.rows]
    report.check(
        f"compliance:{name}:retention",
        Status.WARN if past else Status.OK,
        value=audit.rows_past_retention,
        message=f"{counted(audit.rows_past_retention, 'row')} past retention in "
        f"{counted(len(past), 'table')} of {len(audit.retention)} with a retention rule"
        + (f": {_listed([f'{c.table} ({c.rows})' for c in past])}" if past else ""),
    )
    for entry in audit.stale:
        report.finding(
            f"compliance:stale:{name}:{entry.label}",
            f"{entry.label}: {entry.why}"
            + (f" (category {entry.category})" if entry.category else "")
            + "; correct the record of processing",
        )
    report.check(
        f"compliance:{name}:stale",
        Status.WARN if audit.stale else Status.OK,
        value=len(audit.stale),
        message=f"{counted(len(audit.stale), 'stale entry', 'stale entries')} in the record"
        + (f": {_listed([e.label for e in audit.stale])}" if audit.stale else ""),
    )


def record_logs(config: Config, now: datetime | None = None) -> None:
    """One finding per log with files past its retention, and the check over all logs: a
    warning too when a file's age could not be told (named, with why)."""
    now = now or datetime.now(UTC)
    with_rule = [log for log in config.logs if log.retention_days is not None]
    unchecked: list[str] = []
    past = logs_past_retention(config.logs, now, unchecked)
    for log in past:
        names = _listed([path.name for path in log.files])
        report.finding(
            f"compliance:log-retention:{log.log}",
            f"log {log.log}: {counted(len(log.files), 'file')} ({human_size(log.bytes)}) last "
            f"written more than {log.retention_days} days ago, the oldest {log.oldest_days:.0f} "
            f"days ago, still on disk: {names}; delete them (runbook section 4)",
        )
    without = [log.name for log in config.logs if log.retention_days is None]
    report.check(
        "compliance:logs:retention",
        Status.WARN if past or unchecked else Status.OK,
        value=sum(len(log.files) for log in past),
        message=f"{counted(sum(len(log.files) for log in past), 'log file')} past retention in "
        f"{counted(len(with_rule), 'log')} with retention_days"
        + (f"; could not check {_listed(unchecked, '; ')}" if unchecked else "")
        + (f"; without a retention rule: {_listed(without)}" if without else ""),
    )


def record_evidence(config: Config) -> None:
    """Scan the evidence directory: any file holding e-mail addresses, phone numbers, IBANs,
    card numbers or national ids fails; IP addresses alone warn (the security review names the
    sources of failed logins on purpose; log excerpts quote them unless the log masks them)."""
    scanned, hits = scan_evidence(config.evidence_dir)
    worst = Status.OK
    for hit in hits:
        only_addresses = {kind for kind, _ in hit.kinds} == {"ip"}
        severity = Severity.WARN if only_addresses else Severity.FAIL
        worst = max(worst, Status.WARN if only_addresses else Status.FAIL, key=_rank)
        kinds = ", ".join(
            f"{counted(count, 'line')} with {describe(kind)}" for kind, count in hit.kinds
        )
        report.finding(
            f"compliance:evidence:{hit.path}",
            f"evidence file {hit.path} holds personal data ({kinds}): find the runbook step "
            "that wrote it and mask it there (a log's mask_ip_addresses, upkeep.masking), then "
            "see the runbook, section 5",
            severity=severity,
        )
    report.check(
        "compliance:evidence",
        worst,
        value=len(hits),
        message=f"{counted(len(hits), 'file')} of {counted(scanned, 'evidence file')} scanned "
        "hold personal data" + (" (IP addresses only)" if worst == Status.WARN else ""),
    )


def _rank(status: Status) -> int:
    return (Status.OK, Status.WARN, Status.FAIL).index(status)


def subject_counts(config: Config, identifier: str) -> dict[str, int]:
    """Rows holding `identifier` per `database.table`, over every configured database."""
    counts: dict[str, int] = {}
    for database in config.databases:
        with connect(database, config.compliance.statement_timeout_s) as connection:
            for row in find_subject_rows(connection, dialect_for(database.engine), identifier):
                key = f"{database.name}.{row.table}"
                counts[key] = counts.get(key, 0) + 1
    return counts


def record_subject_lookup(config: Config) -> None:
    """Run the data-subject lookup for the synthetic subject and compare with its planted rows."""
    subject = config.compliance.test_subject
    if subject is None:
        report.check(
            "compliance:subject-lookup",
            Status.WARN,
            message="not configured: plant a synthetic data subject and name it under "
            "compliance.test_subject, so that the audit proves the lookup finds every row",
        )
        return
    try:
        found = subject_counts(config, subject.identifier)
    except QueryError as exc:
        report.check(
            "compliance:subject-lookup",
            Status.FAIL,
            message=f"the lookup failed: {without_values(str(exc))}",
        )
        return
    expected = dict(subject.rows)
    wrong = sorted(
        f"{table}: {found.get(table, 0)} found, {expected.get(table, 0)} planted"
        for table in set(found) | set(expected)
        if found.get(table, 0) != expected.get(table, 0)
    )
    report.check(
        "compliance:subject-lookup",
        Status.FAIL if wrong else Status.OK,
        value=sum(found.values()),
        message=(
            "the lookup does not find the planted rows: " + "; ".join(wrong)
            if wrong
            else f"the synthetic subject's {counted(sum(expected.values()), 'row')} in "
            f"{counted(len(expected), 'table')} all found, no other"
        ),
    )


def summarize(results: list[DatabaseAuditResult]) -> None:
    parts = []
    for result in results:
        if result.audit is None:
            parts.append(f"{result.database.name}: not audited")
            continue
        audit = result.audit
        parts.append(
            f"{audit.database}: {audit.coverage}, "
            f"{counted(len(audit.personal), 'undeclared personal column')}, "
            f"{counted(audit.rows_past_retention, 'row')} past retention"
        )
    report.summary("; ".join(parts) or "no database configured")


def _listed(names: list[str] | tuple[str, ...], separator: str = ", ") -> str:
    shown = separator.join(names[:SHOWN])
    return shown + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")
