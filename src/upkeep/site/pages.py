"""Responsible for the Markdown of the generated pages: the dashboard, the plan's checklist, the
runbook pages (current and past versions), the run history index and one page per month.

Every builder is a plain function of the `SiteModel`. Text that comes from a run (check messages,
findings: possibly a log line) is HTML-escaped inside raw HTML blocks, so it is never read as
Markdown or markup. Links between Markdown pages are Markdown links (checked by a strict build);
links to run report pages, which are not Markdown pages, are HTML links relative to the page URL.
"""

from __future__ import annotations

import hashlib
import html
import json
import posixpath
import re
import subprocess
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from upkeep.registry import Runbook
from upkeep.site.model import FREQUENCIES, STATUS_RANK, PlanTask, RunView, SiteModel

STATUS_WORDS = {"ok": "OK", "warn": "WARN", "fail": "FAIL", "error": "ERROR", "skipped": "SKIPPED"}
CHIP_LETTERS = {"ok": "✓", "warn": "!", "fail": "✗", "error": "E", "skipped": "–"}
RECENT_RUNS = 20
STRIP_RUNS = 14

_HEADING = re.compile(r"^(#{1,5})(\s)", re.MULTILINE)
_FENCE = re.compile(r"^\s*(```|~~~)")
_SPECIAL = re.compile(r"[&<>\"']")
LATE_MARKER = "<!-- upkeep: run list -->"  # replaced after Markdown by `month_table`


# --- small pieces ---------------------------------------------------------------------------


def e(value: Any) -> str:
    """HTML-escape any value (most are plain text: those skip the five replacements)."""
    text = str(value)
    return html.escape(text, quote=True) if _SPECIAL.search(text) else text


def badge(status: str | None) -> str:
    """A status as colour and word."""
    key = status if status in STATUS_WORDS else "never"
    word = STATUS_WORDS.get(status or "", "NEVER RUN" if status is None else str(status).upper())
    return f'<span class="uk-status uk-{key}">{e(word)}</span>'


def when(moment: datetime | None, model: SiteModel) -> str:
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


def chip(run: RunView, html_root: str, model: SiteModel) -> str:
    status = run.status if run.status in CHIP_LETTERS else "error"
    mark, bad = ("", "") if run.verified else (" (DOES NOT VERIFY)", " uk-chip-bad")
    label = f"{when(run.started_at, model)}: {STATUS_WORDS.get(run.status, run.status)}{mark}"
    return (
        f'<a class="uk-chip uk-{status}{bad}" href="{run_href(run, html_root)}" title="{e(label)}" '
        f'aria-label="{e(label)}">{CHIP_LETTERS[status]}</a>'
    )


def strip(runs: Iterable[RunView], html_root: str, model: SiteModel) -> str:
    """The recent runs, oldest on the left, newest on the right."""
    chips = [chip(run, html_root, model) for run in runs]
    return f'<span class="uk-strip">{"".join(reversed(chips))}</span>' if chips else "-"


def evidence_cell(run: RunView) -> str:
    return (
        '<span class="uk-good">verifies</span>'
        if run.verified
        else ('<strong class="uk-bad">DOES NOT VERIFY</strong>')
    )


def run_summary(run: RunView) -> str:
    """One line saying what a run found: counts of checks, then what did not pass."""
    record = run.record
    if not record:
        return "run.json cannot be read"
    error = record.get("error")
    if isinstance(error, dict):
        return f"error: {error.get('ename', '')}: {error.get('evalue', '')}"[:240]
    if record.get("skipped_reason"):
        return f"skipped: {record['skipped_reason']}"[:240]
    checks = record.get("checks")
    checks = [c for c in checks if isinstance(c, dict)] if isinstance(checks, list) else []
    counts = Counter(str(c.get("status")) for c in checks)
    parts = [f"{counts[s]} {s}" for s in ("fail", "warn", "ok") if counts[s]]
    bad = [
        f"{c.get('name')}: {c.get('message') or c.get('value')}"
        for c in checks
        if c.get("status") in ("fail", "warn")
    ]
    text = ", ".join(parts) + (" — " + "; ".join(bad) if bad else "")
    return (text or "no checks")[:240]


def frontmatter(title: str, **extra: Any) -> str:
    meta = {"title": title, **extra}
    return "---\n" + "".join(f"{k}: {json.dumps(v)}\n" for k, v in meta.items()) + "---\n\n"


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return e(text).replace("|", "&#124;").replace("\n", " ")


