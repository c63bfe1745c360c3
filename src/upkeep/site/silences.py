"""Responsible for the silences page, `silences.md`: the maintenance windows of upkeep.yml (which
is open when the site was built) and the silences in the evidence ledger, active ones first, with
who silenced what, why and until when."""

from __future__ import annotations

from datetime import datetime

from upkeep.alerts.suppression import silences_in
from upkeep.config.windows import DAYS, MaintenanceWindow
from upkeep.site.markup import frontmatter, table_cell
from upkeep.site.model import SiteModel

PAGE = "silences.md"


def silences_page(model: SiteModel, now: datetime | None = None) -> str:
    config = model.config
    now = (now or datetime.now(config.tz)).astimezone(config.tz)
    lines = [
        frontmatter("Windows and silences"),
        "# Windows and silences\n",
        "Alerts that are expected, held back: while a maintenance window for a runbook is open "
        "(`maintenance_windows:` in upkeep.yml, reviewed in git), and while a silence covers it "
        "(`upkeep silence add|list|expire`, each a decision record in the evidence). Times in "
        f"{config.timezone}; as of {now:%Y-%m-%d %H:%M %Z}, when this site was built.\n",
        "## Maintenance windows\n",
    ]
    if not config.maintenance_windows:
        lines.append("No maintenance windows: upkeep.yml has no `maintenance_windows:`.\n")
    else:
        lines += ["| Window | When | For | Now |", "|---|---|---|---|"]
        for window in config.maintenance_windows:
            lines.append(
                f"| {table_cell(window.name)} | {table_cell(_when(window))} | "
                f"{table_cell(', '.join(window.runbooks) or 'every runbook')} | "
                f"{'**open**' if window.is_open(now) else 'closed'} |"
            )
        lines.append("")
    lines.append("## Silences\n")
    found = sorted(silences_in(model.decisions), key=lambda s: (not s.active(now), s.ends))
    if not found:
        lines.append("No silences in the evidence.\n")
        return "\n".join(lines)
    lines += [
        "| Silences | Until | State | By | Why | Id |",
        "|---|---|---|---|---|---|",
    ]
    for item in found:
        state = "**active**" if item.active(now) else "expired"
        if item.expired_by:
            state += f" (ended by {item.expired_by})"
        lines.append(
            f"| {item.scope} <code>{table_cell(item.name)}</code> | "
            f"{item.ends.astimezone(config.tz):%Y-%m-%d %H:%M} | {state} | "
            f"{table_cell(item.author)} | {table_cell(item.reason)} | `{item.record_id}` |"
        )
    return "\n".join(lines) + "\n"


def _when(window: MaintenanceWindow) -> str:
    if window.starts is not None and window.ends is not None:
        return f"{window.starts:%Y-%m-%d %H:%M} to {window.ends:%Y-%m-%d %H:%M} ({window.timezone})"
    days = ", ".join(DAYS[day] for day in window.days)
    assert window.start is not None and window.duration is not None
    hours = window.duration.total_seconds() / 3600
    return f"{days} from {window.start:%H:%M} for {hours:g} h ({window.timezone})"
