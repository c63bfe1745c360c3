"""Responsible for the runbook pages: the index of runbooks (the ones that cannot run listed with
their problem), and one page per runbook built from its notebook — why, facts, the command that
runs it on this config, its parameters, its steps as Markdown and code without outputs (and never
the papermill-injected cell or papermill's error markers), its recent runs and the earlier
versions seen in the evidence. A `{{ key }}` in a runbook's Markdown (`{{ logs.app.path }}`) is
filled with this system's value from upkeep.yml (`upkeep.config.lookup`), so by-hand commands
show the configured paths. A relative link in a runbook's Markdown points beside the notebook,
not into the site: a link to another runbook's notebook becomes a link to its page, any other
becomes its text, so the strict build never breaks on one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Iterable
from pathlib import Path, PurePosixPath
from typing import Any

from upkeep.config import SHIPPED_RUNBOOKS, Config
from upkeep.config.lookup import KEY, NotConfigured, UnknownKey, config_value
from upkeep.masking import mask_sensitive
from upkeep.package_files import SHIPPED_RUNBOOKS_DIR
from upkeep.plan import RunbookState
from upkeep.registry import Runbook
from upkeep.site.markup import (
    escape_html,
    evidence_cell,
    frontmatter,
    inert_markdown,
    last_status,
    md_link,
    next_due,
    run_href,
    run_status,
    run_summary,
    table_cell,
    when,
)
from upkeep.site.model import RunView, SiteModel
from upkeep.site.script_pages import scripts_section

RECENT_RUNS = 20
PLACEHOLDER = re.compile(r"\{\{\s*(?P<key>" + KEY.pattern + r")\s*\}\}")
_UNSHOWABLE = re.compile(r"[`<>\n]")
_HEADING = re.compile(r"^(#{1,5})(\s)", re.MULTILINE)
_FENCE = re.compile(r"^\s*(```|~~~)")
# papermill's tag on the "An Exception was encountered" cells it adds to a failed notebook
PAPERMILL_ERROR_MARKER = "papermill-error-cell-tag"
_INLINE_LINK = re.compile(
    r"(?P<bang>!?)\[(?P<text>[^\]]*)\]"  # [text] or ![alt]
    r"\(\s*<?(?P<target>[^\s()<>]*)>?(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)"  # (target "title")
)
_REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[(?P<label>[^\]]+)\]:\s*<?(?P<target>[^\s>]+)>?.*$")
_REFERENCE_LINK = re.compile(r"\[(?P<text>[^\]]+)\]\[(?P<label>[^\]]*)\]")
_CODE_SPAN = re.compile(r"(`+).+?\1")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_SCRIPT_SCHEME = re.compile(r"^[\x00-\x20]*(?:javascript|vbscript|data)[\x00-\x20]*:", re.I)
_NETWORK = re.compile(r"^(?:https?:)?//", re.I)
_SCRIPT_LINK = re.compile(
    r"\]\(\s*<?(?=[\x00-\x20]*(?:javascript|vbscript|data)[\x00-\x20]*:)", re.I
)
# The start of raw HTML; not an autolink of Markdown's own (`<https://…>`, `<ops@example.com>`).
_TAG_START = re.compile(
    r"<(?=[A-Za-z/!?])(?!(?:https?|ftp)://[^<>\s]*>)(?![^<>\s!]+@[^@<>\s]+>)", re.I
)


def runbooks_index(model: SiteModel) -> str:
    folders = ", ".join(f"`{_folder_label(folder)}`" for folder in model.config.runbooks_dir)
    lines = [
        frontmatter("Runbooks"),
        "# Runbooks\n",
        f"Every maintenance procedure is a notebook, found in {folders} (`runbooks_dir` in "
        f"`{model.config.path}`). Each page shows why it exists, the steps to follow by hand, "
        "its parameters, how to run it and its recent runs.\n",
        "| Runbook | Cadence | Category | Owner | Last status |",
        "|---|---|---|---|---|",
    ]
    for runbook in model.registry.values():
        lines.append(
            f"| [{table_cell(runbook.title)}]({runbook.name}.md)<br>`{runbook.name}` | "
            f"{table_cell(runbook.cadence)} | {table_cell(runbook.category)} | "
            f"{table_cell(runbook.owner)} | "
            f"{last_status(model.states[runbook.name])} |"
        )
    if model.registry.invalid:
        lines += [
            "\n## Runbooks that cannot run\n",
            "Every other runbook runs; these do not until their problem is fixed "
            "(`upkeep check` lists every problem).\n",
            "| Runbook | Problem |",
            "|---|---|",
        ]
        for item in model.registry.invalid.values():
            lines.append(f"| `{item.name}` | {table_cell(item.message)} |")
    return "\n".join(lines) + "\n"


def _folder_label(folder: Path) -> str:
    return SHIPPED_RUNBOOKS if folder == SHIPPED_RUNBOOKS_DIR else str(folder)


def runbook_page(model: SiteModel, runbook: Runbook, versions: set[str]) -> str:
    """`runbooks/<name>.md`: the runbook as it is now, with its recent runs."""
    src = f"runbooks/{runbook.name}.md"
    state = model.states[runbook.name]
    sha12 = runbook.sha256[:12]
    version = f"`{sha12}`" + (
        f" ([this version's page]({runbook.name}/{sha12}.md))" if sha12 in versions else ""
    )
    parts = [
        frontmatter(runbook.title),
        f"# {inert_markdown(runbook.title)}\n",
        f"{inert_markdown(runbook.summary)}\n",
        _facts_table(model, runbook, src, version, state),
        "## How to run it\n",
        f"```sh\n{run_command(runbook, model.config.path)}\n```\n",
        "## Parameters\n",
        parameters_table(runbook),
        "## Procedure\n",
        notebook_markdown(json.loads(runbook.path.read_bytes()), model.registry, "", model.config),
        scripts_section(runbook.path.read_text(encoding="utf-8"), "../"),
        "## Recent runs\n",
        recent_runs(model, model.by_runbook.get(runbook.name, ())[:RECENT_RUNS], "../../"),
    ]
    older = _older_versions(runbook, versions)
    if older:
        parts += ["## Earlier versions seen in the evidence\n", older]
    return "\n".join(parts)


def _facts_table(
    model: SiteModel, runbook: Runbook, src: str, version: str, state: RunbookState
) -> str:
    refs = (
        ", ".join(
            f"[{table_cell(r.removesuffix('.md'))}]({md_link(src, 'reference/' + r)})"
            for r in runbook.references
        )
        or "-"
    )
    last = last_status(state) + (f" {when(state.last_run_at, model)}" if state.last_run_at else "")
    rows = [
        ("Name", f"`{runbook.name}`"),
        ("Cadence", table_cell(runbook.cadence)),
        ("Category", table_cell(runbook.category)),
        ("Owner", table_cell(runbook.owner)),
        ("Destructive", "**yes**" if runbook.destructive else "no"),
        ("Timeout", f"{runbook.timeout_s or model.config.timeout_s} s"),
        ("References", refs),
        ("Notebook", f"`{runbook.relpath}`, version {version}"),
        ("Last run", last),
        ("Next due", next_due(state, model)),
    ]
    return "| | |\n|---|---|\n" + "".join(f"| {k} | {v} |\n" for k, v in rows)


def run_command(runbook: Runbook, config_path: Path | None = None) -> str:
    """The command that runs it now on the config at `config_path` with its defaults spelled
    out (secrets as references; a default the runbook computes is left to it)."""
    args = []
    for spec in runbook.params:
        if spec.default_expression is not None:
            continue
        value = spec.default
        if spec.secret:
            value = value or "env:NAME"
        text = json.dumps(value) if isinstance(value, list | dict) else str(value)
        args.append(f"-p {spec.name}={_shell_quote(text)}")
    config = [] if config_path is None else ["--config", _shell_quote(str(config_path))]
    return " ".join(["upkeep", *config, "run", runbook.name, *args])


def _shell_quote(text: str) -> str:
    if text and re.fullmatch(r"[A-Za-z0-9_./:=@%+-]+", text):
        return text
    return "'" + text.replace("'", "'\\''") + "'"


def parameters_table(runbook: Runbook) -> str:
    if not runbook.params:
        return "This runbook takes no parameters.\n"
    lines = ["| Name | Type | Default | Help | Constraints |", "|---|---|---|---|---|"]
    for spec in runbook.params:
        lines.append(
            f"| `{spec.name}` | {table_cell(spec.type_label)} | "
            f"<code>{table_cell(spec.default_label)}</code> | "
            f"{table_cell(spec.help) or '-'} | {table_cell(spec.describe_constraints()) or '-'} |"
        )
    return "\n".join(lines) + "\n"


def notebook_markdown(
    nb: dict[str, Any],
    runbook_names: Collection[str] = (),
    to_runbook_pages: str = "",
    config: Config | None = None,
) -> str:
    """The notebook's cells as a document: markdown as is (headings one level down, the first
    title dropped, `{{ key }}` filled from `config` when given, relative links to a runbook in
    `runbook_names` made links to its page, found at `to_runbook_pages` from this page, and other
    relative links made text), code as fenced blocks; no outputs, no papermill-injected cell, no
    papermill error marker."""
    parts = []
    for index, cell in enumerate(nb.get("cells", [])):
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        tags = cell.get("metadata", {}).get("tags", [])
        if "injected-parameters" in tags or PAPERMILL_ERROR_MARKER in tags or not source.strip():
            continue
        if cell.get("cell_type") == "markdown":
            if index == 0:
                source = re.sub(r"\A\s*# [^\n]*\n?", "", source)
            if config is not None:
                source = fill_placeholders(source, config)
            source = _site_links(source, runbook_names, to_runbook_pages)
            parts.append(_shift_headings(_outside_code(source, _inert_html)))
        elif cell.get("cell_type") == "code":
            label = "parameters (defaults)" if "parameters" in tags else ""
            parts.append(_fenced(source, label))
    return "\n\n".join(parts) + "\n"


def fill_placeholders(text: str, config: Config) -> str:
    """`text` with each `{{ key }}` naming a value of upkeep.yml replaced by this config's value
    (masked as evidence is); one the config does not set says so (`«not configured: key»`);
    one naming nothing upkeep.yml can hold is left as written (`upkeep check` reports it)."""

    def value(match: re.Match[str]) -> str:
        key = match["key"]
        try:
            text = config_value(config, key)
        except UnknownKey:
            return match[0]
        except NotConfigured:
            return f"«not configured: {key}»"
        if _UNSHOWABLE.search(text):
            return f"«not shown: {key}»"  # it would break out of the code or line it is in
        return mask_sensitive(text)

    return PLACEHOLDER.sub(value, text)


def placeholders(nb: dict[str, Any]) -> list[str]:
    """The keys of the `{{ key }}` placeholders in the notebook's Markdown cells, in order."""
    keys = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else str(source)
            keys += [match["key"] for match in PLACEHOLDER.finditer(source)]
    return keys


