"""Responsible for the HTML of a run record, one set of rules for the report and the site's run
page: the Jinja environment over `templates/` (autoescaped: every value from a run is text), the
macros of `run_record.html.j2`, and the filters they use to show statuses as words, a dry run's
mark, numbers with their units, durations and times in one time zone, and the run ids a message
names as links to those runs.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, tzinfo
from importlib.resources import files
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup, escape

from upkeep.records import Check, Finding, Host, RunError, Severity, Status
from upkeep.rendering.sanitize import shown_in_html
from upkeep.units import quantity

NEVER_RUN = "NEVER RUN"
# A run id as upkeep makes them (`20261127T021500Z-health-check-7f3a`): UTC start, runbook, suffix.
_RUN_ID_IN_TEXT = re.compile(r"\b((\d{4})(\d{2})\d{2}T\d{6}Z-[a-z0-9]+(?:-[a-z0-9]+)+)\b")


def badge(status: Status | Severity | None) -> Markup:
    """A status (or severity) as a word with its colour class; None is a runbook never run."""
    if status is None:
        return Markup('<span class="uk-status uk-never">NEVER RUN</span>')
    # Made once per status: a site build shows one for each of years of runs. Keyed on the
    # type too: Status.WARN and Severity.WARN are equal strings.
    key = (type(status), status.value)
    made = _BADGES.get(key)
    if made is None:
        made = _BADGES[key] = Markup('<span class="uk-status uk-{0}">{1}</span>').format(
            status.value, status.word
        )
    return made


_BADGES: dict[tuple[type, str], Markup] = {}


def check_badge(check: Check) -> Markup:
    """A check's status as a badge: a waived warn or fail is WAIVED (never OK), with the
    waiver's last day and approver as its title."""
    if not check.waived or check.waiver is None:
        return badge(check.status)
    return Markup('<span class="uk-status uk-waived" title="{0}">WAIVED</span>').format(
        f"{check.status.word}, {check.waiver.note}"
    )


DRY_RUN_TITLE = "a dry run: it changed nothing, and does not count as its period's run"


def dry_run_mark(dry_run: bool = True) -> Markup:
    """The mark of a dry run, beside its status wherever a run is shown; empty for a real run."""
    if not dry_run:
        return Markup("")
    return Markup('<span class="uk-dry-run" title="{0}">DRY RUN</span>').format(DRY_RUN_TITLE)


def number(value: float | None, unit: str = "") -> str:
    """`87.1%`, `12`, `1.4 MiB` for a byte count, or empty for no value (`upkeep.units`)."""
    return quantity(value, unit)


def duration(seconds: float | None) -> str:
    """`4.2 s`, `3 min 05 s`, `1 h 02 min`."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def when(moment: datetime | None, tz: tzinfo) -> str:
    """A moment in the one time zone the output uses: `2026-11-27 02:15:00 UTC`."""
    if moment is None:
        return "-"
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z")


def worst_first(items: Iterable[Any]) -> list[Any]:
    """Checks or findings, the ones that need attention first, otherwise as recorded."""
    return sorted(
        items, key=lambda item: -(item.severity if isinstance(item, Finding) else item.status).rank
    )


def _labels(labels: Mapping[str, str]) -> str:
    return ", ".join(f"{key}={value}" for key, value in labels.items())


def _host(host: Host) -> str:
    who = "@".join(part for part in (host.user, host.name) if part)
    return who + (f" · {host.platform}" if host.platform else "")


def _exception(error: RunError) -> str:
    return f"{error.ename or 'Error'}: {error.evalue}".rstrip(": ")


def run_links(text: Any) -> Markup:
    """`text` escaped, each run id in it a link to that run's folder, relative to a run's folder
    (`runs/YYYY/MM/<run_id>/`, where both the report and the site's run page are): on the site,
    the run's page."""
    escaped = str(escape(shown_in_html("" if text is None else str(text))))
    return Markup(
        _RUN_ID_IN_TEXT.sub(
            lambda found: f'<a href="../../../{found[2]}/{found[3]}/{found[1]}/">{found[1]}</a>',
            escaped,
        )
    )


def _as_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _shown_value(value: Any) -> Any:
    """What a template prints from a run (a check's name, a message): its control characters
    and bidirectional overrides shown, never acted on (a NUL, a terminal's colour codes, a
    right-to-left override that would make a verdict read backwards). HTML the filters made
    (`Markup`) is theirs."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return shown_in_html(value)
    return value


@functools.cache
def environment(tz: tzinfo) -> Environment:
    """The templates, with the filters bound to the time zone times are shown in."""
    env = Environment(
        loader=PackageLoader("upkeep.rendering", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_shown_value,
    )
    env.filters.update(
        badge=badge,
        dry_run_mark=dry_run_mark,
        number=number,
        duration=duration,
        when=lambda moment: when(moment, tz),
        worst_first=worst_first,
        check_badge=check_badge,
        labels=_labels,
        host=_host,
        exception=_exception,
        as_json=_as_json,
        run_links=run_links,
    )
    return env


def render(template: str, tz: tzinfo, **context: Any) -> str:
    """Render one of the templates under `templates/`."""
    return environment(tz).get_template(template).render(**context)


@functools.cache
def stylesheet(name: str) -> str:
    """A stylesheet kept beside the templates."""
    return files("upkeep.rendering").joinpath("templates", name).read_text(encoding="utf-8")


def escape_text(value: Any) -> str:
    """`value` as HTML text (for the few fragments built outside a template)."""
    return str(escape("" if value is None else value))
