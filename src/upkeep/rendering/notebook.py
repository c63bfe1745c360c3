"""Responsible for the notebook part of a report: every output cut down to plain text and
PNG/JPEG images before nbconvert's `basic` template sees it (notebook outputs are untrusted: a
log line or a database row can carry markup), and the HTML it makes passed through an
allow-list sanitizer. One exporter per process, built once and shared under a lock.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Mapping
from typing import Any

import bleach
import nbformat
from nbconvert import HTMLExporter
from nbformat import NotebookNode
from pygments.formatters import HtmlFormatter
from traitlets.config import Config

FAILED_CELL_TAG = "upkeep-failed"
_KEPT_IMAGES = ("image/png", "image/jpeg")
# Shown as escaped text when an output has nothing safer, most readable first.
_TEXT_FALLBACK_ORDER = ("text/markdown", "application/json", "text/latex", "text/html")

_exporter: HTMLExporter | None = None
_exporter_lock = threading.Lock()


def _skip_per_cell_cleaning(html_text: Any) -> str:
    """nbconvert's `clean_html` filter, disabled: the whole body is cleaned once, more strictly,
    in `notebook_html`."""
    return str(html_text)


def _get_exporter() -> HTMLExporter:
    """The one exporter of this process; call with `_exporter_lock` held."""
    global _exporter
    if _exporter is None:
        config = Config()
        # Its CSS goes unused by the basic template; skip reading custom.css on every render.
        config.CSSHTMLHeaderPreprocessor.enabled = False
        _exporter = HTMLExporter(
            template_name="basic", config=config, filters={"clean_html": _skip_per_cell_cleaning}
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


def notebook_html(nb: NotebookNode, failed_cell: int | None) -> str:
    """The notebook as sanitized HTML: safe outputs only, `failed_cell` tagged so that its code
    shows even in the auditor's view."""
    safe = _safe_notebook(nb, failed_cell)
    # Neither the exporter nor a bleach Cleaner is safe to share between threads.
    with _exporter_lock:
        body, _ = _get_exporter().from_notebook_node(safe)
        return _cleaner.clean(body)


@functools.cache
def pygments_css() -> str:
    """The stylesheet of the code view's syntax highlighting."""
    return HtmlFormatter(style="default").get_style_defs(".highlight")


def warm_up() -> None:
    """Build the exporter and compile its templates now (about 0.6 s), off the critical path."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])
    nb.metadata["language_info"] = {"name": "python", "pygments_lexer": "python"}
    notebook_html(nb, None)
    pygments_css()
