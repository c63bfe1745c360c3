"""Responsible for the dashboard (the `dashboard()` macro on the home page): whether the evidence
verifies, the runbooks that cannot run (each with its problem), every runbook with its last
status, last run (the one `upkeep list` names, a dry run marked), next due, whether its scheduled
runs happened (`upkeep status`) and recent runs — missed or overrunning, then failing and
overdue first — then every check of a runbook's latest run that did not pass, and
the findings still open (`upkeep.findings`: until a run no longer reports them, clears them, or
a person acknowledges them).
"""

from __future__ import annotations

from upkeep.coverage import Outcome
from upkeep.plan import RunbookState
from upkeep.records import Status
from upkeep.site.coverage_calendar import health_mark
from upkeep.site.maintenance_pages import overdue_items
from upkeep.site.markup import (
    badge,
    check_badge,
    dry_run_mark,
    escape_html,
    html_root_for,
    is_dry_run,
    last_status,
    next_due,
    recent_runs_strip,
    run_href,
    when,
)
from upkeep.site.model import RunView, SiteModel
from upkeep.units import quantity

STRIP_RUNS = 14
MAX_LISTED = 20


def attention_order(state: RunbookState) -> tuple[int, int, str]:
    """Sort key: failing or erroring first, then overdue or never run, then warn, skipped, ok."""
    status, name = state.worst_status, state.runbook.name
    if status is not None and status.rank >= Status.FAIL.rank:
        return 0, -status.rank, name
    if status is None or state.due:
        return 1, 0, name
    return 2, -status.rank, name


def dashboard(model: SiteModel, page_url: str = "") -> str:
    """The home page body: verification banner, every runbook, then open findings."""
    root = html_root_for(page_url)
    parts = [verification_banner(model, root)]
    if model.registry.invalid:
        parts.append(invalid_runbooks(model))
    rows = []
    for state in sorted(model.states.values(), key=lambda s: _attention(model, s)):
        name = state.runbook.name
        runs = model.by_runbook.get(name, ())
        rows.append(
            f'<tr><td><a href="{root}runbooks/{escape_html(name)}/">'
            f"{escape_html(state.runbook.title)}</a><br><code>{escape_html(name)}</code></td>"
            f"<td>{escape_html(state.runbook.cadence)}</td><td>{last_status(state)}</td>"
            f"<td>{last_run_cell(state, runs, root, model)}</td>"
            f"<td>{next_due(state, model)}</td>"
            f"<td>{schedule_cell(model, name, root)}</td>"
            f"<td>{recent_runs_strip(runs[:STRIP_RUNS], root, model)}</td></tr>"
        )
    parts.append(
        '<table class="uk-table uk-dashboard"><thead><tr><th>Runbook</th><th>Cadence</th>'
        "<th>Last status</th><th>Last run</th><th>Next due</th><th>Schedule</th>"
        "<th>Recent runs</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
        if rows
        else "<p>No runbooks yet.</p>"
    )
    parts.append("\n## Checks that did not pass\n")
    parts.append(failing_checks(model, root))
    parts.append("\n## Open findings\n")
    parts.append(open_findings(model, root))
    overdue = overdue_items(model)
    if overdue:
        parts.append("\n## Overdue backlog items\n")
        parts.append(
            "<ul>"
            + "".join(
                f'<li><a href="{root}backlog/#{item.id}">{item.id}</a> '
                f"{escape_html(item.runbook)} <code>{escape_html(item.key)}</code>, due "
                f"{item.due}, owner {escape_html(item.owner or '-')}</li>"
                for item in overdue
            )
            + "</ul>"
        )
    return "\n\n".join(parts) + "\n"


def _attention(model: SiteModel, state: RunbookState) -> tuple[bool, tuple[int, int, str]]:
    """Missed or overrunning first, then `attention_order`."""
    item = model.coverage.get(state.runbook.name)
    return not (item is not None and item.health.alarming), attention_order(state)


def schedule_cell(model: SiteModel, name: str, root: str) -> str:
    """Whether its scheduled runs happened (on time, late, MISSED, OVERRUNNING, first run,
    never run),
    linking its coverage calendar."""
    item = model.coverage.get(name)
    if item is None:
        return "-"
    missed = item.count(Outcome.MISSED)
    said = health_mark(item.health) + (f" ({missed} missed in all)" if missed else "")
    return f'<a href="{root}coverage/#{escape_html(name)}">{said}</a>'


def invalid_runbooks(model: SiteModel) -> str:
    """The runbooks that cannot run, each with its problem: `run --due` runs every other one,
    and this is where a person sees why these did not."""
    # Each message names the runbook and its notebook, then what is wrong and what was expected.
    items = "".join(
        f"<li>{escape_html(item.message)}</li>" for item in model.registry.invalid.values()
    )
    count = len(model.registry.invalid)
    return (
        f'<div class="uk-alert" role="alert"><strong>{count} runbook'
        f"{'s' if count != 1 else ''} cannot run</strong> (every other runbook runs; "
        f"<code>upkeep check</code> lists every problem):<ul>{items}</ul></div>"
    )


def last_run_cell(
    state: RunbookState, runs: tuple[RunView, ...], root: str, model: SiteModel
) -> str:
    """When the runbook's last run started, linking its page: the run `upkeep list` names."""
    if state.last_run_id is None:
        return "never"
    started = escape_html(when(state.last_run_at, model))
    run = next((run for run in runs if run.run_id == state.last_run_id), None)
    return started if run is None else f'<a href="{run_href(run, root)}">{started}</a>'


