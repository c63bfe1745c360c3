"""Responsible for what the documentation-review runbook does: review the docs once (the site
built once, or read where it was built), show it, and record its checks, metrics, findings and
summary."""

from __future__ import annotations

from datetime import UTC, datetime

from upkeep import report
from upkeep.config import Config
from upkeep.docs_review.external_links import LinkState
from upkeep.docs_review.freshness import State
from upkeep.docs_review.review import DocsReview, review_docs
from upkeep.docs_review.text import review_text
from upkeep.records import Severity, Status
from upkeep.review.docs_suggestions import DocsSuggestion
from upkeep.units import counted

# What the site's checks say when the site could not be built: never "ok".
_NOT_BUILT = "not checked: the site could not be built (documentation-review:pages says why)"


def review(
    config: Config,
    *,
    site_dir: str = "",
    check_external_links: bool = True,
    cache_days: int = 7,
    at: datetime | None = None,
) -> DocsReview:
    """The review now (or at `at`); `site_dir` "" builds the site once for it, else names a
    built site (relative to upkeep.yml's folder)."""
    moment = at or datetime.now(UTC)
    return review_docs(
        config,
        moment,
        site_dir=(config.root / site_dir).resolve() if site_dir else None,
        check_external=check_external_links,
        cache_days=cache_days,
        suggest=lambda: maintenance_suggestions(config, moment),
    )


def maintenance_suggestions(config: Config, at: datetime) -> tuple[DocsSuggestion, ...]:
    """What the maintenance review, over its window before `at`, suggests to this review."""
    from upkeep.procedures import maintenance_review

    return tuple(maintenance_review.review(config, at).suggestions)


def show(result: DocsReview, config: Config) -> None:
    print(review_text(result, config.tz))


def record(result: DocsReview) -> None:
    """The review's checks, metrics, findings and one-line summary."""
    _record_owners(result)
    stale = _record_freshness(result)
    _record_links(result)
    _record_pages(result)
    _record_external(result)
    _record_commands(result)
    for suggestion in result.suggestions:
        report.finding(
            f"docs:review-item:{suggestion.subject}", suggestion.reason, severity=Severity.INFO
        )
    report.metric("docs_pages", len(result.freshness))
    report.metric("docs_pages_stale", stale)
    if result.site is not None:
        report.metric("site_internal_links", result.links.internal)
        report.metric("site_broken_links", len(result.links.broken))
        report.metric("site_orphan_pages", len(result.links.orphans))
    report.metric("runbook_commands_checked", len(result.commands))
    site = (
        f"{result.links.internal} internal links ({len(result.links.broken)} broken), "
        f"{counted(len(result.external), 'external link')}"
        if result.site is not None
        else f"site not built ({counted(len(result.unbuildable), 'page')} MkDocs cannot read)"
    )
    report.summary(
        f"{counted(len(result.freshness), 'page')} ({stale} to review), {site}, "
        f"{counted(len(result.command_problems), 'command')} not parsing, "
        f"{counted(len(result.suggestions), 'review item')}"
    )


def _record_owners(result: DocsReview) -> None:
    without = result.without_owner
    for item in without:
        report.finding(
            f"docs:no-owner:{item.page.page}",
            f"{item.page.page} has no owner: nobody is asked to review it",
        )
    malformed = [
        item for item in result.freshness if item.page.problem and not item.page.blocks_build
    ]
    for item in malformed:
        report.finding(f"docs:front-matter:{item.page.page}", item.page.problem or "")
    report.check(
        "documentation-review:owners",
        Status.WARN if without or malformed else Status.OK,
        value=len(without),
        limit=0,
        message=", ".join(sorted({item.page.page for item in [*without, *malformed]}))
        or "every page has an owner",
    )


