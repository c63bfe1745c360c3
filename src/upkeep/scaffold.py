"""Responsible for building new runbook notebooks in the form the registry reads: a markdown cell
saying why, a cell tagged `parameters`, then the steps, committed clean (no outputs)."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["new_runbook"]


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
