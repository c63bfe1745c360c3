"""Responsible for the small pieces every generated page is made of: escaping run text into HTML
and Markdown table cells, status badges (a dry run marked) and the strip of recent runs, times in
the configured zone, links between pages, front matter, and a one-line summary of a run.

Text that comes from a run (check messages, findings: possibly a log line) is always escaped,
so it is never read as Markdown or markup.
"""

from __future__ import annotations

import html
import json
import posixpath
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from upkeep.plan import RunbookState
from upkeep.records import Status, tally
from upkeep.rendering.run_record import DRY_RUN_TITLE, badge, check_badge, dry_run_mark
from upkeep.site.model import RunView, SiteModel

__all__ = [
    "badge",
    "check_badge",
    "dry_run_mark",
    "escape_html",
    "evidence_cell",
    "frontmatter",
    "html_root_for",
    "md_link",
    "next_due",
    "recent_runs_strip",
    "run_href",
    "last_status",
    "run_status",
    "run_summary",
    "table_cell",
    "when",
]

RUN_MARKS = {
    Status.OK: "✓",
    Status.WARN: "!",
    Status.FAIL: "✗",
    Status.ERROR: "E",
    Status.SKIPPED: "–",
}
_SPECIAL = re.compile("[&<>\"'`~\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# Beyond HTML's five: a page's raw HTML is still read by Markdown's preprocessors first, and
# superfences turns a line of three backticks or tildes into a code block there (a check's
# message could open one and swallow the rest of the dashboard, or set an element's id); and
# control characters (a NUL, a terminal's colour codes) are shown as their pictures, and the
# bidirectional overrides and isolates, which make what follows them read backwards, as their
# code points (as `plain_text.shown` does).
_MORE = str.maketrans(
    {
        "`": "&#96;",
        "~": "&#126;",
        **{
            chr(code): chr(0x2400 + code) for code in (*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20))
        },
        "\x7f": "\u2421",
        **{chr(code): "\ufffd" for code in range(0x80, 0xA0)},
        **{
            chr(code): f"&lt;U+{code:04X}&gt;"
            for code in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))
        },
    }
)


def escape_html(value: Any) -> str:
    """HTML-escape any value (most are plain text: those skip the replacements), so that
    neither HTML nor the Markdown around it acts on it."""
    text = str(value)
    if not _SPECIAL.search(text):
        return text
    return html.escape(text, quote=True).translate(_MORE)


# What Markdown (with the site's extensions) would act on in text shown as it is: links
# (`[x](javascript:...)`), attr_list's attributes (`{: onclick=... }`), and `*` and backticks,
# which would turn `count(*) ... a*2` into emphasis, even inside a <code> element. `_` is left:
# Markdown reads it inside words as a character (`New_York`).
_MARKDOWN_ACTIVE = str.maketrans(
    {"[": "&#91;", "]": "&#93;", "{": "&#123;", "}": "&#125;", "*": "&#42;", "`": "&#96;"}
)


def inert_markdown(text: str) -> str:
    """Text that Markdown shows without acting on it: no HTML, no links, no attributes."""
    return escape_html(text).translate(_MARKDOWN_ACTIVE)


def table_cell(text: str) -> str:
    """Text safe inside a Markdown table cell, shown as it is (see `inert_markdown`)."""
    return inert_markdown(text).replace("|", "&#124;").replace("\n", " ")


def when(moment: datetime | None, model: SiteModel) -> str:
    """A moment in the configured time zone, to the minute."""
    if moment is None:
        return "-"
    return moment.astimezone(model.config.tz).strftime("%Y-%m-%d %H:%M %Z")


def run_href(run: RunView, html_root: str) -> str:
    """The URL of a run's report page from a page whose URL is `html_root` below the site root."""
    return f"{html_root}{run.relpath}/"


def html_root_for(url: str) -> str:
    """`../` repeated for each folder of a page URL (`runbooks/x/` -> `../../`)."""
    return "../" * url.strip("/").count("/") + ("../" if url.strip("/") else "")