def _record_freshness(result: DocsReview) -> int:
    stale = [item for item in result.freshness if item.state is not State.FRESH]
    for item in stale:
        when = f", due {item.due:%Y-%m-%d}" if item.due else ""
        report.finding(
            f"docs:stale:{item.page.page}",
            f"{item.page.page} ({item.owner}): {item.state}{when}",
        )
    states = sorted({str(item.state) for item in stale})
    report.check(
        "documentation-review:freshness",
        Status.WARN if stale else Status.OK,
        value=len(stale),
        limit=0,
        message=f"{counted(len(stale), 'page')} to review ({', '.join(states)})"
        if stale
        else "every page reviewed or changed within its interval",
    )
    return len(stale)


def _record_links(result: DocsReview) -> None:
    if result.site is None:
        report.check("documentation-review:links", Status.WARN, message=_NOT_BUILT)
        return
    broken = result.links.broken
    for link in broken:
        report.finding(f"docs:broken-link:{link.page}:{link.href}", f"{link.href}: {link.reason}")
    report.check(
        "documentation-review:links",
        Status.FAIL if broken else Status.OK,
        value=len(broken),
        limit=0,
        message=f"{len(broken)} of {result.links.internal} internal links or anchors do not resolve"
        if broken
        else f"all {result.links.internal} internal links and anchors resolve",
    )


def _record_pages(result: DocsReview) -> None:
    coverage, orphans = result.coverage, result.links.orphans
    unbuildable = [f"{page.page}: {page.problem}" for page in result.unbuildable]
    missing = [f"runbooks/{name}" for name in coverage.missing_runbook_pages] + [
        f"reference/{page} (named by {name})" for name, page in coverage.missing_references
    ]
    for page in result.unbuildable:
        report.finding(
            f"docs:unbuildable:{page.page}",
            f"{page.page} ({page.source}): {page.problem}",
            severity=Severity.FAIL,
        )
    for page in orphans:
        report.finding(f"docs:orphan:{page}", f"{page}: no page of the site links to it")
    status = Status.FAIL if unbuildable or missing else Status.WARN if orphans else Status.OK
    parts = (
        f"MkDocs cannot build the site with {counted(len(unbuildable), 'page')}: "
        + "; ".join(unbuildable[:5])
        + ("; ..." if len(unbuildable) > 5 else "")
        if unbuildable
        else "",
        f"missing: {', '.join(missing)}" if missing else "",
        f"{counted(len(orphans), 'orphan page')}: {', '.join(orphans[:5])}" if orphans else "",
    )
    report.check(
        "documentation-review:pages",
        status,
        value=len(unbuildable) + len(missing) + len(orphans),
        limit=0,
        message="; ".join(part for part in parts if part)
        or "every planned runbook and referenced page is on the site; no orphan page",
    )


def _record_external(result: DocsReview) -> None:
    if result.site is None:
        report.check("documentation-review:external-links", Status.WARN, message=_NOT_BUILT)
        return
    broken = [r for r in result.external if r.state is LinkState.BROKEN]
    unchecked = [r for r in result.external if r.state is LinkState.UNCHECKED]
    for link in broken:
        report.finding(f"docs:external-link:{link.url}", f"{link.url}: {link.detail}")
    status = Status.WARN if broken or unchecked else Status.OK
    report.check(
        "documentation-review:external-links",
        status,
        value=len(broken),
        limit=0,
        message=f"{counted(len(result.external), 'external link')}: {len(broken)} broken, "
        f"{len(unchecked)} unchecked" + (f" ({unchecked[0].detail})" if unchecked else ""),
    )


def _record_commands(result: DocsReview) -> None:
    for problem in result.command_problems:
        report.finding(
            f"docs:command:{problem.command.runbook}:{problem.command.text}",
            f"runbook {problem.command.runbook}: `{problem.command.text}`: {problem.problem}",
        )
    report.check(
        "documentation-review:commands",
        Status.FAIL if result.command_problems else Status.OK,
        value=len(result.command_problems),
        limit=0,
        message="; ".join(
            f"{p.command.runbook}: {p.command.text}: {p.problem}" for p in result.command_problems
        )
        or f"all {len(result.commands)} `upkeep` commands in the runbooks parse",
    )
