"""Responsible for the `upkeep` MkDocs plugin: it reads the runbooks, the evidence and upkeep.yml
once per build, adds the generated pages in memory, and writes the run report pages once every
page's Markdown is converted (then lets the run records go, before MkDocs renders the pages).

Registered as the `upkeep` entry point in `mkdocs.plugins`, so plain `mkdocs build` (and `mike
deploy`, which runs it) builds the whole site. Nothing generated is written into docs/. The
pages of the user's own folder (`site.docs_dir` in upkeep.yml) are added to the site's sources,
each replacing the page of the same path, and those the navigation does not name are appended
to it; `site.name` titles the site. With a fleet file (`fleet:` below, else `$UPKEEP_FLEET`)
the fleet pages are added too, in a "Fleet" section of the navigation (`site.fleet_pages`).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import time
from pathlib import Path
from typing import Any

from mkdocs.config import base
from mkdocs.config import config_options as c
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

from upkeep.config import Config
from upkeep.errors import UpkeepError
from upkeep.review.plot_files import PlotWriter
from upkeep.site import (
    coverage_calendar,
    decisions,
    fleet_pages,
    history,
    kept_runs,
    maintenance_pages,
    oncall,
    quarter_page,
    record_of_processing,
    risk_register,
    run_pages,
    runbook_pages,
    script_pages,
    search_entries,
    silences,
    support,
    versions,
)
from upkeep.site.assets import STYLESHEET_URI, site_stylesheet
from upkeep.site.build import SITE_PREVIOUS_VARIABLE, SITE_STATE_VARIABLE
from upkeep.site.fleet import FleetModel
from upkeep.site.model import PlanTask, SiteModel, load_model, load_plan_tasks
from upkeep.site.trend_cache import SitePlots
from upkeep.units import human_size

log = logging.getLogger("mkdocs.plugins.upkeep")
RUNBOOKS_INDEX = "runbooks/index.md"
FLEET_VARIABLE = "UPKEEP_FLEET"
_MONTH_PAGE = re.compile(r"runs/([0-9]{4}/[0-9]{2})\.md")


class UpkeepPluginConfig(base.Config):
    """Options under `plugins: - upkeep:` in mkdocs.yml."""

    # upkeep.yml, relative to mkdocs.yml; default: $UPKEEP_CONFIG, else upkeep.yml beside it
    config = c.Optional(c.Type(str))
    # the plan's task list for the checklist macro, relative to docs_dir
    plan_tasks = c.Type(str, default="plan-tasks.yml")
    # a fleet file, relative to mkdocs.yml: adds the fleet pages; default: $UPKEEP_FLEET, if set
    fleet = c.Optional(c.Type(str))


class UpkeepPlugin(BasePlugin[UpkeepPluginConfig]):
    """Generates the dashboard data, runbook pages, run history and run report pages."""

    def __init__(self) -> None:
        self.model: SiteModel | None = None
        self.fleet: FleetModel | None = None
        self._tasks: tuple[PlanTask, ...] | None = None
        self._docs_dir: Path | None = None
        self._kept: Path | None = None  # the last build's run folders, moved aside
        self._plots: SitePlots | None = None  # this build's trend plots
        self._grids: dict[str, bytes] = {}  # the coverage page's grids, made in on_env
        self._coverage_page: Path | None = None  # where MkDocs wrote it, for its grids
        self._upkeep_config: Config | None = None  # upkeep.yml, as this build read it
        self._search: search_entries.SearchEntries | None = None  # this build's search entries

    # --- what the macros read -------------------------------------------------------------

    def site_model(self) -> SiteModel:
        if self.model is None:
            raise PluginError(
                "upkeep: the site model is read in on_config and let go in on_env, once the run "
                "pages are written; it is not there at this point of the build"
            )
        return self.model

    def plan_tasks(self) -> tuple[PlanTask, ...]:
        """The plan's tasks: from the user's pages when they hold the file, else the site's."""
        if self._tasks is None:
            assert self._docs_dir is not None
            own = self.site_model().config.site.docs_dir
            path = self._docs_dir / self.config.plan_tasks
            if own is not None and (own / self.config.plan_tasks).is_file():
                path = own / self.config.plan_tasks
            self._tasks = _upkeep_call(load_plan_tasks, path)
        return self._tasks

    # --- MkDocs events ----------------------------------------------------------------------

    def on_config(self, config: MkDocsConfig) -> MkDocsConfig:
        from upkeep import registry
        from upkeep.config import load_config

        start = time.perf_counter()
        upkeep_config = _upkeep_call(load_config, self._config_path(config))
        own_state = os.environ.get(SITE_STATE_VARIABLE)
        if own_state:  # `site build --no-cache`: no cache an earlier build left is read
            upkeep_config = dataclasses.replace(upkeep_config, state_dir=Path(own_state))
        self._upkeep_config = upkeep_config
        runbooks = _upkeep_call(registry.discover, upkeep_config.runbooks_dir, upkeep_config.root)
        # The trend plots' worker imports matplotlib on another core while the evidence is read,
        # then draws the plots whose data changed, if any, while the pages are made (`on_env`).
        self._close_plots()
        writer = PlotWriter()
        try:
            self.model = _upkeep_call(load_model, upkeep_config, runbooks)
            plots = [
                *maintenance_pages.review_plots(self.model),
                *quarter_page.quarter_plots(self.model),
            ]
            self._plots = SitePlots(upkeep_config.state_dir, plots, writer)
            log.info(
                "upkeep: read %d runbooks and %d runs (verified) in %.2f s; %d trend plots to draw",
                len(runbooks),
                len(self.model.runs),
                time.perf_counter() - start,
                self._plots.drawn,
            )
            self.fleet = self._fleet(config, self.model)
        except BaseException:
            # No build follows a failed on_config: stop the worker, remove what it drew.
            writer.close()
            self._close_plots()
            raise
        self._tasks = None
        self._docs_dir = Path(config.docs_dir)
        if STYLESHEET_URI not in config.extra_css:
            config.extra_css.append(STYLESHEET_URI)
        if upkeep_config.site.name:
            config.site_name = upkeep_config.site.name
        if config.nav:
            config.nav = _expand_nav(config.nav, self.model)
            if self.fleet is not None:
                config.nav.append(fleet_pages.fleet_nav(self.fleet))
            config.nav += _pages_not_in_nav(upkeep_config.site.docs_dir, config.nav)
        _version_selector_only_under_mike(config)
        return config

    def on_files(self, files: Files, config: MkDocsConfig) -> Files:
        own = self.site_model().config.site.docs_dir
        for uri in _own_pages(own, include_data=False) if own is not None else ():
            shipped = files.get_file_from_path(uri)
            if shipped is not None:
                files.remove(shipped)
            files.append(File(uri, str(own), config.site_dir, config.use_directory_urls))
        for uri, content in self._generated_pages():
            if files.get_file_from_path(uri) is not None:
                raise PluginError(
                    f"upkeep: docs/{uri} exists, but the upkeep plugin generates that page; "
                    "remove the file from docs/"
                )
            files.append(File.generated(config, uri, content=content))
        assert self._plots is not None
        for plot in self._plots.plots:
            source = self._plots.source(plot)
            if isinstance(source, Path):  # being drawn: read when MkDocs copies it
                files.append(File.generated(config, plot.uri, abs_src_path=str(source)))
            else:
                files.append(File.generated(config, plot.uri, content=source))
        return files

    def on_env(self, env: Any, config: MkDocsConfig, files: Files) -> Any:
        # After every page's Markdown, before MkDocs copies the files: the plots must be there.
        if self._plots is not None:
            start = time.perf_counter()
            self._plots.finish()
            if self._plots.drawn:
                log.info(
                    "upkeep: drew %d trend plots (waited %.2f s for them)",
                    self._plots.drawn,
                    time.perf_counter() - start,
                )
        # The macros and the month tables have read the model: the run pages and the coverage
        # grids are the last of it. Once they are made, years of run records are let go before
        # MkDocs renders its pages and their search index (the build's peak of memory).
        model = self.site_model()
        self._place_run_pages(model, Path(config.site_dir))
        self._grids = {
            marker: grid.encode() for marker, grid in coverage_calendar.grids(model).items()
        }
        self.model = None
        return env

    def on_page_content(self, html: str, page: Page, config: MkDocsConfig, files: Files) -> str:
        month = _month_of(page.file.src_uri)
        if month is not None and month in self.site_model().by_month:
            html = html.replace(
                history.LATE_MARKER, history.month_table(self.site_model(), month), 1
            )
        return html

    def on_post_page(self, output: str, page: Page, config: MkDocsConfig) -> str:
        if page.file.src_uri == coverage_calendar.PAGE:
            # After Markdown and the search index: a grid is a cell per run and no text. They
            # go into the written page, in on_post_build.
            self._coverage_page = Path(page.file.abs_dest_path)
        return output

    def on_pre_build(self, config: MkDocsConfig) -> None:
        # Before MkDocs empties the site: the last build's run folders, to move back unchanged.
        previous = os.environ.get(SITE_PREVIOUS_VARIABLE)  # set when built beside the site
        self._kept = kept_runs.keep_runs(
            Path(config.site_dir), Path(previous) if previous else None
        )
        # After every plugin's on_config: the search plugin has made this build's index.
        assert self._upkeep_config is not None
        self._search = search_entries.attach(config.plugins, self._upkeep_config.state_dir)

    def on_build_error(self, error: Exception) -> None:
        self._close_plots()

    def on_post_build(self, config: MkDocsConfig) -> None:
        self._close_plots()
        search, self._search = self._search, None
        if search is not None:
            search.save()
            log.info(
                "upkeep: search entries of %d pages kept from the last build, %d pages indexed",
                search.reused,
                search.indexed,
            )
        grids, self._grids = self._grids, {}
        if self._coverage_page is not None:
            coverage_calendar.insert_grids_into_file(self._coverage_page, grids)
            self._coverage_page = None
        if self.fleet is not None:
            reports = fleet_pages.write_fleet_reports(self.fleet, Path(config.site_dir))
            log.info(
                "upkeep: put the fleet's reports in the site: %d linked, %d copied (%s)",
                reports.linked,
                reports.copied,
                human_size(reports.copied_bytes),
            )

    def on_serve(self, server: Any, config: MkDocsConfig, builder: Any) -> Any:
        assert self._upkeep_config is not None  # read in on_config, before the first build
        upkeep_config = self._upkeep_config
        server.watch(str(upkeep_config.path))
        for folder in upkeep_config.runbooks_dir:
            server.watch(str(folder))
        if upkeep_config.site.docs_dir is not None:
            server.watch(str(upkeep_config.site.docs_dir))
        if upkeep_config.evidence_dir.is_dir():
            server.watch(str(upkeep_config.evidence_dir / "ledger.jsonl"))
        return server

    # --- internals --------------------------------------------------------------------------

    def _place_run_pages(self, model: SiteModel, site_dir: Path) -> None:
        start = time.perf_counter()
        kept, self._kept = self._kept, None
        placed = run_pages.write_run_pages(model, site_dir, kept)
        log.info(
            "upkeep: put %d runs' pages in the site in %.2f s: %d rendered (new or changed, %s), "
            "%d kept from the last build, %d files linked, %d copied (%s)",
            len(model.runs),
            time.perf_counter() - start,
            placed.rendered,
            human_size(placed.rendered_bytes),
            placed.kept,
            placed.linked,
            placed.copied,
            human_size(placed.copied_bytes),
        )

    def _close_plots(self) -> None:
        if self._plots is not None:
            self._plots.close()
            self._plots = None

    def _fleet(self, config: MkDocsConfig, model: SiteModel) -> FleetModel | None:
        """Every host of the fleet file read and verified, when there is one."""
        from upkeep.site.fleet import load_fleet_model

        base_dir = Path(config.config_file_path or ".").resolve().parent
        if self.config.fleet:
            path = base_dir / self.config.fleet
        elif os.environ.get(FLEET_VARIABLE):
            path = Path(os.environ[FLEET_VARIABLE])
        else:
            return None
        start = time.perf_counter()
        fleet = _upkeep_call(load_fleet_model, path, model.config.state_dir, model.built_at)
        log.info(
            "upkeep: read %d hosts of the fleet and %d runs (verified) in %.2f s",
            len(fleet.hosts),
            sum(len(host.runs) for host in fleet.hosts),
            time.perf_counter() - start,
        )
        return fleet

    def _config_path(self, config: MkDocsConfig) -> Path:
        base_dir = Path(config.config_file_path or ".").resolve().parent
        if self.config.config:
            return base_dir / self.config.config
        if os.environ.get("UPKEEP_CONFIG"):
            return Path(os.environ["UPKEEP_CONFIG"])
        return base_dir / "upkeep.yml"

    def _generated_pages(self) -> list[tuple[str, str]]:
        model = self.site_model()
        seen = versions.runbook_versions(model)
        by_name: dict[str, set[str]] = {}
        for name, sha12 in seen:
            by_name.setdefault(name, set()).add(sha12)
        generated = [
            (STYLESHEET_URI, site_stylesheet()),
            (RUNBOOKS_INDEX, runbook_pages.runbooks_index(model)),
        ]
        for name, runbook in model.registry.items():
            generated.append(
                (
                    f"runbooks/{name}.md",
                    runbook_pages.runbook_page(model, runbook, by_name.get(name, set())),
                )
            )
        for (name, sha12), run in seen.items():
            generated.append(
                (f"runbooks/{name}/{sha12}.md", versions.version_page(model, name, sha12, run))
            )
        generated += script_pages.script_pages()
        generated.append(("runs/index.md", history.runs_index(model)))
        generated.append((decisions.PAGE, decisions.decisions_page(model)))
        generated.append((coverage_calendar.PAGE, coverage_calendar.coverage_page(model)))
        generated.append((risk_register.PAGE, risk_register.risk_register_page(model)))
        generated.append((oncall.PAGE, oncall.oncall_page(model)))
        generated.append((silences.PAGE, silences.silences_page(model)))
        generated.append((support.PAGE, support.support_page(model)))
        generated.append(
            (record_of_processing.PAGE, record_of_processing.record_of_processing_page(model))
        )
        generated.append((maintenance_pages.BACKLOG_PAGE, maintenance_pages.backlog_page(model)))
        generated.append(
            (maintenance_pages.LOG_PAGE, maintenance_pages.maintenance_log_page(model))
        )
        generated += maintenance_pages.review_pages(model)
        generated += quarter_page.quarter_pages(model)
        months = sorted(model.by_month)
        for index, month in enumerate(months):
            neighbours = (
                months[index - 1] if index > 0 else None,
                months[index + 1] if index + 1 < len(months) else None,
            )
            generated.append((f"runs/{month}.md", history.month_page(model, month, neighbours)))
        if self.fleet is not None:
            generated += fleet_pages.fleet_pages(model, self.fleet)
        return generated


