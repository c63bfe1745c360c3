"""Responsible for the decisions page, `decisions.md`: every decision people put on record in the
evidence ledger (who acknowledged which finding, when and why), newest first.
"""

from __future__ import annotations

from upkeep.site.markup import escape_html, frontmatter, table_cell, when
from upkeep.site.model import SiteModel

PAGE = "decisions.md"


def decisions_page(model: SiteModel) -> str:
    lines = [
        frontmatter("Decisions"),
        "# Decisions\n",
        "What people decided, on record in the evidence ledger and chained with the runs, so "
        "`upkeep verify` covers it: who, when, about what, and why.\n",
    ]
    if not model.decisions:
        return "\n".join([*lines, "No decision has been recorded yet.\n"])
    lines += ["| When | Who | Decision | About | Why |", "|---|---|---|---|---|"]
    for entry in reversed(model.decisions):
        decision = entry.decision
        lines.append(
            f"| {escape_html(when(decision.at, model))} | {table_cell(decision.author)} | "
            f"{table_cell(decision.type)} | <code>{table_cell(decision.subject)}</code> | "
            f"{table_cell(decision.reason)} |"
        )
    return "\n".join(lines) + "\n"
