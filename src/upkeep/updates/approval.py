"""Responsible for approving a change plan and finding the one to apply: `approve` records a
person's approval of one run's plan in the evidence ledger (subject the run id, details the
plan's sha256), refused when the run is unknown, holds no plan, or its plan's bytes differ from
what the run published; `approved_plan` is the newest approved plan no later run has applied,
read back and checked against the sha256 that was approved."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from upkeep.errors import UpkeepError
from upkeep.evidence import EvidenceStore
from upkeep.evidence.ledger import DecisionEntry, LedgerEntry
from upkeep.records import Decision
from upkeep.updates.change_plan import PLAN_FILE, ChangePlan, plan_sha256

__all__ = [
    "APPLIED_METRIC",
    "APPROVE_PLAN",
    "RUNBOOK",
    "ApprovedPlan",
    "PlanError",
    "approve",
    "approved_plan",
    "read_plan",
]

APPROVE_PLAN = "approve-plan"
RUNBOOK = "system-updates"
# Recorded by the run that applied a plan, labelled with the plan's run id: applied once only.
APPLIED_METRIC = "system_updates_plan_applied"


class PlanError(UpkeepError):
    """A plan that cannot be approved or applied: unknown run, no plan, changed bytes."""


@dataclass(frozen=True)
class ApprovedPlan:
    """A plan, the approval that covers it, and its sha256 as approved."""

    plan: ChangePlan
    approval: Decision
    sha256: str


def read_plan(store: EvidenceStore, run_id: str) -> tuple[bytes, str]:
    """The plan bytes of run `run_id` and the sha256 the run published for them; PlanError
    naming what is wrong."""
    entry = _run_entry(store, run_id)
    record = store.load(entry)
    published = (record.artifacts or {}).get(PLAN_FILE)
    if published is None:
        raise PlanError(
            f"run {run_id} holds no change plan ({PLAN_FILE}): it applied a plan, or ended "
            "before planning; approve the run that wrote the plan"
        )
    try:
        data = (store.root / entry.path / PLAN_FILE).read_bytes()
    except OSError as exc:
        raise PlanError(f"run {run_id}: cannot read its {PLAN_FILE}: {exc.strerror}") from None
    if plan_sha256(data) != published:
        raise PlanError(
            f"run {run_id}: {PLAN_FILE} changed after the run published it (sha256 "
            f"{plan_sha256(data)[:12]}…, published {published[:12]}…): refused; "
            "run `upkeep verify`, and plan again"
        )
    return data, published


def approve(
    store: EvidenceStore, run_id: str, *, author: str, reason: str, at: datetime | None = None
) -> DecisionEntry:
    """Record `author`'s approval of the plan of run `run_id`; PlanError (nothing recorded)
    when it cannot be approved."""
    data, sha = read_plan(store, run_id)
    plan = ChangePlan.from_bytes(data)
    if plan.empty:
        raise PlanError(f"run {run_id}: its change plan changes nothing; nothing to approve")
    for entry in store.decisions():
        if entry.decision.type == APPROVE_PLAN and entry.decision.subject == run_id:
            raise PlanError(
                f"run {run_id}: its plan was already approved by {entry.decision.author} "
                f"at {entry.decision.at:%Y-%m-%d %H:%M %Z}"
            )
    decision = Decision(
        APPROVE_PLAN,
        run_id,
        author,
        at or datetime.now(UTC),
        reason,
        details={"plan_sha256": sha, "os": len(plan.os), "python": len(plan.python)},
    )
    return store.record_decision(decision)


def approved_plan(store: EvidenceStore) -> ApprovedPlan | None:
    """The newest approved plan that no run has applied yet (its bytes checked against the
    approval); None when there is none. PlanError when its bytes no longer match."""
    approvals = [e.decision for e in store.decisions() if e.decision.type == APPROVE_PLAN]
    if not approvals:
        return None
    applied = _applied_plans(store)
    pending = [a for a in approvals if a.subject not in applied]
    if not pending:
        return None
    approval = pending[-1]
    data, sha = read_plan(store, approval.subject)
    if sha != approval.details.get("plan_sha256"):
        raise PlanError(
            f"run {approval.subject}: its plan's sha256 {sha[:12]}… is not the one "
            f"{approval.author} approved: refused"
        )
    return ApprovedPlan(ChangePlan.from_bytes(data), approval, sha)


def _applied_plans(store: EvidenceStore) -> set[str]:
    applied = set()
    for entry in store.entries():
        if entry.runbook != RUNBOOK:
            continue
        for metric in store.load(entry).metrics:
            if metric.name == APPLIED_METRIC and "plan" in metric.labels:
                applied.add(metric.labels["plan"])
    return applied


def _run_entry(store: EvidenceStore, run_id: str) -> LedgerEntry:
    for entry in store.entries():
        if entry.run_id == run_id:
            if entry.runbook != RUNBOOK:
                raise PlanError(
                    f"run {run_id} is a run of {entry.runbook}, not of {RUNBOOK}: only a "
                    "system-updates run has a change plan to approve"
                )
            return entry
    raise PlanError(f"no run {run_id} in the evidence; `upkeep list` and the site name the runs")
