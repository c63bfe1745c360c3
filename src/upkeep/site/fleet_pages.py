"""Responsible for the fleet pages of a site built with `--fleet`: the fleet dashboard
(`fleet/index.md`, a host × runbook matrix of each runbook's newest run, hosts worst first, each
with its verification), one page per host (`fleet/<host>.md`, its runs newest first, each with its
verification and a link to its report), the "Fleet" section of the navigation, and the run
reports hard-linked (or copied) into the site under each host's folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from upkeep.evidence.layout import is_regular
from upkeep.site.coverage_calendar import health_mark
from upkeep.site.fleet import FleetCell, FleetModel, HostView
from upkeep.site.markup import badge, check_badge, dry_run_mark, escape_html, frontmatter, when
from upkeep.site.model import RunView, SiteModel
from upkeep.site.run_page_store import Placed, place_file
from upkeep.site.run_pages import REPORT

FLEET_FOLDER = "fleet"
FLEET_INDEX = f"{FLEET_FOLDER}/index.md"
NAV_TITLE = "Fleet"
MAX_PROBLEMS = 20


def host_page(host_id: str) -> str:
    return f"{FLEET_FOLDER}/{host_id}.md"


def fleet_nav(fleet: FleetModel) -> dict[str, list[Any]]:
    """The "Fleet" section: the dashboard, then each host's page (in the dashboard's order)."""
    return {NAV_TITLE: [FLEET_INDEX] + [{host.id: host_page(host.id)} for host in fleet.hosts]}


def fleet_pages(model: SiteModel, fleet: FleetModel) -> list[tuple[str, str]]:
    """The dashboard and every host's page, as (docs path, Markdown)."""
    pages = [(FLEET_INDEX, fleet_dashboard(model, fleet))]
    pages += [(host_page(host.id), host_runs_page(model, host)) for host in fleet.hosts]
    return pages


def fleet_dashboard(model: SiteModel, fleet: FleetModel) -> str:
    lines = [frontmatter("Fleet"), "# Fleet\n"]
    bad = [host.id for host in fleet.hosts if not host.verified]
    if bad:
        lines.append(
            f'<div class="uk-alert" role="alert"><strong>The evidence of {len(bad)} host(s) '
            f"does NOT verify or cannot be read:</strong> {escape_html(', '.join(bad))}</div>\n"
        )
    else:
        lines.append(
            f'<p class="uk-note">Every host\'s evidence verifies (checked '
            f"{escape_html(when(model.built_at, model))}).</p>\n"
        )
    lines.append(
        f"{len(fleet.hosts)} hosts of <code>{escape_html(fleet.path)}</code>, the ones needing "
        "attention first; each cell is the runbook's newest run on that host.\n"
    )
    head = "".join(f"<th><code>{escape_html(name)}</code></th>" for name in fleet.runbooks)
    rows = []
    for host in fleet.hosts:
        cells = "".join(
            f"<td>{_cell(host, host.cell(name), model)}</td>" for name in fleet.runbooks
        )
        rows.append(
            f'<tr><td><a href="{escape_html(host.id)}/">{escape_html(host.id)}</a></td>'
            f"<td>{_verification(host)}</td>{cells}</tr>"
        )
    lines.append(
        '<table class="uk-table uk-fleet"><thead><tr><th>Host</th><th>Evidence</th>'
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>\n"
    )
    return "\n".join(lines)


def _cell(host: HostView, cell: FleetCell, model: SiteModel) -> str:
    if not cell.applies:
        return '<span title="not in this host\'s runbooks (fleet file)">does not apply</span>'
    if host.problem is not None:
        return '<span class="uk-status uk-never">UNKNOWN</span>'  # its evidence cannot be read
    missed = (
        f"<br>{health_mark(cell.health)}"
        if cell.health is not None and cell.health.alarming
        else ""
    )
    run = cell.newest
    if run is None:
        return f"{badge(None)}{missed}"
    started = escape_html(when(run.started_at, model))
    link = f'<a href="{escape_html(host.id)}/#{escape_html(run.run_id)}">{started}</a>'
    return f"{run_marks(run)}<br>{link}{missed}"


