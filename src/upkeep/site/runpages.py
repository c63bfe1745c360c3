"""Responsible for the run report pages, `runs/YYYY/MM/<run_id>/`: small static HTML written
straight into the built site, one per run, plus a byte-for-byte copy of the run's report.html.

They bypass MkDocs' Markdown and theme on purpose: years of nightly runs are thousands of pages,
and Material repeats its navigation and search on each page it renders. A run page links the
shared stylesheet and the site, stays out of the navigation and the search index (its month page
carries its summary there), and shows in red when its evidence does not verify.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from upkeep.site.assets import STYLESHEET_URI
from upkeep.site.model import RunView, SiteModel
from upkeep.site.pages import STATUS_WORDS, badge, e, when

REPORT = "report.html"
ROOT = "../../../../"  # from runs/YYYY/MM/<run_id>/ back to the site root


def write_run_pages(model: SiteModel, site_dir: Path) -> int:
    """Write every run's page (and its report copy) under `site_dir`; return the bytes written."""
    written = 0
    for run in model.runs:
        target = site_dir / run.relpath
        target.mkdir(parents=True, exist_ok=True)
        page = run_page(model, run).encode()
        (target / "index.html").write_bytes(page)
        written += len(page)
        written += _copy_report(model.config.evidence_dir / run.relpath / REPORT, target / REPORT)
    return written


def _copy_report(source: Path, target: Path) -> int:
    # Copied as is, never rewritten: an auditor can hash the site's copy against run.json.
    try:
        shutil.copyfile(source, target, follow_symlinks=False)
    except OSError:
        return 0
    return os.path.getsize(target)


def run_page(model: SiteModel, run: RunView) -> str:
    """The HTML of one run's page."""
    record = run.record
    title = run.title
    word = STATUS_WORDS.get(run.status, run.status.upper())
    body = [
        _breadcrumbs(model, run, title),
        f"<h1>{badge(run.status)} {e(title)}</h1>",
        _verification(run),
        _facts(model, run),
        _section("Checks", _checks(record.get("checks"))),
        _section("Metrics", _metrics(record.get("metrics"))),
        _section("Findings", _findings(record.get("findings"))),
        _error(record.get("error"), record.get("skipped_reason")),
        _section("Parameters", _parameters(record)),
        _section("Artifacts", _artifacts(run)),
        _report(run),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(word)} — {e(title)} — {e(run.run_id)}</title>"
        f'<link rel="stylesheet" href="{ROOT}{STYLESHEET_URI}"></head>\n'
        f'<body class="uk-run">{"".join(part for part in body if part)}</body></html>\n'
    )


def _breadcrumbs(model: SiteModel, run: RunView, title: str) -> str:
    year, month = run.month.split("/")
    runbook = (
        f' › <a href="{ROOT}runbooks/{e(run.runbook)}/">{e(title)}</a>'
        if run.runbook in model.registry
        else ""
    )
    return (
        f'<nav><a href="{ROOT}">Dashboard</a> › <a href="{ROOT}runs/">Run history</a> › '
        f'<a href="../">{year}-{month}</a>{runbook}</nav>'
    )


def _verification(run: RunView) -> str:
    if run.verified:
        return (
            '<p class="uk-note">Evidence verifies: run.json and every artifact match the '
            "ledger.</p>"
        )
    items = "".join(f"<li>{e(message)}</li>" for message in run.problems)
    return (
        '<div class="uk-alert" role="alert"><strong>This run\'s evidence does NOT verify.</strong> '
        f"What it shows below may have been altered after the run.<ul>{items}</ul></div>"
    )


def _facts(model: SiteModel, run: RunView) -> str:
    record = run.record
    runbook = run.runbook_record
    version = (
        f'<a href="{ROOT}runbooks/{run.runbook}/{run.sha12}/"><code>{run.sha12}</code></a>'
        if run.sha12
        else "not recorded"
    )
    if runbook.get("git_commit"):
        dirty = " (with uncommitted changes)" if runbook.get("git_dirty") else ""
        version += f", git commit <code>{e(str(runbook['git_commit'])[:12])}</code>{dirty}"
    duration = record.get("duration_s")
    rows = [
        ("Run id", f"<code>{e(run.run_id)}</code>"),
        ("Runbook", f"<code>{e(run.runbook)}</code> version {version}"),
        ("Status", badge(run.status)),
        ("Started", e(when(run.started_at, model))),
        ("Duration", e(f"{duration:.1f} s") if isinstance(duration, int | float) else "-"),
        ("Trigger", e(record.get("trigger", "-"))),
        ("Host", e(_mapping(record.get("host")).get("name", "-"))),
    ]
    return _table(("", ""), [f"<th>{k}</th><td>{v}</td>" for k, v in rows], head=False)


