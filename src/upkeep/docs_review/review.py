"""Responsible for the documentation review in one result: the freshness of every docs page and
runbook page, the built site's links and anchors (built once, or read where it was built), the
plan's runbooks and the runbooks' reference pages present on it, the external links, the
`upkeep` commands the runbooks show, and the maintenance review's suggestions for the docs."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from upkeep import registry as registry_module
from upkeep.config import Config
from upkeep.docs_review.commands import CommandProblem, ShownCommand, check_commands, shown_commands
from upkeep.docs_review.external_links import LinkResult, check_links
from upkeep.docs_review.freshness import (
    DocsPage,
    Freshness,
    assess,
    docs_pages,
    last_reviews,
    runbook_pages,
)
from upkeep.docs_review.site_links import SiteLinks, scan_site
from upkeep.errors import UpkeepError
from upkeep.evidence import EvidenceStore
from upkeep.registry import Registry
from upkeep.review.docs_suggestions import DocsSuggestion
from upkeep.site.model import PlanTask, load_plan_tasks

PLAN_TASKS = "plan-tasks.yml"
LINK_CACHE = "docs-review/external-links.json"  # under the state folder


@dataclass(frozen=True)
class SiteCoverage:
    """What must be on the site: a page per runbook the plan names and per runbook, and every
    reference page a runbook names."""

    missing_runbook_pages: tuple[str, ...]  # runbook names
    missing_references: tuple[tuple[str, str], ...]  # (runbook, reference page)
    tasks_without_runbook: tuple[PlanTask, ...]


@dataclass(frozen=True)
class DocsReview:
    at: datetime
    site: Path | None  # None: not built, for the `unbuildable` pages
    site_built_s: float | None  # None: the site was read where it was already built, or not built
    unbuildable: tuple[DocsPage, ...]  # pages MkDocs cannot build the site with
    freshness: tuple[Freshness, ...]
    links: SiteLinks
    coverage: SiteCoverage
    external: tuple[LinkResult, ...]
    commands: tuple[ShownCommand, ...]
    command_problems: tuple[CommandProblem, ...]
    suggestions: tuple[DocsSuggestion, ...]

    @property
    def without_owner(self) -> list[Freshness]:
        """Pages whose front matter names no owner (not those that could not be read)."""
        return [
            item
            for item in self.freshness
            if item.page.owner is None and not item.page.blocks_build
        ]


@dataclass(frozen=True)
class _BesideTheSite:
    """What the review reads besides the built site."""

    freshness: tuple[Freshness, ...]
    commands: tuple[ShownCommand, ...]
    command_problems: tuple[CommandProblem, ...]
    suggestions: tuple[DocsSuggestion, ...]


def review_docs(
    config: Config,
    at: datetime,
    *,
    site_dir: Path | None = None,
    check_external: bool = True,
    cache_days: int = 7,
    suggest: Callable[[], tuple[DocsSuggestion, ...]] = tuple,
) -> DocsReview:
    """The review at `at`; the site is built once into a temporary folder unless `site_dir`
    names one already built, and not at all when a page would not let MkDocs build it (a FIFO,
    not UTF-8, front matter whose aliases never end): those pages are the review's `unbuildable`.
    What does not need the site (freshness, commands, the suggestions `suggest` returns) is read
    while MkDocs builds it, in its own process."""
    runbooks = registry_module.discover(config.runbooks_dir, config.root)
    pages = docs_pages(_folders(config))
    unbuildable = tuple(page for page in pages if page.blocks_build)
    site, built_s, links, coverage = None, None, SiteLinks(), SiteCoverage((), (), ())
    with ThreadPoolExecutor(max_workers=1) as pool:
        beside = pool.submit(_beside_the_site, config, at, runbooks, pages, suggest)
        if site_dir is not None or not unbuildable:
            with _site(config, site_dir) as (site, built_s):
                links = scan_site(site)
                coverage = site_coverage(site, runbooks, _plan_tasks(_folders(config)))
        read = beside.result()
    external = check_links(
        links.external, config.state_dir / LINK_CACHE, at, cache_days, online=check_external
    )
    return DocsReview(
        at=at,
        site=site,
        site_built_s=built_s,
        unbuildable=unbuildable,
        freshness=read.freshness,
        links=links,
        coverage=coverage,
        external=tuple(external),
        commands=read.commands,
        command_problems=read.command_problems,
        suggestions=read.suggestions,
    )


def _beside_the_site(
    config: Config,
    at: datetime,
    runbooks: Registry,
    pages: list[DocsPage],
    suggest: Callable[[], tuple[DocsSuggestion, ...]],
) -> _BesideTheSite:
    from upkeep.cli import main as cli

    reviews = last_reviews(d.decision for d in EvidenceStore(config.evidence_dir).decisions())
    commands = [
        command
        for name, runbook in sorted(runbooks.items())
        for command in shown_commands(name, _markdown_cells(runbook.path))
    ]
    return _BesideTheSite(
        tuple(assess([*pages, *runbook_pages(runbooks)], reviews, at)),
        tuple(commands),
        tuple(check_commands(cli, commands)),
        tuple(suggest()),
    )


def _folders(config: Config) -> list[Path]:
    from upkeep.site.build import docs_folders

    return docs_folders(config)


@contextmanager
def _site(config: Config, site_dir: Path | None) -> Iterator[tuple[Path, float | None]]:
    if site_dir is not None:
        if not (site_dir / "index.html").is_file():
            raise UpkeepError(
                f"site_dir: {site_dir} holds no built site (no index.html); build it with "
                "`upkeep site build`, or leave site_dir empty to build one for the review"
            )
        yield site_dir, None
        return
    from upkeep.site.build import build_site

    with tempfile.TemporaryDirectory(prefix="upkeep-docs-review-") as folder:
        started = time.monotonic()
        # Not strict: a broken link must not stop the build, the review reports it.
        site = build_site(config, Path(folder) / "site", strict=False, quiet=True)
        yield site, time.monotonic() - started


def site_coverage(site: Path, runbooks: Registry, tasks: tuple[PlanTask, ...]) -> SiteCoverage:
    """Which runbook pages and reference pages the built site lacks."""
    planned = {
        name
        for task in tasks
        for name, runbook in runbooks.items()
        if runbook.category == task.category and runbook.cadence == task.frequency
    }
    missing = tuple(
        name
        for name in sorted(planned | set(runbooks))
        if not _has_page(site, f"runbooks/{name}.md")
    )
    references = tuple(
        (name, page)
        for name, runbook in sorted(runbooks.items())
        for page in runbook.references
        if not _has_page(site, f"reference/{page}")
    )
    without = tuple(
        task
        for task in tasks
        if not any(
            r.category == task.category and r.cadence == task.frequency for r in runbooks.values()
        )
    )
    return SiteCoverage(missing, references, without)


def _has_page(site: Path, source: str) -> bool:
    """Whether the page built from `source` (a path under docs) is in the site, with directory
    URLs or without."""
    stem = source.removesuffix(".md")
    candidates = [f"{stem}.html", f"{stem}/index.html"]
    if stem.endswith("index"):
        candidates.append(f"{stem}.html")
    return any((site / candidate).is_file() for candidate in candidates)


def _plan_tasks(folders: list[Path]) -> tuple[PlanTask, ...]:
    for folder in reversed(folders):
        if (folder / PLAN_TASKS).is_file():
            return load_plan_tasks(folder / PLAN_TASKS)
    return ()


def _markdown_cells(path: Path) -> list[str]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    cells = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            source = cell.get("source", "")
            cells.append(source if isinstance(source, str) else "".join(source))
    return cells