# --- the dashboard --------------------------------------------------------------------------


def _attention(model: SiteModel, name: str) -> tuple[int, str]:
    """Sort key: failing or erroring first, then overdue, then warn, then the rest."""
    state = model.states[name]
    rank = STATUS_RANK.get(state.last_status or "", 2)
    if state.due and rank > 2:
        rank = 2
    return rank, name


def dashboard(model: SiteModel, page_url: str = "") -> str:
    """The home page body: verification banner, every runbook, then open findings."""
    root = html_root_for(page_url)
    parts = [verification_banner(model, root)]
    rows = []
    for name in sorted(model.states, key=lambda n: _attention(model, n)):
        state = model.states[name]
        last = model.by_runbook.get(name, ())
        last_cell = (
            "never"
            if not last
            else (f'<a href="{run_href(last[0], root)}">{e(when(last[0].started_at, model))}</a>')
        )
        due = ('<strong class="uk-bad">OVERDUE</strong> since ' if state.due else "") + e(
            when(state.next_due, model)
        )
        rows.append(
            f'<tr><td><a href="{root}runbooks/{e(name)}/">{e(state.runbook.title)}</a><br>'
            f"<code>{e(name)}</code></td><td>{e(state.runbook.cadence)}</td>"
            f"<td>{badge(state.last_status)}</td><td>{last_cell}</td><td>{due}</td>"
            f"<td>{strip(last[:STRIP_RUNS], root, model)}</td></tr>"
        )
    parts.append(
        '<table class="uk-table uk-dashboard"><thead><tr><th>Runbook</th><th>Cadence</th>'
        "<th>Last status</th><th>Last run</th><th>Next due</th><th>Recent runs</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
        if rows
        else "<p>No runbooks yet.</p>"
    )
    parts.append("\n## Open findings\n")
    parts.append(open_findings(model, root))
    return "\n\n".join(parts) + "\n"


def verification_banner(model: SiteModel, root: str) -> str:
    bad = model.unverified
    if not bad and not model.stray_problems:
        return (
            f'<p class="uk-note">Evidence verifies: all {len(model.runs)} runs match the '
            f"ledger (checked {e(when(model.built_at, model))}).</p>"
        )
    links = ", ".join(f'<a href="{run_href(r, root)}">{e(r.run_id)}</a>' for r in bad[:20])
    more = f" and {len(bad) - 20} more" if len(bad) > 20 else ""
    strays = "".join(f"<li>{e(p)}</li>" for p in model.stray_problems[:20])
    return (
        f'<div class="uk-alert" role="alert"><strong>Evidence does NOT verify:</strong> '
        f"{len(bad)} run(s) do not match the ledger{': ' + links + more if bad else ''}."
        f"{'<ul>' + strays + '</ul>' if strays else ''}</div>"
    )


