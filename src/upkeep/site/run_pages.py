"""Responsible for the run report pages, `runs/YYYY/MM/<run_id>/`: small static HTML put
straight into the built site, one per run, plus a byte-for-byte copy of the run's report.html
and its stand-alone view (`report/`), which shows that copy sandboxed as the run page does. Only
the runs new or changed since the last build are rendered; the rest come from `run_page_store`.

They bypass MkDocs' Markdown and theme on purpose: years of nightly runs are thousands of pages,
and Material repeats its navigation and search on each page it renders. A run page links the
shared stylesheet and the site, stays out of the navigation and the search index (its month page
carries its summary there), and shows in red when its evidence does not verify. Its sections are
the report's own (`upkeep.rendering.run_record`).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from upkeep.evidence import RUN_JSON
from upkeep.evidence.layout import read_regular
from upkeep.rendering.run_record import render
from upkeep.site.assets import STYLESHEET_URI
from upkeep.site.kept_runs import discard, folder_identity, reuse
from upkeep.site.model import RunView, SiteModel
from upkeep.site.run_page_store import (
    Placed,
    RunPageStore,
    file_identity,
    fingerprint,
    place_file,
    templates_key,
)

REPORT = "report.html"
REPORT_VIEW = "report"  # the folder of the stand-alone view, beside the copy
ROOT = "../../../../"  # from runs/YYYY/MM/<run_id>/ back to the site root


def write_run_pages(model: SiteModel, site_dir: Path, kept: Path | None = None) -> Placed:
    """Put every run's page, its report copy and the report's stand-alone view under
    `site_dir`, rendering (and copying) only those of runs that are new or changed since the
    last build (`run_page_store`), and moving back the last build's folder of a run whose files
    are still the stored ones (`kept`: `kept_runs.keep_runs`); say what was rendered, kept,
    linked and copied."""
    store = RunPageStore(model.config.state_dir, f"{templates_key()}:{model.config.tz}")
    placed = Placed()
    # Paths as strings, not pathlib: this loop runs for every run kept (years of them) on
    # every build, and pathlib's joins took a third of it.
    evidence_dir, site = os.fspath(model.config.evidence_dir), os.fspath(site_dir)
    months: set[str] = set()  # month folders made in the site so far
    for run in model.runs:
        source = f"{evidence_dir}/{run.relpath}"
        key = fingerprint(
            run.run_id,
            run.relpath,
            run.runbook,
            run.status.value,
            run.started_at,
            sorted(run.problems),
            run.runbook in model.registry,
            file_identity(f"{source}/{RUN_JSON}"),
            file_identity(f"{source}/{REPORT}"),
        )
        target = f"{site}/{run.relpath}"
        try:
            stored = store.pages(run.relpath, key, lambda run=run: _run_files(model, run), placed)
            inodes = store.inodes(run.relpath)
        except OSError:
            # A state_dir that cannot be written to (read-only, full): the site still gets them.
            folder = Path(target)
            os.makedirs(folder / REPORT_VIEW if has_report(run) else folder, exist_ok=True)
            _write_straight(_run_files(model, run), folder, placed)
            continue
        month = os.path.dirname(target)
        if month not in months:
            os.makedirs(month, exist_ok=True)
            months.add(month)
        if reuse(kept, run.relpath, target, inodes, store.placed_as(run.relpath)):
            placed.kept += 1
            all_linked = True  # reuse found (or knew) the stored files themselves there
        else:
            folder = Path(target)
            os.makedirs(folder / REPORT_VIEW if has_report(run) else folder, exist_ok=True)
            linked = placed.linked
            for name, path in stored.items():
                place_file(path, folder / name, placed)
            all_linked = placed.linked - linked == len(stored)
        # Only a folder of hard links is known by its folders' identity: a copy edited in
        # place changes no folder. Taken after the folder is in place (a move changes ctime).
        identity = folder_identity(target, stored) if all_linked else None
        store.placed(run.relpath, identity)
    store.save()
    discard(kept)
    return placed


def _write_straight(made: dict[str, bytes], target: Path, placed: Placed) -> None:
    for name, data in made.items():
        (target / name).write_bytes(data)
        placed.rendered_bytes += len(data)
    placed.rendered += 1


def _run_files(model: SiteModel, run: RunView) -> dict[str, bytes]:
    """A run's files in the site: its page, the report's copy and the report's view."""
    made = {"index.html": run_page(model, run).encode()}
    # Copied as is, never rewritten: an auditor can hash the site's copy against run.json.
    with contextlib.suppress(OSError):
        made[REPORT] = read_regular(model.config.evidence_dir / run.relpath / REPORT)
    if has_report(run):
        view = render("report_view.html.j2", model.config.tz, run=run, report=REPORT)
        made[f"{REPORT_VIEW}/index.html"] = view.encode()
    return made


def has_report(run: RunView) -> bool:
    """Whether the run's record lists a report: the run page links it, its copy and its view."""
    return run.record is not None and REPORT in (run.record.artifacts or {})


def run_page(model: SiteModel, run: RunView) -> str:
    """The HTML of one run's page."""
    error = run.record.error if run.record is not None else None
    cell_label = cell_href = None
    if error is not None and error.cell is not None:
        count = f" (In [{error.execution_count}])" if error.execution_count is not None else ""
        cell_label = f"cell {error.cell}{count}"
        cell_href = f"{REPORT}#cell-id=cell-{error.cell}"
    year, month = run.month(model.config.tz).split("/")
    return render(
        "run_page.html.j2",
        model.config.tz,
        run=run,
        record=run.record,
        root=ROOT,
        stylesheet=STYLESHEET_URI,
        month=f"{year}-{month}",
        month_href=f"{ROOT}runs/{year}/{month}/",  # in the configured zone: maybe not ../
        runbook_known=run.runbook in model.registry,
        version_href=f"{ROOT}runbooks/{run.runbook}/{run.sha12}/" if run.sha12 else None,
        cell_label=cell_label,
        cell_href=cell_href,
        has_report=has_report(run),
        report=REPORT,
        report_view=f"{REPORT_VIEW}/",
    )
