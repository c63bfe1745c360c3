"""Responsible for the run report pages, `runs/YYYY/MM/<run_id>/`: small static HTML written
straight into the built site, one per run, plus a byte-for-byte copy of the run's report.html
and its stand-alone view (`report/`), which shows that copy sandboxed as the run page does.

They bypass MkDocs' Markdown and theme on purpose: years of nightly runs are thousands of pages,
and Material repeats its navigation and search on each page it renders. A run page links the
shared stylesheet and the site, stays out of the navigation and the search index (its month page
carries its summary there), and shows in red when its evidence does not verify. Its sections are
the report's own (`upkeep.rendering.run_record`).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from upkeep.rendering.run_record import render
from upkeep.site.assets import STYLESHEET_URI
from upkeep.site.model import RunView, SiteModel

REPORT = "report.html"
REPORT_VIEW = "report"  # the folder of the stand-alone view, beside the copy
ROOT = "../../../../"  # from runs/YYYY/MM/<run_id>/ back to the site root


def write_run_pages(model: SiteModel, site_dir: Path) -> int:
    """Write every run's page, its report copy and the report's stand-alone view under
    `site_dir`; return the bytes written."""
    written = 0
    for run in model.runs:
        target = site_dir / run.relpath
        target.mkdir(parents=True, exist_ok=True)
        page = run_page(model, run).encode()
        (target / "index.html").write_bytes(page)
        written += len(page)
        written += _copy_report(model.config.evidence_dir / run.relpath / REPORT, target / REPORT)
        if has_report(run):
            written += _write_report_view(model, run, target / REPORT_VIEW)
    return written


def _write_report_view(model: SiteModel, run: RunView, folder: Path) -> int:
    view = render("report_view.html.j2", model.config.tz, run=run, report=REPORT).encode()
    folder.mkdir(exist_ok=True)
    (folder / "index.html").write_bytes(view)
    return len(view)


def has_report(run: RunView) -> bool:
    """Whether the run's record lists a report: the run page links it, its copy and its view."""
    return run.record is not None and REPORT in (run.record.artifacts or {})


def _copy_report(source: Path, target: Path) -> int:
    # Copied as is, never rewritten: an auditor can hash the site's copy against run.json.
    try:
        shutil.copyfile(source, target, follow_symlinks=False)
    except OSError:
        return 0
    return os.path.getsize(target)


def run_page(model: SiteModel, run: RunView) -> str:
    """The HTML of one run's page."""
    error = run.record.error if run.record is not None else None
    cell_label = cell_href = None
    if error is not None and error.cell is not None:
        count = f" (In [{error.execution_count}])" if error.execution_count is not None else ""
        cell_label = f"cell {error.cell}{count}"
        cell_href = f"{REPORT}#cell-id=cell-{error.cell}"
    year, month = run.month.split("/")
    return render(
        "run_page.html.j2",
        model.config.tz,
        run=run,
        record=run.record,
        root=ROOT,
        stylesheet=STYLESHEET_URI,
        month=f"{year}-{month}",
        runbook_known=run.runbook in model.registry,
        version_href=f"{ROOT}runbooks/{run.runbook}/{run.sha12}/" if run.sha12 else None,
        cell_label=cell_label,
        cell_href=cell_href,
        has_report=has_report(run),
        report=REPORT,
        report_view=f"{REPORT_VIEW}/",
    )