def _table(headers: tuple[str, ...], rows: list[str], head: bool = True) -> str:
    thead = "<thead><tr>" + "".join(f"<th>{h}</th>" for h in headers) + "</tr></thead>"
    body = "".join(f"<tr>{row}</tr>" for row in rows)
    return f'<table class="uk-table">{thead if head else ""}<tbody>{body}</tbody></table>'


def _section(title: str, content: str) -> str:
    return f"<h2>{title}</h2>{content}"


def _items(value: Any) -> list[dict[str, Any]]:
    # run.json is evidence, not trusted input: anything malformed shows as absent.
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _checks(checks: Any) -> str:
    rows = [
        f"<td>{badge(c.get('status'))}</td><td><code>{e(c.get('name', ''))}</code></td>"
        f"<td>{_value(c.get('value'), c.get('unit'))}</td>"
        f"<td>{_value(c.get('limit'), c.get('unit'))}</td>"
        f"<td>{e(c.get('message') or '')}</td>"
        for c in _items(checks)
    ]
    if not rows:
        return "<p>No checks recorded.</p>"
    return _table(("Status", "Check", "Value", "Limit", "Message"), rows)


def _metrics(metrics: Any) -> str:
    rows = [
        f"<td><code>{e(m.get('name', ''))}</code></td>"
        f"<td>{_value(m.get('value'), m.get('unit'))}</td>"
        f"<td>{e(_labels(m.get('labels')))}</td>"
        for m in _items(metrics)
    ]
    return _table(("Metric", "Value", "Labels"), rows) if rows else "<p>No metrics recorded.</p>"


def _findings(findings: Any) -> str:
    rows = [
        f"<td>{badge(f.get('severity'))}</td><td><code>{e(f.get('key', ''))}</code></td>"
        f"<td>{e(f.get('message', ''))}</td>"
        for f in _items(findings)
    ]
    return _table(("Severity", "Key", "Finding"), rows) if rows else "<p>No findings.</p>"


def _error(error: Any, skipped: Any) -> str:
    if isinstance(error, dict):
        where = f" in cell {e(error['cell'])}" if error.get("cell") is not None else ""
        return _section(
            "Error",
            f'<p class="uk-bad">{e(error.get("ename", ""))}{where}: '
            f"{e(error.get('evalue', ''))}</p>",
        )
    if skipped:
        return _section("Skipped", f"<p>{e(skipped)}</p>")
    return ""


def _parameters(record: dict[str, Any]) -> str:
    secret = {str(n) for n in _items_or_names(record.get("secret_parameters"))}
    params = record.get("parameters")
    if not isinstance(params, dict) or not params:
        return "<p>No parameters.</p>"
    rows = [
        f"<td><code>{e(name)}</code></td><td><code>{e(json.dumps(value))}</code>"
        f"{' (secret: the reference, never the value)' if name in secret else ''}</td>"
        for name, value in sorted(params.items())
    ]
    return _table(("Parameter", "Value as recorded"), rows)


def _artifacts(run: RunView) -> str:
    artifacts = run.record.get("artifacts")
    if not isinstance(artifacts, dict):
        return '<p class="uk-bad">run.json lists no artifacts.</p>'
    rows = []
    for name, digest in sorted(artifacts.items()):
        bad = f"{run.relpath}/{name}" in run.problem_paths
        state = (
            '<strong class="uk-bad">DOES NOT VERIFY</strong>'
            if bad
            else ('<span class="uk-good">verifies</span>')
        )
        rows.append(
            f"<td><code>{e(name)}</code></td><td><code>{e(digest)}</code></td><td>{state}</td>"
        )
    return _table(("Artifact", "sha256 (recorded in run.json)", "Check"), rows)


def _report(run: RunView) -> str:
    if REPORT not in (run.record.get("artifacts") or {}):
        return ""
    return _section(
        "Rendered notebook",
        f'<p><a href="{REPORT}">Open the report on its own</a> (the evidence\'s {REPORT}, '
        f'copied unchanged).</p><iframe src="{REPORT}" sandbox="" loading="lazy" '
        f'title="Report of run {e(run.run_id)}"></iframe>',
    )


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _items_or_names(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _value(value: Any, unit: Any) -> str:
    if value is None:
        return "-"
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return e(f"{text}{unit or ''}")


def _labels(labels: Any) -> str:
    if not isinstance(labels, dict):
        return ""
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))
