"""Responsible for the support pages: the support policy rendered from upkeep.yml's `support:`
section (the plan's `support_policy()` macro, so the documented and the enforced SLA cannot
differ) and the generated page `support.md`: the policy, the open incidents with their SLA
clocks, and this month's SLA attainment per severity."""

from __future__ import annotations

from datetime import datetime

from upkeep.config import Config
from upkeep.config.support import WEEKDAYS, Support
from upkeep.errors import ConfigError
from upkeep.site.markup import frontmatter, table_cell
from upkeep.site.model import SiteModel
from upkeep.sla.incidents import clocks, follow, incident_events
from upkeep.sla.report import attainment_text

PAGE = "support.md"


def policy_markdown(config: Config) -> str:
    """The channels, business hours, and per severity the targets and escalation."""
    support = config.support
    if not support.configured:
        return "No support policy: upkeep.yml has no `support:` section.\n"
    lines = ["| channel | where |", "|---|---|"]
    for name, value in (
        ("e-mail", support.email),
        ("ticket", support.ticket_url),
        ("chat", support.chat),
    ):
        if value:
            lines.append(f"| {name} | {table_cell(value)} |")
    lines += ["", _hours_sentence(support), ""]
    lines += [
        "| severity | what it means | first response | resolved | clock | escalates to |",
        "|---|---|---|---|---|---|",
    ]
    for target in support.severities:
        clock = "business hours" if target.clock == "business" else "around the clock"
        schedule = f"`{target.schedule}`" if target.schedule else ""
        escalate = " of ".join(part for part in (target.role, schedule) if part)
        lines.append(
            f"| {target.name} | {table_cell(target.description)} | {_span(target.response_min)} "
            f"| {_span(target.resolution_min)} | {clock} | {table_cell(escalate) or '-'} |"
        )
    lines += [
        "",
        f"The clock pauses while an incident is paused (`upkeep incident pause`). At "
        f"{support.warn_at:.0%} of a target the alert targets are warned; at the breach they are "
        "told again, naming whom it escalates to.",
        "",
    ]
    return "\n".join(lines)


def support_page(model: SiteModel, now: datetime | None = None) -> str:
    config = model.config
    now = (now or datetime.now(config.tz)).astimezone(config.tz)
    lines = [
        frontmatter("Support"),
        "# Support\n",
        "The support policy as upkeep.yml's `support:` section holds it (policy, reviewed in git), "
        f"the open incidents and their SLA clocks at {now:%Y-%m-%d %H:%M %Z}, when this site was "
        "built, and this month's SLA attainment.\n",
        "## Policy\n",
        policy_markdown(config),
    ]
    if not config.support.configured:
        return "\n".join(lines)
    decisions = [entry.decision for entry in model.decisions]
    try:
        incidents = follow(incident_events(decisions))
    except ValueError as exc:
        return "\n".join([*lines, f"The incident events do not fit: {table_cell(str(exc))}\n"])
    lines += ["## Open incidents\n"]
    open_ones = [i for i in incidents.values() if i.open]
    if not open_ones:
        lines.append("None.\n")
    else:
        lines += [
            "| incident | severity | title | opened | response | resolution |",
            "|---|---|---|---|---|---|",
        ]
        for incident in open_ones:
            try:
                cells = [_clock_cell(c, config) for c in clocks(incident, config.support, now)]
            except ConfigError:  # its severity was taken out of support: since it opened
                cells = [f"not evaluated: no severity {table_cell(incident.severity)}"] * 2
            lines.append(
                f"| {incident.id} | {table_cell(incident.severity)} | {table_cell(incident.title)} "
                f"| {incident.opened_at.astimezone(config.tz):%Y-%m-%d %H:%M} "
                f"| {cells[0]} | {cells[1]} |"
            )
        lines.append("")
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    lines += [
        "## This month's SLA attainment\n",
        f"Incidents resolved since {month_start:%Y-%m-%d}: "
        f"{attainment_text(decisions, config.support, month_start, now)}.\n",
    ]
    return "\n".join(lines)


def _clock_cell(clock, config: Config) -> str:
    due = f"{clock.due.astimezone(config.tz):%m-%d %H:%M}" if clock.due else "never"
    state = f"**{clock.state}**" if clock.state in ("warn", "breached") else clock.state
    return f"{state}, due {due} ({clock.used:.0%})"


def _hours_sentence(support: Support) -> str:
    hours = support.hours
    days = ", ".join(WEEKDAYS[d] for d in sorted(hours.days))
    end = f"{hours.end:%H:%M}" if hours.end else "24:00"
    holidays = (
        f", except public holidays of {hours.country}"
        + (f"-{hours.subdivision}" if hours.subdivision else "")
        if hours.country
        else ""
    )
    return f"Business hours: {days}, {hours.start:%H:%M} to {end} {hours.timezone}{holidays}."


def _span(minutes: int) -> str:
    for unit, size in (("d", 1440), ("h", 60)):
        if minutes % size == 0:
            return f"{minutes // size}{unit}"
    return f"{minutes}m"
