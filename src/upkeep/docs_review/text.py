"""Responsible for the documentation review as text for a person: pages past due with their
owners, pages without an owner, broken links and anchors, missing and orphan pages, external
links and their state, commands that no longer parse, and the review items."""

from __future__ import annotations

from datetime import tzinfo

from upkeep.docs_review.external_links import LinkState
from upkeep.docs_review.freshness import State
from upkeep.docs_review.review import DocsReview
from upkeep.units import counted

SHOWN = 50  # lines per list at most; the rest is counted


def review_text(review: DocsReview, tz: tzinfo) -> str:
    problems = review.command_problems
    lines = [
        f"documentation review as of {review.at.astimezone(tz):%Y-%m-%d %H:%M %Z}",
        _site(review),
        *[f"  {page.page} ({page.source}): {page.problem}" for page in review.unbuildable],
        "",
        *_freshness(review, tz),
        "",
        *(_links(review) if review.site is not None else ["internal links: not checked"]),
        "",
        *(_external(review) if review.site is not None else ["external links: not checked"]),
        "",
        f"`upkeep` commands in the runbooks: {len(review.commands)} checked against the CLI",
        *_capped([f"  {p.command.runbook}: {p.command.text}: {p.problem}" for p in problems]),
        "",
        "review items from the maintenance review:",
        *(_capped([f"  {s.subject}: {s.reason}" for s in review.suggestions]) or ["  none"]),
    ]
    return "\n".join(lines)


def _site(review: DocsReview) -> str:
    if review.site is None:
        return (
            f"site: not built: MkDocs cannot build it with "
            f"{counted(len(review.unbuildable), 'page')} (fix or remove them):"
        )
    if review.site_built_s is not None:
        return f"site: built once for this review in {review.site_built_s:.1f} s (a temporary copy)"
    return f"site: {review.site}, read as it was built"


def _freshness(review: DocsReview, tz: tzinfo) -> list[str]:
    counts = {state: 0 for state in State}
    for item in review.freshness:
        counts[item.state] += 1
    lines = [
        f"pages: {counted(len(review.freshness), 'page')} ("
        + ", ".join(f"{n} {state}" for state, n in counts.items() if n)
        + ")",
        f"{'page':<44} {'owner':<14} {'state':<26} {'last review':<22} due",
    ]
    stale = [item for item in review.freshness if item.state is not State.FRESH]
    for item in sorted(stale, key=lambda i: (i.due is None, i.due or review.at, i.page.page)):
        reviewed = (
            f"{item.reviewed.at.astimezone(tz):%Y-%m-%d} {item.reviewed.author}"
            if item.reviewed
            else "never"
        )
        due = f"{item.due.astimezone(tz):%Y-%m-%d}" if item.due else "not known (no git history)"
        lines.append(f"{item.page.page:<44} {item.owner:<14} {item.state:<26} {reviewed:<22} {due}")
    if not stale:
        lines.append("  every page is fresh")
    for item in review.freshness:
        if item.page.blocks_build:
            continue  # listed under the site, as what keeps it from being built
        if item.page.owner is None:
            lines.append(f"  {item.page.page}: no owner (add `owner:` to its front matter)")
        if item.page.review_every is None:
            lines.append(f"  {item.page.page}: no review interval (`review_every: 365d`)")
        if item.page.problem:
            lines.append(f"  {item.page.page}: {item.page.problem}")
    return lines


def _links(review: DocsReview) -> list[str]:
    links, coverage = review.links, review.coverage
    lines = [
        f"internal links: {links.internal} checked in {counted(len(links.pages), 'page')}, "
        f"{len(links.broken)} broken",
        *_capped([f"  {b.page}: {b.href}: {b.reason}" for b in links.broken]),
        f"orphan pages (nothing links to them): {len(links.orphans)}",
        *_capped([f"  {page}" for page in links.orphans]),
    ]
    lines += [f"  runbook {name}: no page on the site" for name in coverage.missing_runbook_pages]
    lines += [
        f"  runbook {name} references {page}, which is not on the site"
        for name, page in coverage.missing_references
    ]
    lines += [
        f"  plan task {task.frequency} {task.category!r}: no runbook yet"
        for task in coverage.tasks_without_runbook
    ]
    return lines


def _external(review: DocsReview) -> list[str]:
    counts = {state: 0 for state in LinkState}
    for result in review.external:
        counts[result.state] += 1
    lines = [
        f"external links: {len(review.external)} ("
        + ", ".join(f"{n} {state}" for state, n in counts.items() if n)
        + ")"
    ]
    for result in review.external[:SHOWN]:
        pages = review.links.external.get(result.url, [])
        where = f" (on {pages[0]}{' and others' if len(pages) > 1 else ''})" if pages else ""
        cached = ", cached" if result.cached else ""
        lines.append(f"  {result.state:<9} {result.url}: {result.detail}{cached}{where}")
    if len(review.external) > SHOWN:
        lines.append(f"  ... and {len(review.external) - SHOWN} more")
    return lines


def _capped(lines: list[str]) -> list[str]:
    if len(lines) <= SHOWN:
        return lines
    return [*lines[:SHOWN], f"  ... and {len(lines) - SHOWN} more"]
