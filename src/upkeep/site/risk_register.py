"""Responsible for the risk register page, `risk-register.md`: every accepted vulnerability of
`risk-register.yml` with its package, reason, owner, approver, expiry and whether it still
holds on the day the site was built; then the permission drifts accepted for a while (`drift:`)."""

from __future__ import annotations

from datetime import date, datetime

from upkeep.config.risk_register import DriftException, RiskEntry
from upkeep.site.markup import frontmatter, table_cell
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
    if not register.entries and not register.drift:
        return "\n".join([*lines, "The register has no entries: nothing is accepted.\n"])
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
            f"{entry.expires.isoformat()} | {table_cell(entry.owner or '**none**')} | "
            f"{table_cell(entry.approved_by or '**none**')} | {table_cell(entry.reason)} |"
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
            f"{entry.expires.isoformat()} | {table_cell(entry.owner or '**none**')} | "
            f"{table_cell(entry.approved_by or '**none**')} | {table_cell(entry.reason)} |"
        )
    return [*lines, "", "## Accepted vulnerabilities\n"]


def _status(entry: RiskEntry | DriftException, today: date) -> str:
    if entry.expired(today):
        return "**expired**"
    if entry.owner is None or entry.approved_by is None:
        return "**incomplete**"
    days = (entry.expires - today).days
    return f"accepted, {days} days left"
