"""Responsible for which pages are due for a runbook: while its newest runs fail (or end in
error) and it is critical, the escalation policy's levels are paged in turn, each after the
previous one waited its `wait` without an acknowledgement, counted from the first page; an
acknowledgement of any run of the failing streak, or of the runbook's alert fingerprint, stops
it. A pure function of the runbook's runs, the pages already sent, the acknowledgements and the
moment, so the live evaluation and the noise replay decide alike."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from upkeep.config.escalation import PAGING, Escalation, EscalationLevel
from upkeep.records import Status

__all__ = [
    "ACKNOWLEDGE_ALERT",
    "PAGE",
    "PAGE_FAILED",
    "Ack",
    "PageDue",
    "PageSent",
    "RunSeen",
    "fingerprint",
    "pages_due",
    "streak",
]

PAGE = "page"
PAGE_FAILED = "page-failed"
ACKNOWLEDGE_ALERT = "acknowledge-alert"
FINGERPRINT_PREFIX = "alert:"


def fingerprint(runbook: str) -> str:
    """The stable name of a runbook's alert, which `upkeep ack` accepts: `alert:backup`."""
    return f"{FINGERPRINT_PREFIX}{runbook}"


@dataclass(frozen=True)
class RunSeen:
    """A run as escalation needs it (skipped runs are left out by the caller)."""

    run_id: str
    status: Status
    at: datetime


@dataclass(frozen=True)
class PageSent:
    """A page delivered earlier for the streak opened by run `opening`."""

    opening: str
    round: int
    level: int
    at: datetime


@dataclass(frozen=True)
class Ack:
    """An acknowledgement of `subject` (a run id or an alert fingerprint) at `at`."""

    subject: str
    at: datetime
    by: str = ""


@dataclass(frozen=True)
class PageDue:
    """Level `level` (0 is the first) of round `round` is to be paged for `runbook`, whose
    failing streak `opening` opened and whose newest run is `latest`."""

    runbook: str
    opening: RunSeen
    latest: RunSeen
    round: int
    level: int
    target: EscalationLevel


def streak(runs: Sequence[RunSeen]) -> list[RunSeen]:
    """The newest runs that all page (fail or error), oldest first; empty when the newest does
    not."""
    found: list[RunSeen] = []
    for run in reversed(runs):
        if run.status not in PAGING:
            break
        found.append(run)
    return found[::-1]


def pages_due(
    escalation: Escalation,
    runbook: str,
    runs: Sequence[RunSeen],
    sent: Iterable[PageSent],
    acks: Iterable[Ack],
    now: datetime,
) -> list[PageDue]:
    """The pages to send now for `runbook`: each level at most once per call (the latest round
    due), none when the streak is acknowledged, none when nothing pages."""
    failing = streak(runs)
    if not failing:
        return []
    opening, latest = failing[0], failing[-1]
    policy = escalation.policy(runbook, latest.status)
    if policy is None or acknowledged(runbook, failing, acks):
        return []
    done = [page for page in sent if page.opening == opening.run_id]
    first = min((page.at for page in done), default=now)
    steps_sent = {(page.round, page.level) for page in done}
    due: dict[int, tuple[int, int]] = {}
    for round_, level, delay in policy.offsets():
        if first + delay > now:
            break
        if (round_, level) not in steps_sent:
            due[level] = (round_, level)
        else:
            due.pop(level, None)
    return [
        PageDue(runbook, opening, latest, round_, level, policy.levels[level])
        for round_, level in sorted(due.values())
    ]


def acknowledged(runbook: str, failing: Sequence[RunSeen], acks: Iterable[Ack]) -> Ack | None:
    """The acknowledgement that stops the streak's escalation: of one of its runs, or of the
    runbook's fingerprint given once the streak had begun."""
    run_ids = {run.run_id for run in failing}
    name = fingerprint(runbook)
    for ack in acks:
        if ack.subject in run_ids or (ack.subject == name and ack.at >= failing[0].at):
            return ack
    return None
