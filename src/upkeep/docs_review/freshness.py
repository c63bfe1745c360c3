"""Responsible for how fresh each docs page and runbook page is: its owner and review interval
(front matter of a page, metadata of a runbook), its last review (a `docs-reviewed` decision in
the evidence), the last git change of the page and of what it documents, and from those whether
it is fresh, past due, changed since its review, or not known."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import yaml

from upkeep.docs_review.interval import parse_review_every
from upkeep.docs_review.page_source import Unbuildable, front_matter, read_page
from upkeep.plain_text import cut
from upkeep.records import Decision
from upkeep.registry import Registry
from upkeep.review.docs_history import last_change, repository_paths_changed

DOCS_REVIEWED = "docs-reviewed"  # the decision type `upkeep docs reviewed` records
DEFAULT_REVIEW_EVERY = timedelta(days=365)  # assumed, and reported, when a page names none
SHOWN_CHARS = 80  # of a front-matter value, in a problem


class State(enum.StrEnum):
    FRESH = "fresh"
    PAST_DUE = "past due"
    CHANGED = "changed since its review"
    UNKNOWN = "not known"


@dataclass(frozen=True)
class DocsPage:
    """A page of the site that a person writes: a docs page or a runbook's page."""

    page: str  # its source path on the site: reference/observability.md, runbooks/backup.md
    source: Path  # the Markdown file, or the runbook's notebook
    owner: str | None
    review_every: timedelta | None
    documents: tuple[str, ...] = ()  # repository paths whose change makes the page stale
    problem: str | None = None  # front matter that could not be read, or the page itself
    blocks_build: bool = False  # MkDocs cannot build the site with it (why: `problem`)


@dataclass(frozen=True)
class Freshness:
    page: DocsPage
    reviewed: Decision | None  # the last review on record
    changed: datetime | None  # the last change of the page or of what it documents
    state: State
    due: datetime | None

    @property
    def owner(self) -> str:
        return self.page.owner or "no owner"


def docs_pages(folders: Sequence[Path]) -> list[DocsPage]:
    """Every Markdown page of the site's folders; a page in a later folder replaces the page of
    the same path in an earlier one, as on the site."""
    found: dict[str, Path] = {}
    for folder in folders:
        for path in sorted(folder.rglob("*.md")):
            if not path.is_dir():  # a folder named `x.md` is no page to MkDocs either
                found[path.relative_to(folder).as_posix()] = path
    return [_docs_page(page, path) for page, path in sorted(found.items())]


def runbook_pages(registry: Registry) -> list[DocsPage]:
    """Each runbook's page: its owner and interval from its metadata, its notebook the source."""
    return [
        DocsPage(f"runbooks/{name}.md", runbook.path, runbook.owner, runbook.review_every)
        for name, runbook in sorted(registry.items())
    ]


def _docs_page(page: str, path: Path) -> DocsPage:
    try:
        data = front_matter(read_page(path))
    except Unbuildable as exc:
        return DocsPage(page, path, None, None, problem=str(exc), blocks_build=True)
    except (ValueError, yaml.YAMLError) as exc:
        return DocsPage(page, path, None, None, problem=f"front matter: {exc}")
    owner = data.get("owner")
    problems = []
    if owner is not None and (not isinstance(owner, str) or not owner.strip()):
        problems.append(f"owner: expected a name, got {_described(owner)}")
        owner = None
    interval = None
    if data.get("review_every") is not None:
        try:
            interval = parse_review_every(data["review_every"])
        except ValueError as exc:
            problems.append(f"review_every: {cut(str(exc), 2 * SHOWN_CHARS)}")
    documents = data.get("documents", [])
    if not isinstance(documents, list) or not all(isinstance(d, str) for d in documents):
        problems.append("documents: expected a list of repository paths")
        documents = []
    return DocsPage(
        page,
        path,
        owner.strip() if isinstance(owner, str) else None,
        interval,
        tuple(documents),
        "; ".join(problems) or None,
    )


def _described(value: object) -> str:
    """A front-matter value in a problem, short whatever its size: a list or mapping by its
    length, text cut."""
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        return f"a mapping of {len(value)} keys"
    return repr(cut(value, SHOWN_CHARS)) if isinstance(value, str) else repr(value)


def last_reviews(decisions: Iterable[Decision]) -> dict[str, Decision]:
    """The latest `docs-reviewed` decision per page."""
    latest: dict[str, Decision] = {}
    for decision in decisions:
        if decision.type != DOCS_REVIEWED:
            continue
        known = latest.get(decision.subject)
        if known is None or decision.at >= known.at:
            latest[decision.subject] = decision
    return latest


def git_changed(page: DocsPage) -> datetime | None:
    """The last change of the page's source or of what its front matter says it documents."""
    times = [last_change(page.source), repository_paths_changed(page.source, page.documents)]
    known = [when for when in times if when is not None]
    return max(known) if known else None


def assess(
    pages: Iterable[DocsPage],
    reviews: Mapping[str, Decision],
    at: datetime,
    changed: Callable[[DocsPage], datetime | None] = git_changed,
) -> list[Freshness]:
    """Each page's freshness at `at`: due `review_every` after the later of its last review and
    its last change; changed since its review when what it documents changed after it."""
    assessed = []
    for page in pages:
        review = reviews.get(page.page)
        when_changed = changed(page)
        known = [t for t in (review.at if review else None, when_changed) if t is not None]
        if not known:
            assessed.append(Freshness(page, review, when_changed, State.UNKNOWN, None))
            continue
        due = max(known) + (page.review_every or DEFAULT_REVIEW_EVERY)
        if review is not None and when_changed is not None and when_changed > review.at:
            state = State.CHANGED
        elif at > due:
            state = State.PAST_DUE
        else:
            state = State.FRESH
        assessed.append(Freshness(page, review, when_changed, state, due))
    return assessed
