"""Responsible for the HTML report of one run: the verdict first, then the notebook, auditor's view.

The report is one self-contained file with no script at all. Notebook outputs are untrusted (a
log line or a database row can carry markup), so before nbconvert sees them every output is cut
down to plain text and PNG/JPEG images; the notebook HTML then passes an allow-list sanitizer,
and the whole document a last check that escapes any script element and drops `on*` attributes
and script URLs. The caller scrubs secrets first (`upkeep.redact`): this module renders what it
is given.
"""

from __future__ import annotations

import functools
import html
import json
import re
import threading
from collections.abc import Mapping
from html.parser import HTMLParser
from typing import Any

import bleach
import nbformat
from nbconvert import HTMLExporter
from nbformat import NotebookNode
from pygments.formatters import HtmlFormatter
from traitlets.config import Config

__all__ = ["CONTENT_SECURITY_POLICY", "render_report"]

CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
FAILED_CELL_TAG = "upkeep-failed"

_STATUS_WORDS = {"ok": "OK", "warn": "WARN", "fail": "FAIL", "error": "ERROR", "skipped": "SKIPPED"}
_CHECK_ORDER = {"fail": 0, "warn": 1, "ok": 2}
_SEVERITY_ORDER = {"fail": 0, "warn": 1, "info": 2}
_KEPT_IMAGES = ("image/png", "image/jpeg")
# Shown as escaped text when an output has nothing safer, most readable first.
_TEXT_FALLBACK_ORDER = ("text/markdown", "application/json", "text/latex", "text/html")

_exporter: HTMLExporter | None = None
_exporter_lock = threading.Lock()


# --- the notebook body ---------------------------------------------------------------------------


def _cleaned_later(html_text: Any) -> str:
    return str(html_text)


def _get_exporter() -> HTMLExporter:
    """The one exporter of this process; call with `_exporter_lock` held."""
    global _exporter
    if _exporter is None:
        config = Config()
        # Its CSS goes unused by the basic template; skip reading custom.css on every render.
        config.CSSHTMLHeaderPreprocessor.enabled = False
        # The template cleans each code cell on its own; the whole body is cleaned once, more
        # strictly, in `_notebook_html`, so the per-cell pass would only cost time.
        _exporter = HTMLExporter(
            template_name="basic", config=config, filters={"clean_html": _cleaned_later}
        )
    return _exporter


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "".join(str(item) for item in value)
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def _safe_output(output: Mapping[str, Any]) -> dict[str, Any] | None:
    """The output reduced to text/plain and PNG/JPEG; anything richer becomes escaped text."""
    kind = output.get("output_type")
    if kind == "stream":
        name = "stderr" if output.get("name") == "stderr" else "stdout"
        return {"output_type": kind, "name": name, "text": _text(output.get("text", ""))}
    if kind == "error":
        return {
            "output_type": kind,
            "ename": _text(output.get("ename", "")),
            "evalue": _text(output.get("evalue", "")),
            "traceback": [_text(line) for line in output.get("traceback", [])],
        }
    if kind not in ("display_data", "execute_result"):
        return None
    data = output.get("data", {})
    safe: dict[str, str] = {}
    if "text/plain" in data:
        safe["text/plain"] = _text(data["text/plain"])
    for mimetype in _KEPT_IMAGES:
        if isinstance(data.get(mimetype), str):
            safe[mimetype] = data[mimetype]
    if not safe and data:
        fallback = [m for m in _TEXT_FALLBACK_ORDER if m in data] or sorted(data)
        safe["text/plain"] = _text(data[fallback[0]])
    if not safe:
        return None
    # An image is described by its text alternative (nbconvert warns about images without one).
    alt = safe.get("text/plain", "").strip()[:200] or "image output"
    metadata = {
        mimetype: {
            key: value
            for key, value in output.get("metadata", {}).get(mimetype, {}).items()
            if key in ("width", "height") and isinstance(value, int)
        }
        | {"alt": alt}
        for mimetype in _KEPT_IMAGES
        if mimetype in safe
    }
    safe_output = {"output_type": kind, "data": safe, "metadata": metadata}
    if kind == "execute_result":
        safe_output["execution_count"] = output.get("execution_count")
    return safe_output