def open_findings(model: SiteModel, root: str) -> str:
    """Findings of each runbook's latest run: what is still open."""
    rows = []
    order = {"fail": 0, "warn": 1, "info": 2}
    for name in sorted(model.states, key=lambda n: _attention(model, n)):
        runs = model.by_runbook.get(name, ())
        if not runs:
            continue
        findings = runs[0].record.get("findings")
        findings = (
            [f for f in findings if isinstance(f, dict)] if isinstance(findings, list) else []
        )
        for finding in sorted(findings, key=lambda f: order.get(f.get("severity"), 3)):
            rows.append(
                f"<tr><td>{badge(finding.get('severity'))}</td><td>{e(name)}</td>"
                f"<td><code>{e(finding.get('key', ''))}</code></td>"
                f"<td>{e(str(finding.get('message', ''))[:300])}</td>"
                f'<td><a href="{run_href(runs[0], root)}">{e(runs[0].run_id)}</a></td></tr>'
            )
    if not rows:
        return "<p>No open findings: the latest run of every runbook found nothing.</p>"
    return (
        '<table class="uk-table"><thead><tr><th>Severity</th><th>Runbook</th><th>Key</th>'
        f"<th>Finding</th><th>Run</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


# --- the plan's checklist -------------------------------------------------------------------


def checklist(model: SiteModel, tasks: tuple[PlanTask, ...], page_src: str) -> str:
    """The plan's checklist: each task with the runbooks that implement it and their status."""
    order = {f: i for i, f in enumerate(FREQUENCIES)}
    matched: set[str] = set()
    lines = [
        "| Frequency | Task category | Description | Reference docs | Runbook | Status |",
        "|---|---|---|---|---|---|",
    ]
    for task in sorted(tasks, key=lambda t: order[t.frequency]):
        runbooks = [
            rb
            for rb in model.registry.values()
            if rb.category == task.category and rb.cadence == task.frequency
        ]
        matched.update(rb.name for rb in runbooks)
        refs = ", ".join(
            f"[{_cell(ref.removesuffix('.md'))}]({md_link(page_src, 'reference/' + ref)})"
            for ref in task.references
        )
        lead = f"| {task.frequency} | {_cell(task.category)} | {_cell(task.description)} | {refs} |"
        if not runbooks:
            lines.append(f"{lead} *no runbook yet* | - |")
        for rb in runbooks:
            lines.append(f"{lead} {_runbook_link(rb, page_src)} | {_live_status(model, rb)} |")
    extra = [rb for rb in model.registry.values() if rb.name not in matched]
    for rb in sorted(extra, key=lambda r: (order.get(r.cadence, 9), r.name)):
        refs = ", ".join(
            f"[{_cell(ref.removesuffix('.md'))}]({md_link(page_src, 'reference/' + ref)})"
            for ref in rb.references
        )
        lines.append(
            f"| {_cell(rb.cadence)} | {_cell(rb.category)} | {_cell(rb.summary)} "
            f"*(not a task of the plan)* | {refs} | {_runbook_link(rb, page_src)} | "
            f"{_live_status(model, rb)} |"
        )
    return "\n".join(lines) + "\n"


def _runbook_link(runbook: Runbook, page_src: str) -> str:
    return f"[{_cell(runbook.title)}]({md_link(page_src, f'runbooks/{runbook.name}.md')})"


def _live_status(model: SiteModel, runbook: Runbook) -> str:
    state = model.states[runbook.name]
    text = badge(state.last_status)
    if state.last_run_at is not None:
        text += f" {e(when(state.last_run_at, model))}"
    if state.due:
        text += ' <strong class="uk-bad">overdue</strong>'
    return text


# --- runbook pages --------------------------------------------------------------------------


def runbooks_index(model: SiteModel) -> str:
    lines = [
        frontmatter("Runbooks"),
        "# Runbooks\n",
        "Every maintenance procedure is a notebook under `runbooks/`. Each page shows why it "
        "exists, the steps to follow by hand, its parameters, how to run it and its recent runs.\n",
        "| Runbook | Cadence | Category | Owner | Last status |",
        "|---|---|---|---|---|",
    ]
    for runbook in model.registry.values():
        lines.append(
            f"| [{_cell(runbook.title)}]({runbook.name}.md)<br>`{runbook.name}` | "
            f"{_cell(runbook.cadence)} | {_cell(runbook.category)} | {_cell(runbook.owner)} | "
            f"{badge(model.states[runbook.name].last_status)} |"
        )
    return "\n".join(lines) + "\n"


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
        f"# {runbook.title}\n",
        f"{runbook.summary}\n",
        _facts_table(model, runbook, src, version, state),
        "## How to run it\n",
        f"```sh\n{run_command(runbook)}\n```\n",
        "## Parameters\n",
        parameters_table(runbook),
        "## Procedure\n",
        notebook_markdown(json.loads(runbook.path.read_bytes())),
        "## Recent runs\n",
        recent_runs(model, model.by_runbook.get(runbook.name, ())[:RECENT_RUNS], "../../"),
    ]
    older = _older_versions(runbook, versions)
    if older:
        parts += ["## Earlier versions seen in the evidence\n", older]
    return "\n".join(parts)


def _facts_table(model: SiteModel, runbook: Runbook, src: str, version: str, state: Any) -> str:
    refs = (
        ", ".join(
            f"[{_cell(r.removesuffix('.md'))}]({md_link(src, 'reference/' + r)})"
            for r in runbook.references
        )
        or "-"
    )
    last = badge(state.last_status) + (
        f" {when(state.last_run_at, model)}" if state.last_run_at else ""
    )
    due = ("**overdue** since " if state.due else "") + when(state.next_due, model)
    rows = [
        ("Name", f"`{runbook.name}`"),
        ("Cadence", _cell(runbook.cadence)),
        ("Category", _cell(runbook.category)),
        ("Owner", _cell(runbook.owner)),
        ("Destructive", "**yes**" if runbook.destructive else "no"),
        ("Timeout", f"{runbook.timeout_s or model.config.timeout_s} s"),
        ("References", refs),
        ("Notebook", f"`{runbook.relpath}`, version {version}"),
        ("Last run", last),
        ("Next due", due),
    ]
    return "| | |\n|---|---|\n" + "".join(f"| {k} | {v} |\n" for k, v in rows)