def _own_pages(docs_dir: Path, *, include_data: bool) -> list[str]:
    """Every file under the user's pages folder, as a site path (`ops/contacts.md`); the plan's
    task list and other YAML data only when asked."""
    pages = []
    for path in sorted(docs_dir.rglob("*")):
        uri = path.relative_to(docs_dir).as_posix()
        hidden = any(part.startswith(".") for part in path.relative_to(docs_dir).parts)
        if path.is_file() and not hidden and (include_data or path.suffix != ".yml"):
            pages.append(uri)
    return pages


def _pages_not_in_nav(docs_dir: Path | None, nav: list[Any]) -> list[Any]:
    """The user's Markdown pages the navigation does not name, to append to it."""
    if docs_dir is None:
        return []
    named = set(_nav_pages(nav))
    return [
        uri
        for uri in _own_pages(docs_dir, include_data=False)
        if uri.endswith(".md") and uri not in named
    ]


def _nav_pages(nav: Any) -> list[str]:
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, dict):
        return [page for value in nav.values() for page in _nav_pages(value)]
    if isinstance(nav, list):
        return [page for item in nav for page in _nav_pages(item)]
    return []


def _month_of(src_uri: str) -> str | None:
    """`YYYY/MM` for a month page `runs/YYYY/MM.md`, else None."""
    match = _MONTH_PAGE.fullmatch(src_uri)
    return match.group(1) if match else None