def _site_links(text: str, runbook_names: Collection[str], to_runbook_pages: str) -> str:
    """Relative links of runbook Markdown, outside code, pointed at runbook pages or made text."""

    def page_of(target: str, image: bool = False) -> str | None:
        """The page a target links to: None for a target left as it is, "" for none (a
        script's scheme, and an image from the network: the site runs and loads neither)."""
        if _SCRIPT_SCHEME.match(target) or (image and _NETWORK.match(target)):
            return ""
        if not target or target.startswith(("#", "/")) or _SCHEME.match(target):
            return None
        path = PurePosixPath(target.split("#", 1)[0].split("?", 1)[0])
        if path.suffix == ".ipynb" and path.stem in runbook_names:
            return f"{to_runbook_pages}{path.stem}.md"
        return ""

    def inline(match: re.Match[str]) -> str:
        page = page_of(match["target"], image=bool(match["bang"]))
        if page is None:
            return match[0]
        if not page or match["bang"]:
            return match["text"]
        return f"[{match['text']}]({page})"

    dropped: set[str] = set()

    def definition(match: re.Match[str]) -> str:
        page = page_of(match["target"])
        if page is None:
            return match[0]
        if not page:
            dropped.add(match["label"].lower())
            return ""
        return f"[{match['label']}]: {page}"

    def reference(match: re.Match[str]) -> str:
        label = (match["label"] or match["text"]).lower()
        return match["text"] if label in dropped else match[0]

    text = _outside_code(text, lambda line: _REFERENCE_DEFINITION.sub(definition, line))
    return _outside_code(
        text, lambda line: _REFERENCE_LINK.sub(reference, _INLINE_LINK.sub(inline, line))
    )