def _fenced(text: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def _safe_cell(index: int, cell: Mapping[str, Any], failed: bool) -> dict[str, Any]:
    """A copy of the cell with a predictable anchor, its tags, and only safe outputs."""
    source = _text(cell.get("source", ""))
    tags = [tag for tag in cell.get("metadata", {}).get("tags", []) if isinstance(tag, str)]
    if failed:
        tags.append(FAILED_CELL_TAG)
    # A predictable id, so the error box can link to the failing cell.
    safe = {"id": f"cell-{index}", "metadata": {"tags": tags} if tags else {}}
    kind = cell.get("cell_type")
    if kind == "code":
        outputs = [_safe_output(output) for output in cell.get("outputs", [])]
        return safe | {
            "cell_type": "code",
            "source": source,
            "execution_count": cell.get("execution_count"),
            "outputs": [output for output in outputs if output is not None],
        }
    if kind == "markdown":
        attachments = {
            name: {m: v for m, v in bundle.items() if m in _KEPT_IMAGES and isinstance(v, str)}
            for name, bundle in cell.get("attachments", {}).items()
        }
        return safe | {"cell_type": "markdown", "source": source, "attachments": attachments}
    # Raw cells (rare in runbooks) are shown as their text, never interpreted.
    return safe | {"cell_type": "markdown", "source": _fenced(source)}


def _safe_notebook(nb: NotebookNode, failed_cell: int | None) -> NotebookNode:
    """A new notebook holding only what the report shows; notebook metadata is left out."""
    cells = [_safe_cell(i, cell, i == failed_cell) for i, cell in enumerate(nb.get("cells", []))]
    info = nb.get("metadata", {}).get("language_info", {})
    language_info = {k: info[k] for k in ("name", "pygments_lexer") if isinstance(info.get(k), str)}
    if language_info.get("pygments_lexer", "").startswith("ipython"):
        # Runbook cells are plain Python; the IPython lexer would import all of IPython (0.7 s).
        language_info["pygments_lexer"] = "python"
    return nbformat.from_dict(
        {
            "nbformat": 4,
            "nbformat_minor": 5,
            "metadata": {
                "language_info": language_info or {"name": "python", "pygments_lexer": "python"}
            },
            "cells": cells,
        }
    )


_BODY_TAGS = frozenset(
    "a abbr b blockquote br caption code col colgroup dd del details div dl dt em "  # noqa: SIM905
    "figcaption figure h1 h2 h3 h4 h5 h6 hr i img ins kbd li mark ol p pre q s samp small "
    "span strong sub summary sup table tbody td tfoot th thead tr u ul var".split()
)
_IMAGE_URL = re.compile(r"data:image/(?:png|jpeg|gif);base64,[A-Za-z0-9+/=\s]*\Z")
_LINK_URL = re.compile(r"(?:https?:|mailto:|#|[^:]*\Z)", re.IGNORECASE)


def _allowed_attribute(tag: str, name: str, value: str) -> bool:
    if name in ("class", "id", "title", "lang"):
        return True
    if tag == "a":
        return name == "href" and _LINK_URL.match(value.strip()) is not None
    if tag == "img":
        if name == "src":
            return _IMAGE_URL.match(value.strip()) is not None
        return name in ("alt", "width", "height")
    if tag in ("td", "th"):
        return name in ("colspan", "rowspan", "align")
    return tag == "ol" and name == "start"


_cleaner = bleach.Cleaner(
    tags=_BODY_TAGS,
    attributes=_allowed_attribute,
    protocols={"http", "https", "mailto", "data"},
    strip=False,  # markup that is not allowed is shown as text, not silently removed
    strip_comments=True,
)


def _notebook_html(nb: NotebookNode, failed_cell: int | None) -> str:
    safe = _safe_notebook(nb, failed_cell)
    # Neither the exporter nor a bleach Cleaner is safe to share between threads.
    with _exporter_lock:
        body, _ = _get_exporter().from_notebook_node(safe)
        return _cleaner.clean(body)


# --- the verdict ---------------------------------------------------------------------------------


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _status(status: Any) -> str:
    """A status word with its colour class; an unknown status is shown in capitals, uncoloured."""
    key = status if status in _STATUS_WORDS else "unknown"
    word = _STATUS_WORDS.get(status, str(status or "unknown").upper())
    return f'<span class="status status-{key}">{_e(word)}</span>'


def _number(value: Any, unit: Any = "") -> str:
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = f"{value:g}"
    return _e(f"{value}{unit or ''}")


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _runbook_version(runbook: Mapping[str, Any]) -> str:
    sha = str(runbook.get("sha256") or "")
    commit = runbook.get("git_commit")
    parts = [f"<code>{_e(runbook.get('path', ''))}</code>"]
    if sha:
        parts.append(f'sha256 <code title="{_e(sha)}">{_e(sha[:12])}</code>')
    if commit:
        parts.append(f'commit <code title="{_e(commit)}">{_e(str(commit)[:12])}</code>')
    else:
        parts.append("no git commit")
    return " · ".join(parts)


def _host(host: Any) -> str:
    if not isinstance(host, Mapping):
        return _e(host)
    who = "@".join(_e(host[k]) for k in ("user", "name") if host.get(k))
    return who + (f" · {_e(host['platform'])}" if host.get("platform") else "")


def _verdict(record: Mapping[str, Any]) -> str:
    runbook = record.get("runbook") or {}
    title = runbook.get("title") or runbook.get("name") or "Runbook"
    facts = [
        ("Run", f"<code>{_e(record.get('run_id'))}</code>"),
        ("Started", _e(record.get("started_at"))),
        ("Ended", _e(record.get("ended_at"))),
        ("Duration", _e(_duration(record.get("duration_s")))),
        ("Trigger", _e(record.get("trigger"))),
        ("Host", _host(record.get("host"))),
        ("Runbook version", _runbook_version(runbook)),
    ]
    rows = "".join(f"<dt>{label}</dt><dd>{value}</dd>" for label, value in facts)
    status = record.get("status")
    key = status if status in _STATUS_WORDS else "unknown"
    return (
        f'<header class="verdict verdict-{key}">\n'
        f'<p class="verdict-word">{_status(status)}</p>\n'
        f'<h1>{_e(title)} <span class="runbook-name">{_e(runbook.get("name"))}</span></h1>\n'
        f'<dl class="facts">{rows}</dl>\n'
        "</header>\n"
    )


def _table(headers: tuple[str, ...], rows: list[str], empty: str) -> str:
    if not rows:
        return f'<p class="empty">{_e(empty)}</p>'
    head = "".join(f"<th>{_e(header)}</th>" for header in headers)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _checks(checks: list[Mapping[str, Any]]) -> str:
    ordered = sorted(checks, key=lambda check: _CHECK_ORDER.get(check.get("status"), 3))
    rows = [
        f"<tr><td>{_status(check.get('status'))}</td><td>{_e(check.get('name'))}</td>"
        f'<td class="number">{_number(check.get("value"), check.get("unit"))}</td>'
        f'<td class="number">{_number(check.get("limit"), check.get("unit"))}</td>'
        f"<td>{_e(check.get('message'))}</td></tr>"
        for check in ordered
    ]
    table = _table(("Status", "Check", "Value", "Limit", "Message"), rows, "No check recorded.")
    return f'<section id="checks"><h2>Checks</h2>{table}</section>\n'


def _metrics(metrics: list[Mapping[str, Any]]) -> str:
    rows = []
    for metric in metrics:
        labels = ", ".join(f"{k}={v}" for k, v in (metric.get("labels") or {}).items())
        rows.append(
            f"<tr><td>{_e(metric.get('name'))}</td>"
            f'<td class="number">{_number(metric.get("value"), metric.get("unit"))}</td>'
            f"<td>{_e(labels)}</td></tr>"
        )
    table = _table(("Metric", "Value", "Labels"), rows, "No metric recorded.")
    return f'<section id="metrics"><h2>Metrics</h2>{table}</section>\n'


def _findings(findings: list[Mapping[str, Any]]) -> str:
    ordered = sorted(findings, key=lambda item: _SEVERITY_ORDER.get(item.get("severity"), 3))
    items = "".join(
        f"<li>{_status(item.get('severity'))} <code>{_e(item.get('key'))}</code> "
        f"{_e(item.get('message'))}</li>"
        for item in ordered
    )
    body = f'<ul class="findings">{items}</ul>' if items else '<p class="empty">No finding.</p>'
    return f'<section id="findings"><h2>Findings</h2>{body}</section>\n'


def _parameters(parameters: Mapping[str, Any]) -> str:
    rows = [
        f"<tr><td><code>{_e(name)}</code></td>"
        f"<td><code>{_e(json.dumps(value, ensure_ascii=False, default=str))}</code></td></tr>"
        for name, value in parameters.items()
    ]
    table = _table(("Parameter", "Value"), rows, "No parameter.")
    return f'<section id="parameters"><h2>Parameters</h2>{table}</section>\n'


def _error(error: Mapping[str, Any], nb: NotebookNode | None) -> str:
    index = error.get("cell")
    where = "an unknown cell"
    if isinstance(index, int) and not isinstance(index, bool):
        where = f"cell {index}"
        cells = nb.get("cells", []) if nb is not None else []
        if 0 <= index < len(cells):
            count = cells[index].get("execution_count")
            label = f"cell {index}" + (f" (In [{count}])" if count is not None else "")
            where = f'<a href="#cell-id=cell-{index}">{_e(label)}</a>'
    exception = f"{error.get('ename') or 'Error'}: {error.get('evalue') or ''}".rstrip(": ")
    traceback = error.get("traceback") or ""
    return (
        '<section id="error" class="error-box">\n'
        f"<h2>The run stopped with an error in {where}</h2>\n"
        f'<p class="exception"><code>{_e(exception)}</code></p>\n'
        + (f'<pre class="traceback">{_e(traceback)}</pre>\n' if traceback else "")
        + "</section>\n"
    )


def _notebook_section(nb: NotebookNode | None, record: Mapping[str, Any]) -> str:
    if nb is None:
        reason = (
            "This run was skipped: no notebook was executed."
            if record.get("status") == "skipped"
            else "No executed notebook is attached to this run."
        )
        empty = f'<p class="empty">{_e(reason)}</p>'
        return f'<section id="notebook"><h2>Notebook</h2>{empty}</section>\n'
    error = record.get("error") or {}
    failed = error.get("cell") if isinstance(error.get("cell"), int) else None
    return (
        '<section id="notebook">\n<h2>Notebook</h2>\n'
        '<input type="checkbox" id="upkeep-show-code" class="show-code">\n'
        '<label for="upkeep-show-code" class="show-code-label">'
        "Show code (engineer&#8217;s view)</label>\n"
        f'<div class="notebook">\n{_notebook_html(nb, failed)}\n</div>\n</section>\n'
    )


def _versions(versions: Mapping[str, Any]) -> str:
    shown = " · ".join(f"{_e(name)} {_e(version)}" for name, version in versions.items())
    return f'<footer class="versions">{shown}</footer>\n' if shown else ""


# --- the document --------------------------------------------------------------------------------

_STYLE = """
:root { color-scheme: light; --ok: #116329; --warn: #7d4e00; --fail: #b3261e; --error: #7a0a46;
  --skipped: #4f5660; --line: #d0d7de; --soft: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 72rem; padding: 1rem 1.5rem 3rem; color: #1f2328;
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; }
code, pre, kbd, samp { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
  font-size: 0.875rem; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; margin: 0; }
h2 { font-size: 1.25rem; margin: 2rem 0 0.5rem; border-bottom: 1px solid var(--line); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 0.3rem 0.6rem;
  border-bottom: 1px solid var(--line); }
th { background: var(--soft); }
td.number { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.empty { color: var(--skipped); font-style: italic; }
.status { display: inline-block; min-width: 4.5em; font-weight: 700; letter-spacing: 0.04em; }
.status-ok { color: var(--ok); } .status-warn { color: var(--warn); }
.status-fail { color: var(--fail); } .status-error { color: var(--error); }
.status-skipped, .status-info, .status-unknown { color: var(--skipped); }
.verdict { border-left: 0.6rem solid var(--skipped); background: var(--soft);
  padding: 0.8rem 1.2rem; margin-bottom: 1rem; }
.verdict-ok { border-color: var(--ok); } .verdict-warn { border-color: var(--warn); }
.verdict-fail { border-color: var(--fail); } .verdict-error { border-color: var(--error); }
.verdict-word { margin: 0; font-size: 2.75rem; line-height: 1.1; }
.verdict h1 { font-size: 1.5rem; margin: 0.3rem 0 0.6rem; }
.runbook-name { font-size: 1rem; font-weight: 400; color: var(--skipped); }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.1rem 1rem; margin: 0; }
.facts dt { font-weight: 600; } .facts dd { margin: 0; }
.error-box { border: 2px solid var(--error); padding: 0 1rem 1rem; margin: 1rem 0; }
.error-box h2 { color: var(--error); border: 0; margin-top: 0.8rem; }
.traceback { background: var(--soft); padding: 0.6rem; border: 1px solid var(--line); }
.findings { padding-left: 1.2rem; }
.versions { margin-top: 2rem; color: var(--skipped); font-size: 0.875rem; }
.show-code-label { display: inline-block; margin: 0.2rem 0 0.8rem 0.3rem; cursor: pointer; }
.notebook .cell { margin: 0.6rem 0; }
.notebook .input, .notebook .prompt { display: none; }
#upkeep-show-code:checked ~ .notebook .input,
.notebook .celltag_upkeep-failed .input { display: flex; gap: 0.6rem; }
#upkeep-show-code:checked ~ .notebook .prompt { display: block; min-width: 5.5rem;
  color: var(--skipped); font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.8rem; }
.notebook .input_area { flex: 1; min-width: 0; background: var(--soft);
  border: 1px solid var(--line); padding: 0.4rem 0.6rem; }
.notebook .inner_cell { flex: 1; min-width: 0; }
.notebook .output_area { display: flex; gap: 0.6rem; }
.notebook .output_subarea { flex: 1; min-width: 0; padding: 0.2rem 0; }
.notebook .output_stderr { background: #fff5f5; }
.notebook .output_error pre { color: var(--error); }
.notebook .celltag_upkeep-failed { border-left: 0.4rem solid var(--error); padding-left: 0.6rem; }
.notebook img { max-width: 100%; height: auto; }
.notebook .highlight { background: transparent; }
.notebook .anchor-link { visibility: hidden; margin-left: 0.3rem; text-decoration: none; }
.notebook h1:hover .anchor-link, .notebook h2:hover .anchor-link,
.notebook h3:hover .anchor-link { visibility: visible; }
.ansi-red-fg { color: var(--fail); } .ansi-green-fg { color: var(--ok); }
.ansi-yellow-fg { color: var(--warn); } .ansi-blue-fg { color: #0550ae; }
.ansi-cyan-fg { color: #1b7c83; } .ansi-magenta-fg { color: #8250df; }
.ansi-bold { font-weight: 700; }
@media print {
  body { max-width: none; padding: 0; font-size: 11pt; }
  .show-code, .show-code-label, .anchor-link { display: none !important; }
  .verdict, th, .traceback, .input_area { background: none; }
  section, tr, .cell { break-inside: avoid; }
}
"""


@functools.cache
def _pygments_css() -> str:
    return HtmlFormatter(style="default").get_style_defs(".highlight")


def render_report(nb: NotebookNode | None, record: Mapping[str, Any]) -> str:
    """One complete, self-contained HTML document: the verdict, then the notebook.

    `nb` is the executed notebook, secrets already scrubbed, or None when the run has no
    notebook (a skipped run): then only the verdict is rendered. `record` is the run record.
    """
    if hasattr(record, "to_json"):
        record = record.to_json()
    status = record.get("status")
    runbook = record.get("runbook") or {}
    title = runbook.get("title") or runbook.get("name")
    error = record.get("error")
    document = (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_e(CONTENT_SECURITY_POLICY)}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(_STATUS_WORDS.get(status, status))} — {_e(title)} — "
        f"{_e(record.get('run_id'))}</title>\n"
        f"<style>{_STYLE}\n{_pygments_css()}\n</style>\n"
        "</head>\n"
        f'<body class="run-{_e(status if status in _STATUS_WORDS else "unknown")}">\n'
        f"{_verdict(record)}"
        "<main>\n"
        + (_error(error, nb) if error else "")
        + _checks(list(record.get("checks") or []))
        + _metrics(list(record.get("metrics") or []))
        + _findings(list(record.get("findings") or []))
        + _parameters(record.get("parameters") or {})
        + _notebook_section(nb, record)
        + "</main>\n"
        + _versions(record.get("versions") or {})
        + "</body>\n</html>\n"
    )
    return _without_script(document)