def run_command(runbook: Runbook) -> str:
    """The command that runs it now with its defaults spelled out (secrets as references)."""
    args = []
    for spec in runbook.params:
        value = spec.default
        if spec.secret:
            value = value or "env:NAME"
        text = json.dumps(value) if isinstance(value, list | dict) else str(value)
        args.append(f"-p {spec.name}={_shell_quote(text)}")
    return " ".join(["upkeep run", runbook.name, *args])


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
            f"| `{spec.name}` | {spec.type} | <code>{_cell(repr(spec.default))}</code> | "
            f"{_cell(spec.help) or '-'} | {_cell(spec.describe_constraints()) or '-'} |"
        )
    return "\n".join(lines) + "\n"


def notebook_markdown(nb: dict[str, Any]) -> str:
    """The notebook's cells as a document: markdown as is (headings one level down, the first
    title dropped), code as fenced blocks; no outputs, no papermill-injected cell."""
    parts = []
    for index, cell in enumerate(nb.get("cells", [])):
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        tags = cell.get("metadata", {}).get("tags", [])
        if "injected-parameters" in tags or not source.strip():
            continue
        if cell.get("cell_type") == "markdown":
            if index == 0:
                source = re.sub(r"\A\s*# [^\n]*\n?", "", source)
            parts.append(_shift_headings(source))
        elif cell.get("cell_type") == "code":
            label = "parameters (defaults)" if "parameters" in tags else ""
            parts.append(_fenced(source, label))
    return "\n\n".join(parts) + "\n"


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
        f'<tr><td><a href="{run_href(run, root)}">{e(when(run.started_at, model))}</a></td>'
        f"<td>{badge(run.status)}</td><td>{evidence_cell(run)}</td>"
        f"<td>{e(run_summary(run))}</td></tr>"
        for run in runs
    ]
    if not rows:
        return "No runs yet.\n"
    return (
        '<table class="uk-table"><thead><tr><th>Started</th><th>Status</th><th>Evidence</th>'
        f"<th>Summary</th></tr></thead><tbody>{''.join(rows)}</tbody></table>\n"
    )


def _older_versions(runbook: Runbook, versions: set[str]) -> str:
    older = sorted(v for v in versions if v != runbook.sha256[:12])
    return "".join(f"- [`{v}`]({runbook.name}/{v}.md)\n" for v in older)


# --- runbook versions -------------------------------------------------------------------------


def runbook_versions(model: SiteModel) -> dict[tuple[str, str], RunView]:
    """Each (runbook, sha12) seen in the evidence, with the latest run of that version."""
    seen: dict[tuple[str, str], RunView] = {}
    for run in model.runs:
        if run.sha12 is not None:
            seen[(run.runbook, run.sha12)] = run
    return seen


def version_page(model: SiteModel, name: str, sha12: str, run: RunView) -> str:
    """`runbooks/<name>/<sha12>.md`: the runbook as it was when `run` ran it."""
    nb, source = _version_notebook(model, name, run)
    current = model.registry.get(name)
    title = run.title
    lines = [
        frontmatter(f"{title} at {sha12}", search={"exclude": True}),
        f"# {title} — version `{sha12}`\n",
        f"The runbook `{name}` as it was when runs with this version ran "
        f"(sha256 of the notebook starts with `{sha12}`).\n",
        f"Source of this page: {source}.\n",
    ]
    if current is not None:
        note = (
            "This is the current version."
            if current.sha256[:12] == sha12
            else (f"The current version is `{current.sha256[:12]}`.")
        )
        lines.append(f"{note} [The runbook's page](../{name}.md).\n")
    if nb is None:
        lines.append("*Neither the notebook of this version nor a run's copy could be read.*\n")
    else:
        lines += ["## Procedure\n", notebook_markdown(nb)]
    return "\n".join(lines)


