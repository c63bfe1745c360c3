"""Responsible for the improvement backlog, folded from the evidence in the order things
happened: a finding's fingerprint (runbook and key) reported by `recurring_runs` runs within
`window_days` opens one backlog item whose id is fixed by the fingerprint; every later report
updates that item in place (occurrences, last seen, the runs); people change its owner, state and
due date by `backlog-change` decisions; an item marked done that is reported again is reopened and
flagged. The review's own runs are left out. The quarterly review's proposed changes to the plan
(findings keyed `plan:...`) open their item at their first report, assigned to the plan's owner.
Nothing is stored besides the evidence: the same ledger always gives the same backlog."""

from __future__ import annotations

import contextlib
import hashlib
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import StrEnum

from upkeep.config.maintenance_review import MaintenanceReview
from upkeep.findings import RunEvent
from upkeep.records import Decision
from upkeep.review.maintenance_log import REVIEW_RUNBOOK

BACKLOG_CHANGE = "backlog-change"  # the decision type that changes an item
ITEM_PREFIX = "BL-"
QUARTERLY_RUNBOOK = "quarterly-review"
PLAN_PROPOSAL = "plan:"  # the key prefix of the quarterly review's proposals


class ItemState(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    WONT_FIX = "wont_fix"

    @property
    def word(self) -> str:
        return {"in_progress": "in progress", "wont_fix": "won't fix"}.get(self.value, self.value)

    @property
    def active(self) -> bool:
        """Whether someone still has to act on it (it can be overdue)."""
        return self in (ItemState.OPEN, ItemState.IN_PROGRESS)


@dataclass(frozen=True)
class Occurrence:
    run_id: str
    at: datetime


@dataclass(frozen=True)
class BacklogItem:
    """One recurring problem and what people decided about it."""

    id: str
    runbook: str
    key: str  # the finding's fingerprint within its runbook
    message: str  # as the last run that reported it said
    opened_at: datetime
    due: date
    state: ItemState = ItemState.OPEN
    owner: str = ""
    occurrences: tuple[Occurrence, ...] = ()
    reopened: int = 0  # times it recurred after being marked done
    done_at: datetime | None = None
    history: tuple[Decision, ...] = field(default=())

    @property
    def first_seen(self) -> datetime:
        return self.occurrences[0].at

    @property
    def last_seen(self) -> datetime:
        return self.occurrences[-1].at

    @property
    def flagged(self) -> bool:
        """It came back after someone said it was done."""
        return self.reopened > 0

    def overdue(self, today: date) -> bool:
        return self.state.active and self.due < today


def item_id(runbook: str, key: str) -> str:
    """The fixed id of the backlog item for one fingerprint: `BL-` and 8 hex digits."""
    digest = hashlib.sha256(f"{runbook}\0{key}".encode()).hexdigest()
    return ITEM_PREFIX + digest[:8]


def fold_backlog(
    events: Iterable[RunEvent | Decision], settings: MaintenanceReview, plan_owner: str = ""
) -> dict[str, BacklogItem]:
    """Every backlog item after `events` (ledger order), by id; a proposal for the plan is
    assigned to `plan_owner`."""
    window = timedelta(days=settings.window_days)
    recent: dict[str, deque[Occurrence]] = {}  # fingerprints without an item yet
    items: dict[str, BacklogItem] = {}
    for event in events:
        if isinstance(event, Decision):
            if event.type == BACKLOG_CHANGE and event.subject in items:
                items[event.subject] = apply_change(items[event.subject], event)
            continue
        if event.runbook == REVIEW_RUNBOOK:
            continue  # the review's own findings would count the review itself
        for finding in event.record.findings:
            ident = item_id(event.runbook, finding.key)
            seen = Occurrence(event.run_id, event.at)
            if ident in items:
                items[ident] = _recur(items[ident], seen, finding.message)
                continue
            queue = recent.setdefault(ident, deque())
            queue.append(seen)
            while queue and queue[0].at < event.at - window:
                queue.popleft()
            # A proposal already stands on a quarter of evidence: it needs no second report.
            proposal = is_proposal(event.runbook, finding.key)
            if proposal or len(queue) >= settings.recurring_runs:
                items[ident] = BacklogItem(
                    id=ident,
                    runbook=event.runbook,
                    key=finding.key,
                    message=finding.message,
                    opened_at=event.at,
                    due=(event.at + timedelta(days=settings.backlog_due_days)).date(),
                    owner=plan_owner if proposal else "",
                    occurrences=tuple(queue),
                )
                del recent[ident]
    return items


def is_proposal(runbook: str, key: str) -> bool:
    """Whether a finding is the quarterly review's proposed change to the plan."""
    return runbook == QUARTERLY_RUNBOOK and key.startswith(PLAN_PROPOSAL)


def _recur(item: BacklogItem, seen: Occurrence, message: str) -> BacklogItem:
    item = replace(item, occurrences=(*item.occurrences, seen), message=message)
    if item.state is ItemState.DONE and item.done_at is not None and seen.at > item.done_at:
        item = replace(item, state=ItemState.OPEN, reopened=item.reopened + 1, done_at=None)
    return item


def apply_change(item: BacklogItem, decision: Decision) -> BacklogItem:
    """`item` after a `backlog-change` decision: its details may set `state`, `owner`, `due`.
    A value `upkeep backlog set` would have refused (a ledger written by hand) is passed over."""
    details = decision.details
    changed = replace(item, history=(*item.history, decision))
    if isinstance(details.get("owner"), str):
        changed = replace(changed, owner=details["owner"])
    with contextlib.suppress(KeyError, ValueError):
        changed = replace(changed, due=date.fromisoformat(str(details["due"])))
    try:
        state = ItemState(details["state"])
    except (KeyError, ValueError):
        return changed
    return replace(changed, state=state, done_at=decision.at if state is ItemState.DONE else None)


def ordered(items: Iterable[BacklogItem], today: date) -> list[BacklogItem]:
    """Items as a person reads them: active first, overdue first, then by due date and id."""
    return sorted(items, key=lambda i: (not i.state.active, not i.overdue(today), i.due, i.id))