def md_link(from_src: str, to_src: str) -> str:
    """A relative Markdown link target from one docs page to another."""
    return posixpath.relpath(to_src, posixpath.dirname(from_src) or ".")


def frontmatter(title: str, **extra: Any) -> str:
    meta = {"title": title, **extra}
    return "---\n" + "".join(f"{k}: {json.dumps(v)}\n" for k, v in meta.items()) + "---\n\n"


def is_dry_run(run: RunView) -> bool:
    """Whether the run said it was a dry run (its run.json; `verify` holds it to the ledger)."""
    return run.record is not None and run.record.dry_run


def run_status(run: RunView) -> str:
    """A run's status badge, and the dry-run mark when it was one."""
    mark = f" {dry_run_mark()}" if is_dry_run(run) else ""
    return f"{badge(run.status)}{mark}"


def last_status(state: RunbookState) -> str:
    """A runbook's last status badge (the same last run on every page), a dry run marked; after
    a dry run, the last real run's status beside it when that was not ok."""
    mark = f" {dry_run_mark()}" if state.last_dry_run else ""
    real = state.real_status
    if real is not None and real is not Status.OK:
        mark += f" (last real run: {badge(real)})"
    return f"{badge(state.last_status)}{mark}"


def next_due(state: RunbookState, model: SiteModel) -> str:
    """When it is next due: overdue since when (a retry after an error said), or when it gave up
    retrying until the next period."""
    moment = escape_html(when(state.next_due, model))
    if state.due and state.period_errors:
        retry = f"retry {state.period_errors} of {state.runbook.retries}"
        return f'<strong class="uk-bad">OVERDUE</strong> ({retry}) since {moment}'
    if state.due:
        return f'<strong class="uk-bad">OVERDUE</strong> since {moment}'
    if state.gave_up:
        return f"{moment} (gave up: {state.period_errors} runs ended in error)"
    return moment


def _run_mark(run: RunView, html_root: str, model: SiteModel) -> str:
    """One run in a strip: a coloured letter linking its page, outlined when it does not verify,
    faded when it was a dry run."""
    unverified, outline = ("", "") if run.verified else (" (DOES NOT VERIFY)", " uk-chip-bad")
    dry, faded = (f" ({DRY_RUN_TITLE})", " uk-chip-dry") if is_dry_run(run) else ("", "")
    label = f"{when(run.started_at, model)}: {run.status.word}{dry}{unverified}"
    return (
        f'<a class="uk-chip uk-{run.status}{outline}{faded}" href="{run_href(run, html_root)}" '
        f'title="{escape_html(label)}" aria-label="{escape_html(label)}">'
        f"{RUN_MARKS[run.status]}</a>"
    )


def recent_runs_strip(runs: Iterable[RunView], html_root: str, model: SiteModel) -> str:
    """The recent runs, oldest on the left, newest on the right."""
    marks = [_run_mark(run, html_root, model) for run in runs]
    return f'<span class="uk-strip">{"".join(reversed(marks))}</span>' if marks else "-"


def evidence_cell(run: RunView) -> str:
    if run.verified:
        return '<span class="uk-good">verifies</span>'
    return '<strong class="uk-bad">DOES NOT VERIFY</strong>'


def run_summary(run: RunView) -> str:
    """One line saying what a run found: counts of checks, then what did not pass."""
    record = run.record
    if record is None:
        return "run.json cannot be read"
    if record.error is not None:
        return f"error: {record.error.ename}: {record.error.evalue}"[:240]
    if record.skipped_reason:
        return f"skipped: {record.skipped_reason}"[:240]
    parts = [f"{n} {word}" for word, n in tally(record.checks)]
    bad = [
        f"{check.name}: {check.message or number_text(check.value)}"
        + (f" ({check.waiver.note})" if check.waiver else "")
        for check in record.checks
        if check.status is not Status.OK
    ]
    text = ", ".join(parts) + (" — " + "; ".join(bad) if bad else "")
    return (text or "no checks")[:240]


def number_text(value: float | None) -> str:
    return "None" if value is None else f"{value:g}" if isinstance(value, float) else str(value)
