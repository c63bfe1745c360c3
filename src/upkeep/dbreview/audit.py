"""Responsible for the referential audit of one database: every relation its catalog declares
plus the logical ones the config lists, each counted for orphans (rows whose key names no parent
row) with a few sample keys and the cleanup statement it would take, proposed and never run. A
relation that cannot be checked (a query error, the statement timeout) is kept with its reason,
so the coverage says how many of all relations were really checked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from upkeep.dbreview.interface import QueryError, QueryTimeout, Relation, ReviewConnection

__all__ = ["AuditReport", "RelationAudit", "audit_relations"]


@dataclass(frozen=True)
class RelationAudit:
    """What auditing one relation found: its orphans, or why it could not be checked."""

    relation: Relation
    orphans: int | None = None
    samples: tuple[Any, ...] = ()
    problem: str | None = None
    timed_out: bool = False

    @property
    def checked(self) -> bool:
        return self.problem is None

    @property
    def cleanup_sql(self) -> str:
        return self.relation.cleanup_sql()


@dataclass(frozen=True)
class AuditReport:
    """The audit of one database's relations, declared first, then logical."""

    database: str
    relations: tuple[RelationAudit, ...]

    @property
    def checked(self) -> int:
        return sum(audit.checked for audit in self.relations)

    @property
    def orphans(self) -> int:
        return sum(audit.orphans or 0 for audit in self.relations)

    @property
    def coverage(self) -> str:
        """`checked/all relations checked`, with how many are declared and logical."""
        declared = sum(audit.relation.declared for audit in self.relations)
        logical = len(self.relations) - declared
        return (
            f"{self.checked}/{len(self.relations)} relations checked "
            f"({declared} declared, {logical} logical)"
        )


def audit_relations(
    connection: ReviewConnection, database: str, logical: list[Relation], samples: int
) -> AuditReport:
    """Count the orphans of every declared relation of `connection`'s database and of the
    `logical` ones; QueryError when even the catalog cannot be read."""
    audits = []
    for relation in [*connection.declared_relations(), *logical]:
        try:
            found = connection.count_orphans(relation, samples)
        except QueryTimeout as exc:
            audits.append(RelationAudit(relation, problem=str(exc), timed_out=True))
        except QueryError as exc:
            audits.append(RelationAudit(relation, problem=str(exc)))
        else:
            audits.append(RelationAudit(relation, found.orphans, found.samples))
    return AuditReport(database, tuple(audits))