# --- the last line of defence --------------------------------------------------------------------

_FORBIDDEN_TAGS = frozenset(
    "script iframe frame frameset object embed applet base form link svg math template "  # noqa: SIM905
    "portal noscript".split()
)
_URL_ATTRIBUTES = frozenset(
    "href src action formaction xlink:href srcset poster background data ping lowsrc dynsrc "  # noqa: SIM905
    "codebase cite longdesc".split()
)
_SAFE_META = re.compile(r"content-security-policy\Z", re.IGNORECASE)


def _safe_url(tag: str, name: str, value: str) -> bool:
    url = re.sub(r"[\x00-\x20]", "", value).lower()
    if name == "src" and tag == "img":
        return url.startswith("data:image/")
    if name == "href" and tag == "a":
        return not url.startswith(("javascript:", "vbscript:", "data:"))
    return False


class _ScriptStripper(HTMLParser):
    """Re-emits a document with script elements escaped and scripting attributes dropped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.parts: list[str] = []
        self._raw_text = False  # inside <style>: CSS must pass through untouched
        self._escaping = 0

    def _attributes(self, tag: str, attrs: list[tuple[str, str | None]]) -> str | None:
        kept = []
        for name, value in attrs:
            if name.startswith("on") or name == "style" and value and "url(" in value.lower():
                continue
            if name in _URL_ATTRIBUTES and not _safe_url(tag, name, value or ""):
                continue
            if tag == "meta" and name == "http-equiv" and not _SAFE_META.match(value or ""):
                return None
            kept.append(name if value is None else f'{name}="{html.escape(value, quote=True)}"')
        return "".join(f" {item}" for item in kept)

    def _start(self, tag: str, attrs: list[tuple[str, str | None]], close: str) -> None:
        attributes = self._attributes(tag, attrs)
        if tag in _FORBIDDEN_TAGS or attributes is None:
            self.parts.append(html.escape(self.get_starttag_text() or f"<{tag}>"))
            self._escaping += tag in _FORBIDDEN_TAGS and not close
            return
        self._raw_text = tag == "style" and not close
        self.parts.append(f"<{tag}{attributes}{close}>")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, "")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, " /")

    def handle_endtag(self, tag: str) -> None:
        if tag in _FORBIDDEN_TAGS:
            self.parts.append(html.escape(f"</{tag}>"))
            self._escaping = max(0, self._escaping - 1)
            return
        self._raw_text = False
        self.parts.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        if self._raw_text and not self._escaping:
            self.parts.append(data)
        else:
            self.parts.append(data.replace("<", "&lt;").replace(">", "&gt;"))

    def handle_entityref(self, name: str) -> None:
        self.parts.append(f"&{name};")

    def handle_charref(self, name: str) -> None:
        self.parts.append(f"&#{name};")

    def handle_decl(self, decl: str) -> None:
        if decl.lower() == "doctype html":
            self.parts.append(f"<!{decl}>")

    # Comments, processing instructions and CDATA sections are dropped.


def _without_script(document: str) -> str:
    stripper = _ScriptStripper()
    stripper.feed(document)
    stripper.close()
    return "".join(stripper.parts)


def warm_up() -> None:
    """Build the exporter and compile its templates now (about 0.6 s), off the critical path."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])
    nb.metadata["language_info"] = {"name": "python", "pygments_lexer": "python"}
    render_report(nb, {"run_id": "warm-up", "status": "ok", "runbook": {}})
