"""Responsible for the weekly database review runbook's work: for every configured database (or
the ones named), the referential audit and the health scripts over one read-only connection,
never raising for a single database (`review_databases`); then the results graded and recorded
with `upkeep.report`: the audit's coverage and orphan checks and one finding per relation with
orphans, keyed `orphans:<database>:<table>.<column>`, quoting sample keys and the proposed
cleanup (`record_audits`); one check per health script and the summary (`record_health`).
Values that a script compares with the previous review (growth) are kept in the state directory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from upkeep import report, state
from upkeep.config import Config, Database
from upkeep.config.database_review import DatabaseReview, LogicalRelation
from upkeep.dbreview.audit import AuditReport, RelationAudit, audit_relations
from upkeep.dbreview.connect import connect
from upkeep.dbreview.health import HealthOutcome, run_health_scripts
from upkeep.dbreview.interface import QueryError, Relation
from upkeep.dbreview.scripts import health_scripts
from upkeep.records import Severity, Status
from upkeep.units import counted

__all__ = [
    "DatabaseReviewResult",
    "orphan_message",
    "record_audits",
    "record_health",
    "review_database",
    "review_databases",
]

STATE_FOLDER = "database-review"  # under state_dir: <database>.json, each growth script's value
SHOWN_SAMPLES = 5
NOTHING_TO_REVIEW = "no database is configured under databases:, nothing to review"


@dataclass(frozen=True)
class DatabaseReviewResult:
    """What reviewing one database found, or why it could not be reviewed."""

    database: Database
    audit: AuditReport | None = None
    health: tuple[HealthOutcome, ...] = ()
    problem: str | None = None
    measured: dict[str, float] = field(default_factory=dict)
    server_notes: tuple[str, ...] = ()  # warnings the server gave without failing a query


def review_databases(
    config: Config, names: list[str] | None = None, timeout_s: float | None = None
) -> list[DatabaseReviewResult]:
    """Review the databases called `names` (every configured one when None: none at all when
    the config lists none); ConfigError for a name that is not configured."""
    databases = [config.database(name) for name in names] if names else list(config.databases)
    settings = config.database_review
    return [
        review_database(database, settings, config.state_dir, timeout_s) for database in databases
    ]


def review_database(
    database: Database,
    settings: DatabaseReview,
    state_dir: Path,
    timeout_s: float | None = None,
) -> DatabaseReviewResult:
    """Audit one database's relations and run its health scripts, read-only."""
    timeout_s = timeout_s or settings.statement_timeout_s
    logical = [_relation(r) for r in settings.relations if r.database == database.name]
    previous = _previous(state_dir, database.name)
    # A server that cannot be reached, or a file that is not a database, shows first in the
    # catalog read: then nothing else of it can be reviewed either.
    try:
        with connect(database, timeout_s) as connection:
            audit = audit_relations(connection, database.name, logical, settings.sample_keys)
            scripts = health_scripts(database.engine, database.name, settings.scripts_dir)
            health = tuple(run_health_scripts(connection, scripts, previous))
            notes = tuple(connection.server_notes)
    except QueryError as exc:
        return DatabaseReviewResult(database, problem=f"cannot be reviewed: {exc}")
    measured = {
        o.script.name: o.measured
        for o in health
        if o.header and o.header.value == "growth" and o.measured is not None
    }
    if measured:
        state.save(state_dir, f"{STATE_FOLDER}/{database.name}.json", {**previous, **measured})
    return DatabaseReviewResult(database, audit, health, measured=measured, server_notes=notes)


def _relation(logical: LogicalRelation) -> Relation:
    return Relation(
        logical.child_schema,
        logical.child_table,
        (logical.child_column,),
        logical.parent_schema,
        logical.parent_table,
        (logical.parent_column,),
        on_delete=logical.on_delete,
        declared=False,
    )


def _previous(state_dir: Path, name: str) -> dict[str, float]:
    path = state_dir / STATE_FOLDER / f"{name}.json"
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(values, dict):
        return {}
    return {k: float(v) for k, v in values.items() if isinstance(v, int | float)}


