"""Responsible for `upkeep docs reviewed|list`: a person records that they reviewed a docs page or
a runbook's page (a `docs-reviewed` decision in the evidence ledger), and every page's owner,
last review and due date are listed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from upkeep.cli.console import print_json, print_out
from upkeep.cli.options import GlobalOptions, person_name, reason_text
from upkeep.errors import UpkeepError

if TYPE_CHECKING:
    from upkeep.config import Config
    from upkeep.docs_review.freshness import DocsPage

DEFAULT_REASON = "read in full and found current"


@click.group("docs")
def docs_group() -> None:
    """The documentation review: record page reviews, list when each page is due."""


@docs_group.command("reviewed")
@click.argument("page")
@click.option("--by", "author", required=True, metavar="NAME", help="Who reviewed it.")
@click.option(
    "--reason",
    default=DEFAULT_REASON,
    show_default=True,
    help="What the review found or changed (kept on record).",
)
@click.pass_obj
def docs_reviewed_command(options: GlobalOptions, page: str, author: str, reason: str) -> int:
    """Record that PAGE was reviewed, as NAME: a docs page (reference/observability.md) or a
    runbook (backup, or runbooks/backup.md).

    \b
    Example:
      upkeep docs reviewed reference/observability.md --by alice
    """
    from upkeep.evidence import EvidenceStore
    from upkeep.records import Decision

    config = options.load_config()
    author = person_name(author, "--by")
    reason = reason_text(reason)
    if not reason:
        raise UpkeepError("--reason: expected what the review found, got nothing")
    found = find_page(config, page)
    from upkeep.docs_review.freshness import DOCS_REVIEWED

    decision = Decision(DOCS_REVIEWED, found.page, author, datetime.now(UTC), reason.strip())
    entry = EvidenceStore(config.evidence_dir).record_decision(decision)
    print_out(f"recorded the review of {found.page} by {author}; ledger line {entry.seq}")
    return 0


@docs_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON for scripts.")
@click.pass_obj
def docs_list_command(options: GlobalOptions, as_json: bool) -> int:
    """Every docs page and runbook page: owner, state, last review, due date."""
    from upkeep.docs_review.freshness import assess, last_reviews
    from upkeep.evidence import EvidenceStore

    config = options.load_config()
    reviews = last_reviews(d.decision for d in EvidenceStore(config.evidence_dir).decisions())
    assessed = assess(known_pages(config), reviews, datetime.now(UTC))
    if as_json:
        print_json(
            [
                {
                    "page": item.page.page,
                    "owner": item.page.owner,
                    "state": str(item.state),
                    "reviewed_at": item.reviewed.at.isoformat() if item.reviewed else None,
                    "reviewed_by": item.reviewed.author if item.reviewed else None,
                    "changed_at": item.changed.isoformat() if item.changed else None,
                    "due": item.due.isoformat() if item.due else None,
                }
                for item in assessed
            ]
        )
        return 0
    for item in assessed:
        due = f"{item.due.astimezone(config.tz):%Y-%m-%d}" if item.due else "not known"
        print_out(f"{item.page.page:<44} {item.owner:<14} {item.state:<26} due {due}")
    return 0


def known_pages(config: Config) -> list[DocsPage]:
    from upkeep import registry
    from upkeep.docs_review.freshness import docs_pages, runbook_pages
    from upkeep.site.build import docs_folders

    runbooks = registry.discover(config.runbooks_dir, config.root)
    return [*docs_pages(docs_folders(config)), *runbook_pages(runbooks)]


def find_page(config: Config, page: str) -> DocsPage:
    """The page `page` names: its site path, with or without `.md`, or a runbook's name;
    UpkeepError naming the choices when there is none."""
    pages = {item.page: item for item in known_pages(config)}
    wanted = page.strip().lstrip("/")
    for candidate in (wanted, f"{wanted}.md", f"runbooks/{wanted}.md"):
        if candidate in pages:
            return pages[candidate]
    raise UpkeepError(
        f"PAGE: no docs page or runbook {page!r}; expected a page such as "
        f"{next(iter(sorted(pages)), 'index.md')} or a runbook name (`upkeep docs list` names all)"
    )
