"""A runbook read as a document: the triage table it opens with (check, what it means, first
action, escalate to), the check names each row covers, the roles it escalates to; and the
on-call roles the maintenance plan defines, with their contacts."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TRIAGE_HEADER = ("check", "what it means", "first action", "escalate to")
_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*([^*]+)\*\*")
_PLACEHOLDER = re.compile(r"<[^<>]+>")


@dataclass(frozen=True)
class TriageRow:
    check: str
    means: str
    action: str
    escalate: str

    @property
    def check_patterns(self) -> list[re.Pattern[str]]:
        """Each check name in the row's first cell, a `<placeholder>` matching any text."""
        patterns = []
        for name in _CODE.findall(self.check):
            parts = _PLACEHOLDER.split(name)
            patterns.append(re.compile(".+".join(re.escape(part) for part in parts)))
        return patterns

    @property
    def roles(self) -> list[str]:
        return _BOLD.findall(self.escalate)


def load_notebook(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def markdown_cells(nb: dict[str, Any]) -> list[str]:
    return [cell["source"] for cell in nb["cells"] if cell["cell_type"] == "markdown"]


def table_rows(text: str, header: tuple[str, ...]) -> list[tuple[str, ...]]:
    """The rows of the first Markdown table in `text` whose header is `header`."""
    rows: list[tuple[str, ...]] = []
    inside = False
    for line in text.splitlines():
        if not line.startswith("|"):
            if inside:
                break
            continue
        cells = tuple(cell.strip() for cell in line.strip().strip("|").split("|"))
        if cells == header:
            inside = True
        elif inside and not set("".join(cells)) <= set("-: "):
            rows.append(cells)
    return rows


def triage_rows(nb: dict[str, Any]) -> list[TriageRow]:
    """The triage table of the notebook's first cell."""
    return [TriageRow(*row) for row in table_rows(nb["cells"][0]["source"], TRIAGE_HEADER)]


def covers(rows: list[TriageRow], check_name: str) -> bool:
    return any(p.fullmatch(check_name) for row in rows for p in row.check_patterns)


def on_call_roles(plan: str) -> dict[str, str]:
    """Role -> contact, from the table under the plan's `### On-call roles`."""
    section = plan.split("### On-call roles", 1)[1].split("\n#", 1)[0]
    rows = table_rows(section, ("role", "who holds it", "call them for", "contact"))
    return {_BOLD.sub(r"\1", row[0]): row[3] for row in rows}
