"""Responsible for `report.html`, the rendered evidence of one run: one self-contained document
with no script at all, the verdict first, then the record's sections and the notebook in the
auditor's view. The caller scrubs secrets first (`upkeep.run.seal`): this module renders what it
is given, and every document passes `sanitize.without_script` last.
"""

from __future__ import annotations

from datetime import UTC, tzinfo
from typing import Any

from markupsafe import Markup
from nbformat import NotebookNode

from upkeep.records import RunRecord
from upkeep.rendering import notebook as notebook_body
from upkeep.rendering.run_record import render, stylesheet
from upkeep.rendering.sanitize import without_script

__all__ = ["CONTENT_SECURITY_POLICY", "render_report", "warm_up"]

CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def render_report(nb: NotebookNode | None, record: RunRecord, tz: tzinfo = UTC) -> str:
    """The report of a run: `nb` is the executed notebook, secrets already scrubbed, or None
    when the run has no notebook (a skipped run): then only the record is shown."""
    failed = record.error.cell if record.error is not None else None
    cell_label, cell_href = _failed_cell(nb, failed)
    document = render(
        "report.html.j2",
        tz,
        record=record,
        title=record.runbook.title or record.runbook.name,
        csp=CONTENT_SECURITY_POLICY,
        styles=Markup(stylesheet("report.css") + "\n" + notebook_body.pygments_css()),
        notebook=None if nb is None else Markup(notebook_body.notebook_html(nb, failed)),
        cell_label=cell_label,
        cell_href=cell_href,
    )
    return without_script(document)


def _failed_cell(nb: Any, index: int | None) -> tuple[str | None, str | None]:
    """How the error box names the failing cell, and the link to it in the notebook."""
    if index is None:
        return None, None
    cells = nb.get("cells", []) if nb is not None else []
    if not 0 <= index < len(cells):
        return f"cell {index}", None
    count = cells[index].get("execution_count")
    label = f"cell {index}" + (f" (In [{count}])" if count is not None else "")
    return label, f"#cell-id=cell-{index}"


def warm_up(tz: tzinfo = UTC) -> None:
    """Import and compile everything a render in `tz` needs, off the critical path."""
    notebook_body.warm_up()
    render("report.html.j2", tz, **_warm_up_context())


def _warm_up_context() -> dict[str, Any]:
    from datetime import datetime

    from upkeep.records import RunbookRef, Status

    now = datetime.now(UTC)
    record = RunRecord("warm-up", RunbookRef("warm-up"), Status.OK, now, now, now)
    return {
        "record": record,
        "title": "",
        "csp": CONTENT_SECURITY_POLICY,
        "styles": "",
        "notebook": None,
        "cell_label": None,
        "cell_href": None,
    }