def _version_notebook(model: SiteModel, name: str, run: RunView) -> tuple[dict | None, str]:
    """The notebook of a version: the current file, else git, else the run's executed copy."""
    wanted = run.runbook_record.get("sha256", "")
    current = model.registry.get(name)
    if current is not None and current.sha256 == wanted:
        return json.loads(current.path.read_bytes()), f"the current notebook `{current.relpath}`"
    from_git = _git_notebook(model, run.runbook_record, wanted)
    if from_git is not None:
        return from_git
    try:
        path = model.config.evidence_dir / run.relpath / "notebook.ipynb"
        return json.loads(path.read_bytes()), f"the executed notebook of run `{run.run_id}`"
    except (OSError, ValueError):
        return None, "not available"


def _git_notebook(model: SiteModel, runbook: dict, wanted: str) -> tuple[dict, str] | None:
    commit, path = runbook.get("git_commit"), runbook.get("path")
    if not (isinstance(commit, str) and isinstance(path, str)) or runbook.get("git_dirty"):
        return None
    try:
        blob = subprocess.run(
            ["git", "-C", str(model.config.root), "show", f"{commit}:{path}"],
            capture_output=True,
            check=True,
            timeout=10,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    if hashlib.sha256(blob).hexdigest() != wanted:
        return None
    return json.loads(blob), f"`{path}` at git commit `{commit[:12]}`"


# --- run history ----------------------------------------------------------------------------


def _month_title(month: str) -> str:
    return datetime.strptime(month, "%Y/%m").strftime("%B %Y")


def runs_index(model: SiteModel) -> str:
    lines = [frontmatter("Run history"), "# Run history\n"]
    lines.append(verification_banner(model, "../") + "\n")
    if not model.by_month:
        return "\n".join(lines + ["No runs yet.\n"])
    lines += ["| Month | Runs | Statuses | Evidence |", "|---|---|---|---|"]
    for month, runs in sorted(model.by_month.items(), reverse=True):
        counts = Counter(run.status for run in runs)
        statuses = " ".join(f"{badge(s)} {counts[s]}" for s in sorted(counts, key=_rank))
        bad = sum(not run.verified for run in runs)
        evidence_text = (
            f'<strong class="uk-bad">{bad} DO NOT VERIFY</strong>' if bad else "verifies"
        )
        lines.append(
            f"| [{_month_title(month)}]({month}.md) | {len(runs)} | {statuses} | {evidence_text} |"
        )
    return "\n".join(lines) + "\n"


def _rank(status: str) -> int:
    return STATUS_RANK.get(status, 2)


def month_page(model: SiteModel, month: str, neighbours: tuple[str | None, str | None]) -> str:
    """`runs/YYYY/MM.md`: every run of the month with its summary (what search finds)."""
    runs = model.by_month[month]
    src = f"runs/{month}.md"
    lines = [frontmatter(f"Runs of {_month_title(month)}"), f"# Runs of {_month_title(month)}\n"]
    links = [
        f"[← {_month_title(m)}]({md_link(src, f'runs/{m}.md')})"
        if i == 0
        else f"[{_month_title(m)} →]({md_link(src, f'runs/{m}.md')})"
        for i, m in enumerate(neighbours)
        if m
    ]
    lines.append(" · ".join(links + ["[All months](../index.md)"]) + "\n")
    bad = [run for run in runs if not run.verified]
    if bad:
        lines.append(
            f'<p class="uk-alert"><strong>{len(bad)} run(s) of this month do NOT verify.</strong>'
            "</p>\n"
        )
    lines.append(LATE_MARKER + "\n")
    return "\n".join(lines)


def month_table(model: SiteModel, month: str) -> str:
    """The month's runs as HTML, put in after Markdown: thousands of rows a year are plain HTML,
    and Markdown's raw-HTML handling would only cost time. Lean markup: search parses it."""
    rows = []
    for run in model.by_month[month]:
        flag = "" if run.verified else ' <strong class="uk-bad">DOES NOT VERIFY</strong>'
        rows.append(
            f'<tr><td><a href="{e(run.run_id)}/">{e(when(run.started_at, model))}</a></td>'
            f"<td>{e(run.runbook)}</td><td>{badge(run.status)}{flag}</td>"
            f"<td>{e(run_summary(run))}</td></tr>"
        )
    return (
        '<table class="uk-table"><thead><tr><th>Started</th><th>Runbook</th><th>Status</th>'
        f"<th>Summary</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
