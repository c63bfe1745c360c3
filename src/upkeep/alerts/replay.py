"""Responsible for the noise replay: feed the recorded runs and acknowledgements of a span
through the escalation rules (`pages_due`, as the live evaluation does) at every run and every
tick of the cron line that drives escalation, holding back what a silence or an open maintenance
window held back then (as the live evaluation does), and report the pages per on-call shift,
which of them were for problems that later needed action, the problems held back (with why), and
every fail-level problem of a critical runbook that no page announced, nobody acknowledged and
nobody silenced (missed). Nothing is sent and nothing is recorded.

A page *needed action* when its failing streak did not clear by itself: a later run of the
runbook failed too, or a person wrote a maintenance-log entry on one of the streak's runs."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from upkeep.alerts.escalate import Ack, PageSent, RunSeen, pages_due
from upkeep.alerts.page import acks_in, runs_by_runbook
from upkeep.alerts.suppression import suppressed
from upkeep.config import Config
from upkeep.config.escalation import PAGING
from upkeep.evidence import DecisionEntry, EvidenceStore
from upkeep.oncall.rotation import Shift, answer, shifts

__all__ = ["LOG_ENTRY", "Replay", "ReplayedPage", "replay"]

LOG_ENTRY = "log-entry"  # a person's maintenance-log entry on a run (`upkeep log`)


NOBODY = "NOBODY"  # who a page reaches in a gap of the rota


@dataclass(frozen=True)
class ReplayedPage:
    runbook: str
    opening: str
    level: int  # 1 is the first
    round: int  # 1 is the first
    who: str
    at: datetime
    needed_action: bool
    still_failing: bool = False  # no run ended its streak yet: it did not clear by itself


@dataclass(frozen=True)
class ShiftPages:
    shift: Shift
    pages: int


@dataclass
class Replay:
    start: datetime
    end: datetime
    every: timedelta
    pages: list[ReplayedPage] = field(default_factory=list)
    shifts: list[ShiftPages] = field(default_factory=list)
    missed: list[RunSeen] = field(default_factory=list)  # opening runs of unannounced streaks
    # Streaks whose page a silence or a window held back: (runbook, opening run id) -> why.
    held: dict[tuple[str, str], str] = field(default_factory=dict)

    @property
    def needed_action(self) -> int:
        return sum(page.needed_action for page in self.pages)

    @property
    def most_in_a_shift(self) -> int:
        return max((item.pages for item in self.shifts), default=0)


def replay(
    config: Config, store: EvidenceStore, start: datetime, end: datetime, every: timedelta
) -> Replay:
    """What the escalation rules would have paged from `start` until `end`, evaluated after
    each run and every `every`."""
    runs = {
        runbook: sorted(seen, key=lambda run: run.at)
        for runbook, seen in runs_by_runbook(store.entries()).items()
        if runbook in config.escalation.critical
    }
    entries = {entry.run_id: entry for entry in store.entries()}
    decisions = store.decisions()
    acks = sorted(acks_in(decisions), key=lambda ack: ack.at)
    logged = _logged_runs(decisions)
    result = Replay(start, end, every)
    sent: dict[str, list[PageSent]] = {runbook: [] for runbook in runs}
    ack_times = [ack.at for ack in acks]
    run_times = {runbook: [run.at for run in seen] for runbook, seen in runs.items()}
    for moment in _moments(runs, start, end, every):
        known_acks = acks[: bisect.bisect_right(ack_times, moment)]
        for runbook, seen in runs.items():
            visible = seen[: bisect.bisect_right(run_times[runbook], moment)]
            due_now = pages_due(
                config.escalation, runbook, visible, sent[runbook], known_acks, moment
            )
            why = due_now and suppressed(config, store, entries[due_now[0].latest.run_id], moment)
            if why:
                result.held.setdefault((runbook, due_now[0].opening.run_id), why)
                continue
            for due in due_now:
                sent[runbook].append(PageSent(due.opening.run_id, due.round, due.level, moment))
                result.pages.append(
                    ReplayedPage(
                        runbook,
                        due.opening.run_id,
                        due.level + 1,
                        due.round + 1,
                        _who(config, due.target.schedule, due.target.page, moment),
                        moment,
                        _needed_action(seen, due.opening, logged),
                        _streak_of(seen, due.opening)[-1] is seen[-1],
                    )
                )
    held = {opening for _, opening in result.held}
    result.missed = [run for run in _missed(runs, sent, acks, start, end) if run.run_id not in held]
    result.shifts = _per_shift(config, result.pages, start, end)
    return result


def _moments(
    runs: dict[str, list[RunSeen]], start: datetime, end: datetime, every: timedelta
) -> list[datetime]:
    ticks = set()
    tick = start
    while tick < end:
        ticks.add(tick)
        tick += every
    ticks |= {run.at for seen in runs.values() for run in seen if start <= run.at < end}
    return sorted(ticks)


def _who(config: Config, schedule: str | None, page: str, at: datetime) -> str:
    if schedule is None:
        return page
    return answer(config.oncall.schedule(schedule), at).who or NOBODY


def _logged_runs(decisions: list[DecisionEntry]) -> set[str]:
    return {d.decision.subject for d in decisions if d.decision.type == LOG_ENTRY}


def _streak_of(seen: list[RunSeen], opening: RunSeen) -> list[RunSeen]:
    """The failing streak `opening` opens: it and the failing runs right after it."""
    failing = []
    for run in seen[seen.index(opening) :]:
        if run.status not in PAGING:
            break
        failing.append(run)
    return failing


def _needed_action(seen: list[RunSeen], opening: RunSeen, logged: set[str]) -> bool:
    failing = _streak_of(seen, opening)
    return len(failing) > 1 or any(run.run_id in logged for run in failing)


def _missed(
    runs: dict[str, list[RunSeen]],
    sent: dict[str, list[PageSent]],
    acks: list[Ack],
    start: datetime,
    end: datetime,
) -> list[RunSeen]:
    """The opening runs of fail-level streaks in the span that no page announced and nobody
    acknowledged first."""
    missed = []
    for runbook, seen in runs.items():
        paged = {page.opening for page in sent[runbook]}
        for index, run in enumerate(seen):
            opens = run.status in PAGING and (index == 0 or seen[index - 1].status not in PAGING)
            if not opens or not start <= run.at < end or run.run_id in paged:
                continue
            failing = _streak_of(seen, run)
            if not any(ack.subject in {r.run_id for r in failing} for ack in acks):
                missed.append(run)
    return missed


def _per_shift(
    config: Config, pages: list[ReplayedPage], start: datetime, end: datetime
) -> list[ShiftPages]:
    """Pages to the person on call, per shift of the schedule the first level pages."""
    schedules = {
        level.schedule
        for _, policy in config.escalation.policies
        for level in policy.levels
        if level.schedule is not None
    }
    found = []
    for name in sorted(schedules):
        for shift in shifts(config.oncall.schedule(name), start, end):
            count = sum(
                1
                for page in pages
                # A gap in the rota is a shift too: its pages went to nobody, and count.
                if shift.start <= page.at < shift.end and page.who == (shift.answer.who or NOBODY)
            )
            found.append(ShiftPages(shift, count))
    return found
