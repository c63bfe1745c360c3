"""Responsible for the plan's checklist (the `checklist()` macro on the plan page): every task of
`docs/plan-tasks.yml` with the runbooks that implement it (matched by category and cadence) and
their live status (the last run `upkeep list` names, a dry run marked), "no runbook yet" where
there is none, and runbooks outside the plan listed too.
"""

from __future__ import annotations

from upkeep.registry import Runbook
from upkeep.site.markup import escape_html, last_status, md_link, table_cell, when
from upkeep.site.model import FREQUENCIES, PlanTask, SiteModel


def checklist(model: SiteModel, tasks: tuple[PlanTask, ...], page_src: str) -> str:
    """The plan's checklist: each task with the runbooks that implement it and their status."""
    order = {f: i for i, f in enumerate(FREQUENCIES)}
    matched: set[str] = set()
    lines = [
        "| Frequency | Task category | Description | Reference docs | Runbook | Status |",
        "|---|---|---|---|---|---|",
    ]
    for task in sorted(tasks, key=lambda t: order[t.frequency]):
        runbooks = [
            rb
            for rb in model.registry.values()
            if rb.category == task.category and rb.cadence == task.frequency
        ]
        matched.update(rb.name for rb in runbooks)
        refs = ", ".join(
            f"[{table_cell(ref.removesuffix('.md'))}]({md_link(page_src, 'reference/' + ref)})"
            for ref in task.references
        )
        category, description = table_cell(task.category), table_cell(task.description)
        lead = f"| {task.frequency} | {category} | {description} | {refs} |"
        if not runbooks:
            lines.append(f"{lead} *no runbook yet* | - |")
        for rb in runbooks:
            lines.append(f"{lead} {_runbook_link(rb, page_src)} | {_live_status(model, rb)} |")
    extra = [rb for rb in model.registry.values() if rb.name not in matched]
    for rb in sorted(extra, key=lambda r: (order.get(r.cadence, 9), r.name)):
        refs = ", ".join(
            f"[{table_cell(ref.removesuffix('.md'))}]({md_link(page_src, 'reference/' + ref)})"
            for ref in rb.references
        )
        lines.append(
            f"| {table_cell(rb.cadence)} | {table_cell(rb.category)} | {table_cell(rb.summary)} "
            f"*(not a task of the plan)* | {refs} | {_runbook_link(rb, page_src)} | "
            f"{_live_status(model, rb)} |"
        )
    return "\n".join(lines) + "\n"


def _runbook_link(runbook: Runbook, page_src: str) -> str:
    return f"[{table_cell(runbook.title)}]({md_link(page_src, f'runbooks/{runbook.name}.md')})"


def _live_status(model: SiteModel, runbook: Runbook) -> str:
    state = model.states[runbook.name]
    text = last_status(state)
    if state.last_run_at is not None:
        text += f" {escape_html(when(state.last_run_at, model))}"
    if state.due:
        text += ' <strong class="uk-bad">overdue</strong>'
    return text
