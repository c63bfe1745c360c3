"""The hand-written docs agree with the runbooks: the plan's tasks, their references, macros."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from upkeep.registry import discover

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
PLAN_CATEGORIES = {
    "daily": {"Health Checks", "Cleaning", "Backups"},
    "weekly": {"Updates", "Database Review", "Backup Verification"},
    "monthly": {"Security Review", "System Updates", "Maintenance Review"},
    "quarterly": {"Quarterly Review"},
    "yearly": {"Disaster Drill", "Compliance Audit", "Documentation"},
}


def _tasks() -> list[dict]:
    return yaml.safe_load((DOCS / "plan-tasks.yml").read_text(encoding="utf-8"))["tasks"]


def test_every_shipped_runbook_is_valid() -> None:
    registry = discover(REPO / "runbooks")
    assert not registry.invalid, registry.invalid
    assert len(registry) >= 3


def test_plan_tasks_are_the_plans_thirteen_tasks() -> None:
    pairs = [(task["frequency"], task["category"]) for task in _tasks()]
    assert len(pairs) == len(set(pairs)) == 13
    found: dict[str, set[str]] = {}
    for frequency, category in pairs:
        found.setdefault(frequency, set()).add(category)
    assert found == PLAN_CATEGORIES


def test_every_reference_names_an_existing_reference_page() -> None:
    names = {name for task in _tasks() for name in task.get("references", [])}
    for runbook in discover(REPO / "runbooks").values():
        names.update(runbook.references)
    missing = sorted(name for name in names if not (DOCS / "reference" / name).is_file())
    assert not missing, f"references to pages that do not exist under docs/reference/: {missing}"


def test_every_runbook_implements_a_task_of_the_plan() -> None:
    tasks = {(task["frequency"], task["category"]) for task in _tasks()}
    for runbook in discover(REPO / "runbooks").values():
        assert (runbook.cadence, runbook.category) in tasks, runbook.name


def test_only_the_plan_asks_for_macros_and_it_calls_only_the_support_policy_and_checklist():
    plan = (DOCS / "plan.md").read_text(encoding="utf-8")
    assert plan.startswith("---\n") and "render_macros: true" in plan.split("---")[1]
    assert re.findall(r"{[{%].*?[}%]}", plan) == ["{{ checklist() }}", "{{ support_policy() }}"]


def test_the_code_map_names_every_module_and_only_modules_that_exist() -> None:
    source = REPO / "src" / "upkeep"
    text = (DOCS / "reference" / "architecture.md").read_text(encoding="utf-8")
    rows = "\n".join(line for line in text.splitlines() if line.startswith("| `"))
    named = {name for span in re.findall(r"`([^`]+)`", rows) for name in span.split(", ")}
    named = {name for name in named if name.endswith(".py")}
    modules = {path.relative_to(source).as_posix() for path in source.rglob("*.py")}
    assert sorted(modules - named) == [], "modules the code map does not name"
    assert sorted(named - modules) == [], "the code map names modules that do not exist"
