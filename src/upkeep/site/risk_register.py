"""Responsible for the risk register page, `risk-register.md`: every accepted vulnerability of
`risk-register.yml` with its package, reason, owner, approver, expiry and whether it still
holds on the day the site was built; the checks waived for a while (`checks:`), each with the runs
whose warn or fail it accepted; then the permission drifts accepted for a while (`drift:`)."""

from __future__ import annotations

from datetime import date, datetime

from upkeep.config.risk_register import CheckWaiver, DriftException, RiskEntry
from upkeep.site.markup import frontmatter, html_root_for, run_href, table_cell
from upkeep.site.model import SiteModel

PAGE = "risk-register.md"


def risk_register_page(model: SiteModel, today: date | None = None) -> str:
    register = model.config.risk_register
    today = today or datetime.now(model.config.tz).date()
    lines = [
        frontmatter("Risk register"),
        "# Risk register\n",
        "The vulnerabilities accepted for a while, as `risk-register.yml` holds them (policy, "
        "reviewed in git). The weekly *dependency review* reports each accepted one as accepted, "
        "fails on an entry that expired or has no owner or approver, and names entries that "
        f"match nothing any more (stale) in its run report. Status as of {today.isoformat()}, "
        "when this site was built.\n",
    ]
    if register.path is None:
        where = model.config.updates.risk_register
        return "\n".join([*lines, f"No risk register: `{where}` does not exist.\n"])
    if not register.entries and not register.drift and not register.checks:
        return "\n".join([*lines, "The register has no entries: nothing is accepted.\n"])
    if register.checks:
        lines += _waiver_lines(register.checks, model, today)
    if register.drift:
        lines += _drift_lines(register.drift, today)
    if not register.entries:
        return "\n".join(lines) + "\n"
    lines += [
        "| Advisory | Package | Status | Expires | Owner | Approved by | Reason |",
        "|---|---|---|---|---|---|---|",
    ]
    for entry in sorted(register.entries, key=lambda e: (e.expires, e.package, e.id)):
        ids = ", ".join((entry.id, *entry.aliases))
        lines.append(
            f"| {table_cell(ids)} | {table_cell(entry.package)} | {_status(entry, today)} | "
            f"{entry.expires.isoformat()} | {_or_none(entry.owner)} | "
            f"{_or_none(entry.approved_by)} | {table_cell(entry.reason)} |"
        )
    return "\n".join(lines) + "\n"


def _drift_lines(drift: tuple[DriftException, ...], today: date) -> list[str]:
    """The drift exceptions: the monthly *security review* reports each as accepted until it
    expires."""
    lines = [
        "## Permission drift accepted for a while\n",
        "Drifts from the security review's permission baseline that stay reported as accepted "
        "(not written into the baseline) until they expire.\n",
        "| Drift | Status | Expires | Owner | Approved by | Reason |",
        "|---|---|---|---|---|---|",
    ]
    for entry in sorted(drift, key=lambda e: (e.expires, e.key)):
        lines.append(
            f"| <code>{table_cell(entry.key)}</code> | {_status(entry, today)} | "
            f"{entry.expires.isoformat()} | {_or_none(entry.owner)} | "
            f"{_or_none(entry.approved_by)} | {table_cell(entry.reason)} |"
        )
    return [*lines, "", "## Accepted vulnerabilities\n"]


def _waiver_lines(waivers: tuple[CheckWaiver, ...], model: SiteModel, today: date) -> list[str]:
    """The check waivers, each with how many runs it waived a check in and the latest."""
    root = html_root_for("risk-register/")
    lines = [
        "## Checks waived for a while\n",
        "A waived check's warn or fail is shown as **WAIVED** (never as ok) in its run's report, "
        "on the dashboard and in `upkeep list`, and counts as warn for its run. A waiver that "
        "expired or has no approver waives nothing: the check fails or warns as it found, and "
        "its report says why the waiver did not hold.\n",
        "| Runbook | Check | Status | Expires | Owner | Approved by | Reason | Waived in |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for entry in sorted(waivers, key=lambda e: (e.expires, e.runbook, e.check)):
        runs = [
            run
            for run in model.by_runbook.get(entry.runbook, ())
            if run.record is not None
            and any(c.waived and entry.matches(entry.runbook, c.name) for c in run.record.checks)
        ]
        used = "no run yet"
        if runs:  # newest first
            link = f'<a href="{run_href(runs[0], root)}">{runs[0].run_id}</a>'
            used = f"{len(runs)} run{'s' if len(runs) > 1 else ''}, latest {link}"
        lines.append(
            f"| {table_cell(entry.runbook)} | <code>{table_cell(entry.check)}</code> | "
            f"{_status(entry, today)} | {entry.expires.isoformat()} | "
            f"{table_cell(entry.owner or '-')} | {_or_none(entry.approved_by)} | "
            f"{table_cell(entry.reason)} | {used} |"
        )
    return [*lines, ""]


def _status(entry: RiskEntry | DriftException | CheckWaiver, today: date) -> str:
    if entry.expired(today):
        return "**expired**"
    if entry.approved_by is None or (entry.owner is None and not isinstance(entry, CheckWaiver)):
        return "**incomplete**"
    days = (entry.expires - today).days
    return f"accepted, {days} days left"


def _or_none(value: str | None) -> str:
    """A person's name as text, or a bold "none" where the register names nobody."""
    return table_cell(value) if value else "**none**"