def _upkeep_call(func: Any, *args: Any) -> Any:
    """Call `func`; an upkeep error (bad config, bad runbook) becomes a one-line PluginError."""
    try:
        return func(*args)
    except UpkeepError as exc:
        raise PluginError(f"upkeep: {exc}") from None


def _expand_nav(nav: list[Any], model: SiteModel) -> list[Any]:
    """Replace the `runbooks/index.md` entry by a section: the index, then each runbook page."""
    expanded = []
    for item in nav:
        if isinstance(item, dict) and len(item) == 1:
            ((title, value),) = item.items()
            if value == RUNBOOKS_INDEX:
                children = [RUNBOOKS_INDEX] + [
                    {runbook.title: f"runbooks/{name}.md"}
                    for name, runbook in model.registry.items()
                ]
                expanded.append({title: children})
                continue
            if isinstance(value, list):
                expanded.append({title: _expand_nav(value, model)})
                continue
        expanded.append(item)
    return expanded


def _version_selector_only_under_mike(config: MkDocsConfig) -> None:
    """Drop Material's version selector from a build that mike did not start.

    The selector fetches `../versions.json`, which only mike writes (on the gh-pages branch); a
    plain `mkdocs build` or `serve` would request a missing file on every page. mike runs mkdocs
    with MIKE_DOCS_VERSION set and its own plugin injected.
    """
    if os.environ.get("MIKE_DOCS_VERSION") or "mike" in config.plugins:
        return
    version = config.extra.get("version")
    if isinstance(version, dict) and version.get("provider") == "mike":
        del config.extra["version"]