# --- recording ----------------------------------------------------------------------------


def record_audits(results: list[DatabaseReviewResult], settings: DatabaseReview) -> None:
    """Record each database's audit: coverage and orphan checks, one finding per relation with
    orphans, the orphan metrics; a database that could not be reviewed fails its connect check.
    With no database at all, one check says there was nothing to review."""
    if not results:
        report.check("review:databases", Status.OK, value=0, message=NOTHING_TO_REVIEW)
    for result in results:
        if result.problem is not None:
            report.check(
                f"review:{result.database.name}:connect", Status.FAIL, message=result.problem
            )
        if result.audit is not None:
            _record_audit(result.audit, settings)
        if result.server_notes:
            report.check(
                f"review:{result.database.name}:server",
                Status.WARN,
                message="the server warned: " + "; ".join(result.server_notes),
            )


def record_health(results: list[DatabaseReviewResult]) -> None:
    """Record one check per health script of each database, and the run's one-line summary."""
    for result in results:
        for outcome in result.health:
            _record_health(result.database.name, outcome)
    report.summary("; ".join(_summary(result) for result in results) or NOTHING_TO_REVIEW)


def _record_audit(audit: AuditReport, settings: DatabaseReview) -> None:
    name = audit.database
    unchecked = [a for a in audit.relations if not a.checked]
    report.check(
        f"referential:{name}:coverage",
        Status.FAIL if unchecked else Status.OK,
        value=audit.checked,
        message=audit.coverage
        + "".join(f"; {a.relation.label} not checked: {a.problem}" for a in unchecked),
    )
    with_orphans = [a for a in audit.relations if a.orphans]
    report.check(
        f"referential:{name}:orphans",
        settings.grade_orphans(audit.orphans),
        value=audit.orphans,
        limit=settings.orphans_warn,
        message=f"{counted(audit.orphans, 'orphaned row')} in "
        f"{counted(len(with_orphans), 'relation')}"
        + "".join(f"; {a.relation.label}: {a.orphans}" for a in with_orphans),
    )
    report.metric("db_orphan_rows", audit.orphans, labels={"database": name})
    report.metric("db_relations_checked", audit.checked, labels={"database": name})
    for relation_audit in with_orphans:
        report.finding(
            f"orphans:{name}:{relation_audit.relation.label}",
            orphan_message(relation_audit),
            severity=Severity.WARN,
        )


def orphan_message(audit: RelationAudit) -> str:
    """`12 rows of orders.customer_id name no customers.id (...)`, sample keys, cleanup SQL."""
    relation = audit.relation
    kind = "declared" if relation.declared else "logical"
    if relation.not_valid:
        kind += ", NOT VALID: PostgreSQL never checked the rows already there"
    samples = ", ".join(json.dumps(key, default=str) for key in audit.samples[:SHOWN_SAMPLES])
    return (
        f"{counted(audit.orphans, 'row')} of {relation.label} name no {relation.parent_label} "
        f"({kind} relation, ON DELETE {relation.on_delete.upper()}); sample keys: {samples}; "
        f"proposed cleanup (not run): {audit.cleanup_sql}"
    )


def _record_health(database: str, outcome: HealthOutcome) -> None:
    check = f"db-health:{database}:{outcome.script.name}"
    report.check(
        check,
        outcome.status,
        value=outcome.value,
        limit=outcome.limit,
        unit=outcome.unit,
        message=outcome.message,
    )
    if outcome.status is not Status.OK:
        report.finding(check, outcome.message, severity=outcome.status.value)


def _summary(result: DatabaseReviewResult) -> str:
    name = result.database.name
    if result.audit is None:
        return f"{name}: {result.problem}"
    audit = result.audit
    counts: dict[str, int] = {}
    for outcome in result.health:
        counts[outcome.status.value] = counts.get(outcome.status.value, 0) + 1
    graded = ", ".join(f"{n} {word}" for word, n in sorted(counts.items()))
    return (
        f"{name}: {audit.checked}/{len(audit.relations)} relations checked, "
        f"{audit.orphans} orphaned rows; {len(result.health)} health checks ({graded or 'none'})"
    )
