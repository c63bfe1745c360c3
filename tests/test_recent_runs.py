"""The ledger lines `upkeep list` reads through its cache: whatever the history, the runbooks'
states from them are the states the whole ledger gives (the oracle here), and the cache keeps
a few runs per runbook, not years of them."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers.history import History
from helpers.project import CHECK_OK, Project

from upkeep import plan
from upkeep.config import load_config
from upkeep.errors import EvidenceError
from upkeep.evidence import EvidenceStore
from upkeep.recent_runs import CACHE_FILE, recent_entries
from upkeep.records import Status
from upkeep.registry import discover

START = datetime(2026, 1, 1, 3, tzinfo=UTC)
CADENCES = {"alpha": "daily", "beta": "weekly", "gamma": "monthly", "delta": "yearly"}


@pytest.fixture
def history(project: Project) -> History:
    for name, cadence in CADENCES.items():
        project.add_runbook(name, [CHECK_OK], cadence=cadence)
    return History(project.evidence)


def _states_both_ways(project: Project, at: datetime) -> tuple[list, list]:
    """(states from the whole ledger, states from the cached recent runs) at `at`."""
    config = load_config(project.config)
    runbooks = discover(config.runbooks_dir, config.root)
    store = EvidenceStore(config.evidence_dir)
    cadences = {name: runbook.cadence for name, runbook in runbooks.items()}
    recent = recent_entries(store.ledger_path, config.state_dir, cadences, at)
    return (
        plan.states(runbooks, store.entries(), config, at),
        plan.states(runbooks, recent, config, at),
    )


def _cache(project: Project) -> dict:
    return json.loads((project.root / "state" / CACHE_FILE).read_text())


def test_a_year_of_runs_lists_as_the_whole_ledger_and_keeps_few(
    project: Project, history: History
) -> None:
    for day in range(365):
        at = START + timedelta(days=day)
        history.record("alpha", at, status=Status.ERROR if day % 9 == 0 else Status.OK)
        if at.weekday() == 0:
            history.record("beta", at + timedelta(hours=1))
        if at.day == 1:
            history.record("gamma", at, dry_run=at.month % 2 == 0)
    history.record("delta", START)
    at = START + timedelta(days=364, hours=5)
    full, recent = _states_both_ways(project, at)
    assert recent == full
    assert [s.runbook.name for s in full if s.last_dry_run] == ["gamma"]
    kept = _cache(project)["runs"]
    assert len(kept["alpha"]) <= 2 and len(kept["beta"]) <= 2 and len(kept["gamma"]) <= 2


def test_random_histories_list_as_the_whole_ledger(project: Project, history: History) -> None:
    """Runs appended in any order (a run published long after it started), of every status,
    dry or not, some right at the start of a period, read at moments that go forward, and now
    and then back (`list --at`)."""
    chooser = random.Random(18)
    now = START
    for _ in range(80):
        for _ in range(chooser.randint(0, 4)):
            name = chooser.choice(sorted(CADENCES))
            midnight = now.replace(hour=0, minute=0, second=0)  # where a period starts
            started = chooser.choice(
                [midnight, midnight - timedelta(seconds=1), midnight + timedelta(seconds=1)]
                + [now - timedelta(hours=h) for h in (0, 1, 30, 24 * 40, 24 * 400)]
            )
            history.record(
                name,
                started,
                status=chooser.choice(list(Status)),
                dry_run=chooser.random() < 0.1,
            )
        step = chooser.choice([timedelta(hours=7), timedelta(days=3), timedelta(days=-20)])
        now += step
        full, recent = _states_both_ways(project, now)
        assert recent == full, now


def test_a_changed_cadence_a_new_runbook_and_a_moment_long_ago(
    project: Project, history: History
) -> None:
    for day in range(40):
        history.record("beta", START + timedelta(days=day))
    at = START + timedelta(days=40)
    assert _states_both_ways(project, at)[1] == _states_both_ways(project, at)[0]
    (project.root / "runbooks" / "weekly" / "beta.ipynb").unlink()
    project.add_runbook("beta", [CHECK_OK], cadence="daily")
    project.add_runbook("epsilon", [CHECK_OK], cadence="weekly")
    history.record("epsilon", START + timedelta(days=39))
    full, recent = _states_both_ways(project, at)
    assert recent == full
    before = _cache(project)
    long_ago = START + timedelta(days=3)
    full, recent = _states_both_ways(project, long_ago)
    assert recent == full
    assert _cache(project) == before  # a look back does not undo the cache


def test_another_ledger_in_its_place_is_read_whole(project: Project, history: History) -> None:
    for day in range(10):
        history.record("alpha", START + timedelta(days=day))
    at = START + timedelta(days=10)
    assert _states_both_ways(project, at)[1] == _states_both_ways(project, at)[0]
    ledger = project.evidence / "ledger.jsonl"
    other = project.root / "other"
    other_history = History(other)
    for day in range(12):
        other_history.record("alpha", START + timedelta(days=day, hours=2), status=Status.FAIL)
    ledger.write_bytes((other / "ledger.jsonl").read_bytes())  # longer, and not the same
    full, recent = _states_both_ways(project, at + timedelta(days=2))
    assert recent == full and full[0].last_status is Status.FAIL


def test_a_torn_last_line_is_passed_over_and_a_damaged_one_refused(
    project: Project, history: History
) -> None:
    history.record("alpha", START)
    at = START + timedelta(hours=1)
    _states_both_ways(project, at)
    ledger = project.evidence / "ledger.jsonl"
    with ledger.open("ab") as handle:
        handle.write(b'{"seq": 2, "run_id": "cut sho')
    full, recent = _states_both_ways(project, at)
    assert recent == full
    with ledger.open("ab") as handle:
        handle.write(b"rt\n")
    with pytest.raises(EvidenceError, match="is damaged"):
        _states_both_ways(project, at)
    config = load_config(project.config)
    with pytest.raises(EvidenceError, match="is damaged"):
        recent_entries(config.evidence_dir / "ledger.jsonl", config.state_dir, CADENCES, at)


@pytest.mark.parametrize("cache", [b"not json", b'{"version": 1, "size": "x"}', None])
def test_a_cache_that_cannot_be_read_or_written_changes_nothing(
    project: Project, history: History, cache: bytes | None
) -> None:
    for day in range(5):
        history.record("alpha", START + timedelta(days=day), status=Status.WARN)
    state = project.root / "state"
    state.mkdir(exist_ok=True)
    if cache is None:  # a folder where the cache file should be: it can be neither read nor written
        (state / CACHE_FILE).mkdir()
    else:
        (state / CACHE_FILE).write_bytes(cache)
    full, recent = _states_both_ways(project, START + timedelta(days=5))
    assert recent == full and full[0].last_status is Status.WARN
    assert (state / CACHE_FILE).is_dir() is (cache is None)


def test_upkeep_list_reads_through_the_cache(project: Project, history: History) -> None:
    for day in range(3):
        history.record("alpha", START + timedelta(days=day))
    listed = project.upkeep("list", "--json", "--at", "2026-01-03T12:00Z")
    assert listed.code == 0, listed.text
    alpha = next(item for item in json.loads(listed.out) if item["name"] == "alpha")
    assert alpha["last_status"] == "ok" and alpha["due"] is False
    assert _cache(project)["size"] == (project.evidence / "ledger.jsonl").stat().st_size


def test_no_ledger_yet(project: Project, history: History) -> None:
    full, recent = _states_both_ways(project, START)
    assert recent == full and all(s.last_status is None for s in full)
    assert not Path(project.evidence / "ledger.jsonl").exists()


def test_a_run_right_at_the_start_of_the_period_counts(project: Project, history: History) -> None:
    history.record("alpha", START)
    period = START.replace(hour=0) + timedelta(days=1)
    full, recent = _states_both_ways(project, period + timedelta(hours=5))
    assert recent == full and full[0].due  # the cache now keeps runs from `period` on
    history.record("alpha", period)
    history.record("alpha", period + timedelta(hours=2), status=Status.ERROR)  # the last run
    full, recent = _states_both_ways(project, period + timedelta(hours=6))
    assert recent == full and not full[0].due  # the run at the period's start counts
