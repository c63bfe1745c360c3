"""Responsible for building new runbook notebooks in the form the registry reads: a markdown cell
saying why, a cell tagged `parameters`, then the steps, committed clean (no outputs);
`scaffold_runbook` is the starting point `upkeep new` writes."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["FOLDER_CADENCES", "new_runbook", "scaffold_runbook"]


def _cell(kind: str, source: str, tags: tuple[str, ...] = ()) -> dict[str, Any]:
    cell: dict[str, Any] = {
        "cell_type": kind,
        "metadata": {"tags": list(tags)} if tags else {},
        "source": textwrap.dedent(source).strip(),
    }
    if kind == "code":
        cell.update(outputs=[], execution_count=None)
    return cell


def new_runbook(
    steps: Iterable[tuple[str, str]],
    *,
    metadata: Mapping[str, Any],
    params: str = "",
    why: str = "Why this runbook exists.",
) -> dict[str, Any]:
    """An nbformat 4.5 notebook: `steps` are ("markdown" | "code", source) pairs, `params` the
    source of the parameters cell (`name: type = default  # help` lines), `metadata` the
    notebook's `upkeep` metadata (title, summary, cadence, category, owner, ...)."""
    cells = [_cell("markdown", why)]
    if params:
        cells.append(_cell("code", params, tags=("parameters",)))
    cells += [_cell(kind, source) for kind, source in steps]
    for index, cell in enumerate(cells):
        cell["id"] = f"cell-{index}"
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "cells": cells,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
            "upkeep": dict(metadata),
        },
    }


FOLDER_CADENCES = (
    "daily",
    "weekly",
    "monthly",
    "quarterly",
    "yearly",
)  # a folder each; cron ones go in cron/


def scaffold_runbook(name: str, cadence: str, *, title: str, owner: str, category: str) -> dict:
    """A new runbook `name` that passes `upkeep check` and runs: why, a parameter, its settings
    read from `extra: NAME:` in upkeep.yml, one step with its by-hand commands and one check to
    replace, and what to do afterwards."""
    why = f"""\
        # {title}

        **Why this procedure exists.** Say what goes wrong when nobody does this, and which task
        of the maintenance plan it carries out.

        **What it touches.** Say what it reads and what it may change. Its settings are the
        section `{name}:` under `extra:` in upkeep.yml, which only this runbook reads.

        **How to run it.** `upkeep run {name}`; by hand, follow the steps below."""
    setup = f"""\
        from upkeep import report
        from upkeep.config import load_config
        from upkeep.records import Status

        config = load_config()  # $UPKEEP_CONFIG (set by the runner), else ./upkeep.yml
        settings = config.extra.get("{name}", {{}})  # extra: {name}: in upkeep.yml
        # Names only: a value may be a password, and what a run prints is evidence.
        names = ", ".join(settings) or "none"
        print(f"system described by {{config.path}}; settings: {{names}}")"""
    step = f"""\
        ## 1. The first step

        **What is checked.** Say what this step looks at and what counts as good.

        **By hand** (on the site, a key of upkeep.yml in double braces, such as
        `{{{{ config_file }}}}` or `{{{{ logs.NAME.path }}}}`, shows this system's value):

        ```sh
        upkeep --config {{{{ config_file }}}} show {name}
        ```

        **When it warns.** Look at it today: say what to do first.
        **When it fails.** Act now: say what to do, and whom to escalate to."""
    check = f"""\
        report.check(
            "{name}:example",
            Status.OK,
            message=f"replace this check with what the runbook verifies (top {{top}})",
        )"""
    after = """\
        ## Afterwards

        The run's report is kept as evidence. Write anything you did by hand in the maintenance
        log with the run id."""
    return new_runbook(
        [("code", setup), ("markdown", step), ("code", check), ("markdown", after)],
        metadata={
            "title": title,
            "summary": f"{title}: say in one line what it checks or does.",
            "cadence": cadence,
            "category": category,
            "owner": owner,
            "review_every": "365d",  # the documentation review lists its page when past due
            "references": [],
            "timeout_s": 600,
            "destructive": False,
        },
        params="top: int = 10  # how many entries to show",
        why=why,
    )
