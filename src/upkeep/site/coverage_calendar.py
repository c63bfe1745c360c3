"""Responsible for the coverage calendar (`coverage.md`): per runbook, every scheduled run since it
first appeared, one cell each, grouped by month (a runbook run daily or more often) or by year
(weekly, monthly, quarterly, yearly), coloured by how it was accounted for — ran on time, ran
late, skipped, missed, its first run, or still within its start grace — each ran cell linking its
run; runs going on and overrunning said above the grid. A waiver accepts a check, never a missed
run: a run that ran with a waived check is marked so in its cell.

The grids (a cell per scheduled run: a megabyte of HTML for five years of a daily runbook, and no
text to search) are put into the built page (`put_grids`, from the plugin's `on_post_page`), so
that neither Markdown nor the search index goes through them; the page's Markdown holds a marker
where each goes.
"""

from __future__ import annotations

from datetime import timedelta
from itertools import groupby
from pathlib import Path

from upkeep import atomic
from upkeep.coverage import WAIVERS_NOTE, Health, Outcome, RunbookCoverage, Slot
from upkeep.site.markup import escape_html, html_root_for, run_href, when
from upkeep.site.model import RunView, SiteModel

PAGE = "coverage.md"
TITLE = "Coverage calendar"
_GRID_MARKER = "<!-- upkeep: coverage grid {index} -->"
_DESCRIBED = {
    Outcome.ON_TIME: "ran on time",
    Outcome.LATE: "ran late (after its start grace)",
    Outcome.SKIPPED: "skipped (could not start; recorded)",
    Outcome.MISSED: "missed (no run)",
    Outcome.DUE: "due, within its start grace",
    Outcome.FIRST_RUN: "its first run (neither on time nor late: the runbook appeared then)",
}


def coverage_page(model: SiteModel) -> str:
    """The page's Markdown: a legend, then one section per runbook."""
    legend = " ".join(
        f'<span class="uk-cov uk-cov-{outcome.value}"></span> {escape_html(text)}'
        for outcome, text in _DESCRIBED.items()
    )
    parts = [
        f"# {TITLE}\n",
        f"Every scheduled run of every runbook since it first ran, in the configured time zone "
        f"(**{escape_html(model.config.timezone)}**), as of "
        f"{escape_html(when(model.built_at, model))}. The period before a runbook's first run "
        "is not counted. `upkeep status` says the same on the command line.\n",
        f'<p class="uk-cov-legend">{legend}</p>\n',
        f"Waived: {WAIVERS_NOTE}.\n",
    ]
    for index, item in enumerate(model.coverage.values()):
        parts.append(runbook_section(item, _GRID_MARKER.format(index=index), model))
    if not model.coverage:
        parts.append("No runbooks yet.\n")
    return "\n".join(parts)


def put_grids(html: str, model: SiteModel) -> str:
    """The built coverage page with each runbook's calendar grid where its marker is."""
    return insert_grids(html, grids(model))


def grids(model: SiteModel) -> dict[str, str]:
    """Each runbook's calendar grid, by the marker it takes the place of in the built page."""
    root = html_root_for("coverage/")
    runs = {run.run_id: run for run in model.runs}
    return {
        _GRID_MARKER.format(index=index): calendar_grid(item, runs, root, model)
        for index, item in enumerate(model.coverage.values())
        if item.slots
    }


def insert_grids(html: str, grids: dict[str, str]) -> str:
    """`html` with each grid where its marker is (`grids`)."""
    for marker, grid in grids.items():
        html = html.replace(marker, grid, 1)
    return html


def insert_grids_into_file(page: Path, grids: dict[str, bytes]) -> None:
    """The built page `page` (as MkDocs wrote it) with each grid where its marker is, written
    again piece by piece: years of grids are megabytes of HTML, and a string of the whole page
    with them, copied once per grid and encoded, was the peak of a site build's memory."""
    data = page.read_bytes()
    found = sorted(
        (at, marker.encode(), grid)
        for marker, grid in grids.items()
        if (at := data.find(marker.encode())) >= 0
    )
    if not found:
        return
    view = memoryview(data)
    pieces: list[bytes | memoryview] = []
    start = 0
    for at, marker, grid in found:
        pieces += [view[start:at], grid]
        start = at + len(marker)
    pieces.append(view[start:])
    atomic.write_chunks(page, pieces, mode=atomic.file_mode())