def _inert_html(text: str) -> str:
    """Raw HTML shown as text: a runbook's page runs no script of its Markdown and loads
    nothing from outside (`<script>`, `<iframe>`, `<img src=https://…>`, an `onload=`); a
    placeholder in prose (`restore <database>`) is shown, not swallowed as an unknown tag. A
    link to a script's scheme the link rewriting could not take apart (parentheses in it:
    `javascript:alert(1)`) becomes a link to the top of this page."""
    text = _TAG_START.sub("&lt;", text)
    parts, at = [], 0
    for match in _SCRIPT_LINK.finditer(text):
        if match.start() < at:
            continue
        depth, end = 1, match.end()  # to the parenthesis that closes the link's target
        while end < len(text) and depth:
            depth += {"(": 1, ")": -1}.get(text[end], 0)
            end += 1
        parts += [text[at : match.start()], "](#)"]
        at = end
    parts.append(text[at:])
    return "".join(parts)


def _outside_code(text: str, rewrite: Callable[[str], str]) -> str:
    """`text` with `rewrite` applied to each line outside fenced blocks, and within a line to
    the parts outside code spans (an indented line is rewritten too: in a list it is text)."""
    out, in_fence = [], False
    for line in text.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
            out.append(line)
        elif in_fence:
            out.append(line)
        else:
            pieces, last = [], 0
            for span in _CODE_SPAN.finditer(line):
                pieces += [rewrite(line[last : span.start()]), span[0]]
                last = span.end()
            out.append("".join([*pieces, rewrite(line[last:])]))
    return "\n".join(out)