def run_marks(run: RunView) -> str:
    """Its status badge, WAIVED when a check of it was waived, a dry run marked, and DOES NOT
    VERIFY when its evidence does not match the ledger."""
    marks = [str(badge(run.status))]
    waived = [check for check in (run.record.checks if run.record else ()) if check.waived]
    if waived:
        marks.append(str(check_badge(waived[0])))
    if run.record is not None and run.record.dry_run:
        marks.append(str(dry_run_mark()))
    if not run.verified:
        marks.append('<strong class="uk-bad">DOES NOT VERIFY</strong>')
    return " ".join(marks)


def _verification(host: HostView) -> str:
    if host.problem is not None:
        return f'<strong class="uk-bad">cannot be read</strong>: {escape_html(host.problem)}'
    problems = len(host.problems)
    if problems:
        return f'<strong class="uk-bad">{problems} problem(s)</strong>'
    if not host.runs:
        return "no runs yet"
    return f'<span class="uk-good">verifies</span> ({len(host.runs)} runs)'


def host_runs_page(model: SiteModel, host: HostView) -> str:
    """One host: where its evidence was read, its verification and anchor, its runs."""
    lines = [frontmatter(f"Host {host.id}"), f"# Host {host.id}\n"]
    lines.append(
        f"[← Fleet](index.md) · evidence read from <code>{escape_html(host.source)}</code>\n"
    )
    lines.append(f"<p>Evidence: {_verification(host)}. {_anchor(host, model)}</p>\n")
    if host.problems:
        items = "".join(f"<li>{escape_html(p)}</li>" for p in host.problems[:MAX_PROBLEMS])
        more = len(host.problems) - MAX_PROBLEMS
        lines.append(
            f'<div class="uk-alert" role="alert"><strong>Does NOT verify:</strong><ul>{items}'
            f"{f'<li>and {more} more</li>' if more > 0 else ''}</ul></div>\n"
        )
    if host.problem is not None:
        return "\n".join(lines)
    if not host.runs:
        return "\n".join(lines + ["No runs yet.\n"])
    rows = "".join(_run_row(host, run, model) for run in host.runs)
    lines.append(
        '<table class="uk-table"><thead><tr><th>Runbook</th><th>Started</th><th>Status</th>'
        f"<th>Evidence</th><th>Report</th></tr></thead><tbody>{rows}</tbody></table>\n"
    )
    return "\n".join(lines)


def _run_row(host: HostView, run: RunView, model: SiteModel) -> str:
    evidence = (
        '<span class="uk-good">verifies</span>'
        if run.verified
        else f'<strong class="uk-bad">DOES NOT VERIFY</strong>: {escape_html(run.problems[0])}'
    )
    report = (
        f'<a href="{escape_html(run.relpath)}/{REPORT}">{escape_html(run.run_id)}</a>'
        if has_report_file(host, run)
        else f"{escape_html(run.run_id)} (no report)"
    )
    return (
        f'<tr id="{escape_html(run.run_id)}"><td><code>{escape_html(run.runbook)}</code></td>'
        f"<td>{escape_html(when(run.started_at, model))}</td><td>{run_marks(run)}</td>"
        f"<td>{evidence}</td><td>{report}</td></tr>"
    )


def _anchor(host: HostView, model: SiteModel) -> str:
    anchor = host.anchor
    if anchor is None:
        return "Not anchored in git."
    signed = f"signed tag <code>{escape_html(anchor.tag)}</code>" if anchor.signed else "unsigned"
    return (
        f'<span class="uk-anchor">Anchored in git: commit <code>{anchor.commit[:12]}</code> of '
        f"{escape_html(when(anchor.committed_at, model))}, ledger seq {anchor.seq}, {signed}."
        "</span>"
    )


def has_report_file(host: HostView, run: RunView) -> bool:
    return host.evidence_dir is not None and is_regular(host.evidence_dir / run.relpath / REPORT)


def write_fleet_reports(fleet: FleetModel, site_dir: Path) -> Placed:
    """Every run's report under `fleet/<host>/<run folder>/` of the site, hard-linked when it
    can be, else copied byte for byte."""
    placed = Placed()
    for host in fleet.hosts:
        for run in host.runs:
            if not has_report_file(host, run):
                continue
            assert host.evidence_dir is not None
            target = site_dir / FLEET_FOLDER / host.id / run.relpath
            target.mkdir(parents=True, exist_ok=True)
            place_file(host.evidence_dir / run.relpath / REPORT, target / REPORT, placed)
    return placed