def runbook_section(item: RunbookCoverage, grid_marker: str, model: SiteModel) -> str:
    """One runbook: its status and counts, runs going on, then where its calendar grid goes."""
    name = escape_html(item.runbook.name)
    counts = ", ".join(
        f"{item.count(outcome)} {outcome.word}"
        for outcome in (Outcome.ON_TIME, Outcome.LATE, Outcome.SKIPPED, Outcome.MISSED)
    ) + (", first run" if item.count(Outcome.FIRST_RUN) else "")
    head = [
        f"## {escape_html(item.runbook.title)} {{#{name}}}\n",
        f"<code>{name}</code>, {escape_html(item.runbook.cadence)}: "
        f"{health_mark(item.health)}; {counts}; start grace {_minutes(item.grace.start)}, "
        f"run grace {_minutes(item.grace.run)}.\n",
    ]
    for overrun in item.going_on:
        state = "OVERRUNNING" if overrun.overrunning else "running"
        head.append(
            f'<p class="{"uk-bad" if overrun.overrunning else ""}">{state}: '
            f"<code>{escape_html(overrun.run.run_id)}</code> started "
            f"{escape_html(when(overrun.run.started_at, model))}, time limit "
            f"{_minutes(overrun.limit)}.</p>\n"
        )
    if not item.slots:
        head.append('<p class="uk-empty">Never run: nothing is counted yet.</p>\n')
        return "\n".join(head)
    return "\n".join(head) + grid_marker + "\n"


def calendar_grid(
    item: RunbookCoverage, runs: dict[str, RunView], root: str, model: SiteModel
) -> str:
    """A table: one row per month (or year), one cell per scheduled run, newest row first."""
    by_month = _runs_more_than_weekly(item)
    label = "%Y-%m" if by_month else "%Y"
    rows = []
    groups = groupby(item.slots, key=lambda slot: slot.scheduled.strftime(label))
    for period, slots in reversed([(period, list(slots)) for period, slots in groups]):
        cells = "".join(_cell(slot, runs, root, model) for slot in slots)
        rows.append(f"<tr><th>{period}</th><td>{cells}</td></tr>")
    return '<table class="uk-table uk-coverage"><tbody>' + "".join(rows) + "</tbody></table>"


def _runs_more_than_weekly(item: RunbookCoverage) -> bool:
    slots = item.slots
    if len(slots) < 2:
        return item.runbook.cadence == "daily"
    gaps = (later.scheduled - slot.scheduled for slot, later in zip(slots, slots[1:], strict=False))
    return min(gaps) < timedelta(days=7)


def _cell(slot: Slot, runs: dict[str, RunView], root: str, model: SiteModel) -> str:
    title = f"{when(slot.scheduled, model)}: {_DESCRIBED[slot.outcome]}"
    if slot.started_at is not None:
        title += f", started {when(slot.started_at, model)}"
    css = f"uk-cov uk-cov-{slot.outcome.value}"
    run = runs.get(slot.run_id or "")
    if run is None:
        return f'<span class="{css}" title="{escape_html(title)}"></span>'
    waived = ""
    if run.record is not None and any(check.waived for check in run.record.checks):
        title += ", with a waived check"
        waived = " data-waived"
    href = run_href(run, root)
    return f'<a class="{css}"{waived} href="{href}" title="{escape_html(title)}"></a>'


def health_mark(health: Health) -> str:
    """A runbook's schedule status as the dashboard and this page show it."""
    word = escape_html(health.word)
    if health.alarming:
        return f'<strong class="uk-bad">{word.upper()}</strong>'
    return word


def _minutes(length: timedelta) -> str:
    minutes = length / timedelta(minutes=1)
    return f"{minutes:g} min"