def _fenced(source: str, label: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", source)), default=0)
    fence = "`" * max(3, longest + 1)
    title = f' title="{label}"' if label else ""
    return f"{fence}python{title}\n{source.rstrip()}\n{fence}"


def _shift_headings(text: str) -> str:
    out, in_fence = [], False
    for line in text.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
        out.append(line if in_fence else _HEADING.sub(r"#\1\2", line))
    return "\n".join(out)


def recent_runs(model: SiteModel, runs: Iterable[RunView], root: str) -> str:
    rows = [
        f'<tr><td><a href="{run_href(run, root)}">{escape_html(when(run.started_at, model))}'
        f"</a></td><td>{run_status(run)}</td><td>{evidence_cell(run)}</td>"
        f"<td>{escape_html(run_summary(run))}</td></tr>"
        for run in runs
    ]
    if not rows:
        return "No runs yet.\n"
    return (
        '<table class="uk-table"><thead><tr><th>Started</th><th>Status</th><th>Evidence</th>'
        f"<th>Summary</th></tr></thead><tbody>{''.join(rows)}</tbody></table>\n"
    )


def _older_versions(runbook: Runbook, versions: set[str]) -> str:
    older = sorted(version for version in versions if version != runbook.sha256[:12])
    return "".join(f"- [`{version}`]({runbook.name}/{version}.md)\n" for version in older)
