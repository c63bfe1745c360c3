"""The order of one `upkeep run`'s runs: `after` holds a run back until the runs it names have
ended, and some run can always start (the pool would wait for ever otherwise)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from upkeep.run.runner import _in_order, _waits


def _plan(*runbooks: tuple[str, tuple[str, ...]]) -> list[Any]:
    """Planned runs as the ordering reads them: each runbook's name and `after`."""
    return [SimpleNamespace(runbook=SimpleNamespace(name=n, after=a)) for n, a in runbooks]


def test_a_run_is_put_after_the_runs_its_after_names_and_the_rest_keep_plan_order() -> None:
    plan = _plan(("verifies", ("backs-up", "gone")), ("other", ()), ("backs-up", ()))
    assert _in_order(plan) == [1, 2, 0]
    assert _waits(plan) == [{2}, set(), set()]  # a runbook not in the plan is not waited for


def test_a_cycle_the_registry_would_refuse_still_leaves_a_run_that_can_start() -> None:
    plan = _plan(("one", ("two",)), ("two", ("one",)), ("three", ("one",)))
    assert _in_order(plan) == [0, 1, 2]  # as planned
    assert _waits(plan) == [set(), {0}, {0}]