def verification_banner(model: SiteModel, root: str) -> str:
    bad = model.unverified
    if not bad and not model.stray_problems:
        return (
            f'<p class="uk-note">Evidence verifies: all {len(model.runs)} runs match the '
            f"ledger (checked {escape_html(when(model.built_at, model))}). "
            f"{anchor_note(model)}</p>"
        )
    links = ", ".join(
        f'<a href="{run_href(run, root)}">{escape_html(run.run_id)}</a>' for run in bad[:MAX_LISTED]
    )
    more = f" and {len(bad) - MAX_LISTED} more" if len(bad) > MAX_LISTED else ""
    strays = model.stray_problems
    listed = "".join(f"<li>{escape_html(p)}</li>" for p in strays[:MAX_LISTED])
    said = [f"{len(bad)} run(s) do not match the ledger: {links}{more}."] if bad else []
    if strays:  # a damaged ledger line, a folder added by hand: named, not counted as runs
        extra = f" (the first {MAX_LISTED} below)" if len(strays) > MAX_LISTED else ""
        said.append(f"{len(strays)} problem(s) of the ledger or folders{extra}:")
    return (
        f'<div class="uk-alert" role="alert"><strong>Evidence does NOT verify:</strong> '
        f"{' '.join(said)} {anchor_note(model)}{'<ul>' + listed + '</ul>' if listed else ''}</div>"
    )


def anchor_note(model: SiteModel) -> str:
    """The newest anchor of the evidence in git: its commit, when, signed or not
    (`upkeep verify --anchor` checks the evidence against it)."""
    anchor = model.anchor
    if anchor is None:
        return "Not anchored in git yet (<code>upkeep evidence commit</code>)."
    signed = (
        f"signed tag <code>{escape_html(anchor.tag or '')}</code>" if anchor.signed else "unsigned"
    )
    return (
        f'<span class="uk-anchor">Anchored in git: commit <code>{anchor.commit[:12]}</code> of '
        f"{escape_html(when(anchor.committed_at, model))}, ledger seq {anchor.seq}, "
        f"{signed}.</span>"
    )


def failing_checks(model: SiteModel, root: str) -> str:
    """Every check of each runbook's last run that is not ok: a service that is down is here,
    not only in its run's report. The last run is the one that ran (a skipped run that came after
    it does not hide its failures)."""
    rows = []
    for state in sorted(model.states.values(), key=attention_order):
        runs = model.by_runbook.get(state.runbook.name, ())
        # After a dry run, the last real run's too: the dry run's passing does not undo them.
        for run_id in (state.last_run_id, state.real_run_id):
            latest = next((run for run in runs if run.run_id == run_id), None)
            if latest is None:
                continue
            if not latest.verified:  # what its run.json says may not be what the run found
                rows.append(
                    '<tr><td><strong class="uk-bad">DOES NOT VERIFY</strong></td>'
                    f"<td>{escape_html(state.runbook.name)}</td><td>-</td><td>-</td>"
                    "<td>this run's evidence does not match the ledger: its checks may have been "
                    "altered after the run</td>"
                    f'<td><a href="{run_href(latest, root)}">{escape_html(latest.run_id)}</a></td>'
                    "</tr>"
                )
            if latest.record is None:
                continue
            checks = [check for check in latest.record.checks if check.status is not Status.OK]
            for check in sorted(checks, key=lambda check: -check.status.rank):
                value = quantity(check.value, check.unit)
                waiver = f" ({check.waiver.note})" if check.waiver else ""
                dry = f" {dry_run_mark()}" if is_dry_run(latest) else ""
                rows.append(
                    f"<tr><td>{check_badge(check)}</td><td>{escape_html(state.runbook.name)}</td>"
                    f"<td><code>{escape_html(check.name)}</code></td><td>{escape_html(value)}</td>"
                    f"<td>{escape_html(check.message[:300] + waiver)}</td>"
                    f'<td><a href="{run_href(latest, root)}">{escape_html(latest.run_id)}</a>'
                    f"{dry}</td></tr>"
                )
    if not rows:
        return "<p>Every check of every runbook's latest run passed.</p>"
    return (
        '<table class="uk-table"><thead><tr><th>Status</th><th>Runbook</th><th>Check</th>'
        "<th>Value</th><th>Message</th><th>Run</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def open_findings(model: SiteModel, root: str) -> str:
    """The findings still open, the most severe first, with when they were first and last seen."""
    runs = {run.run_id: run for run in model.runs}
    rows = []
    for finding in model.findings:
        if not finding.open:
            continue
        last = runs.get(finding.last_run_id)
        link = (
            f'<a href="{run_href(last, root)}">{escape_html(last.run_id)}</a>'
            if last is not None
            else escape_html(finding.last_run_id)
        )
        rows.append(
            f"<tr><td>{badge(finding.severity)}</td><td>{escape_html(finding.runbook)}</td>"
            f"<td><code>{escape_html(finding.key)}</code></td>"
            f"<td>{escape_html(finding.message[:300])}</td>"
            f"<td>{escape_html(when(finding.first_seen, model))}</td>"
            f"<td>{finding.times_seen}</td><td>{link}</td></tr>"
        )
    if not rows:
        return "<p>No open findings.</p>"
    return (
        '<table class="uk-table"><thead><tr><th>Severity</th><th>Runbook</th><th>Key</th>'
        "<th>Finding</th><th>Open since</th><th>Runs</th><th>Last seen in</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>\n\n"
        "<p>A finding stays open until a later run no longer reports it (a log error stays "
        "until cleared), a run clears it, or someone acknowledges it: "
        "<code>upkeep ack KEY --reason ...</code>; every acknowledgement is on the "
        f'<a href="{root}decisions/">decisions</a> page.</p>'
    )
