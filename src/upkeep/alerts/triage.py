"""Responsible for a runbook's triage table as the alerts read it: for a failing check, the
first action and whom to escalate to, from the table's row whose `check` cell names it
(`backup:<database>:restore` names `backup:app:restore`; a row may name several checks)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TriageRow", "first_action", "triage_rows"]

_CODE = re.compile(r"`([^`]+)`")
_PLACEHOLDER = re.compile(r"<[^<>]+>")


@dataclass(frozen=True)
class TriageRow:
    patterns: tuple[re.Pattern[str], ...]
    first_action: str
    escalate_to: str


def triage_rows(notebook: Path) -> list[TriageRow]:
    """The rows of the first Markdown table whose header has `check` and `first action`
    columns; none when the notebook has no such table or cannot be read."""
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError):
        return []
    for cell in cells:
        if cell.get("cell_type") != "markdown":
            continue
        source = cell.get("source", "")
        rows = _table(source if isinstance(source, str) else "".join(source))
        if rows:
            return rows
    return []


def first_action(rows: list[TriageRow], check: str) -> TriageRow | None:
    """The first row that names `check`."""
    for row in rows:
        if any(pattern.fullmatch(check) for pattern in row.patterns):
            return row
    return None


def _table(markdown: str) -> list[TriageRow]:
    lines = [line.strip() for line in markdown.splitlines() if line.strip().startswith("|")]
    for index, line in enumerate(lines):
        header = [cell.strip().lower() for cell in _cells(line)]
        if "check" not in header or "first action" not in header:
            continue
        check_at, action_at = header.index("check"), header.index("first action")
        escalate_at = header.index("escalate to") if "escalate to" in header else None
        rows = []
        for row_line in lines[index + 2 :]:
            cells = _cells(row_line)
            if len(cells) != len(header):
                break
            patterns = tuple(_pattern(code) for code in _CODE.findall(cells[check_at]))
            rows.append(
                TriageRow(
                    patterns,
                    _plain(cells[action_at]),
                    _plain(cells[escalate_at]) if escalate_at is not None else "",
                )
            )
        return rows
    return []


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _pattern(code: str) -> re.Pattern[str]:
    parts = _PLACEHOLDER.split(code)
    return re.compile("[^:]+".join(re.escape(part) for part in parts))


def _plain(markdown: str) -> str:
    return markdown.replace("**", "").replace("`", "").strip()
