"""Responsible for `upkeep backlog list|set`: the improvement backlog as the evidence folds it,
and a person's change to one item (owner, state, due date) kept as a `backlog-change` decision in
the evidence ledger, where `upkeep verify` covers it and the next review reads it."""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from typing import TYPE_CHECKING

import click

from upkeep.cli.console import print_json, print_out, print_table
from upkeep.cli.options import (
    FIRST_YEAR,
    LAST_YEAR,
    GlobalOptions,
    person_name,
    reason_text,
)
from upkeep.errors import UpkeepError

if TYPE_CHECKING:
    from upkeep.config import Config
    from upkeep.review.backlog import BacklogItem

STATES = ("open", "in_progress", "done", "wont_fix")


@click.group("backlog")
def backlog_group() -> None:
    """The improvement backlog: recurring findings, their owner, state and due date."""


@backlog_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON for scripts.")
@click.pass_obj
def backlog_list_command(options: GlobalOptions, as_json: bool) -> int:
    """Every backlog item: active first, overdue first."""
    from upkeep.review.backlog import ordered

    config = options.load_config()
    today = datetime.now(config.tz).date()
    items = ordered(current_backlog(config).values(), today)
    if as_json:
        print_json([_item_json(item, today, config.tz) for item in items])
        return 0
    if not items:
        print_out("the backlog is empty: no finding has recurred yet")
        return 0
    rows = [("id", "state", "runbook", "finding", "seen", "last seen", "owner", "due")]
    for item in items:
        flags = " (overdue)" if item.overdue(today) else ""
        flags += " (reopened)" if item.flagged else ""
        rows.append(
            (
                item.id,
                item.state.word + flags,
                item.runbook,
                item.key,
                str(len(item.occurrences)),
                f"{item.last_seen.astimezone(config.tz):%Y-%m-%d}",
                item.owner or "-",
                str(item.due),
            )
        )
    print_table(rows)
    return 0


@backlog_group.command("set")
@click.argument("item_id", metavar="ITEM")
@click.option("--state", type=click.Choice(STATES), help="The item's new state.")
@click.option("--owner", metavar="NAME", help="Who takes care of it.")
@click.option("--due", metavar="YYYY-MM-DD", help="When it should be done.")
@click.option("--by", "author", required=True, metavar="NAME", help="Who decides (on record).")
@click.option("--reason", required=True, help="Why (kept on record).")
@click.pass_obj
def backlog_set_command(
    options: GlobalOptions,
    item_id: str,
    state: str | None,
    owner: str | None,
    due: str | None,
    author: str,
    reason: str,
) -> int:
    """Change ITEM's state, owner or due date; the change is recorded in the evidence ledger.

    \b
    Example:
      upkeep backlog set BL-1a2b3c4d --state in_progress --owner alice --by bob --reason "planned"
    """
    reason = reason_text(reason)
    return change_item(
        options.load_config(),
        item_id,
        state=state,
        owner=owner,
        due=due,
        author=author,
        reason=reason,
    )


def current_backlog(config: Config) -> dict[str, BacklogItem]:
    from upkeep.evidence import EvidenceStore
    from upkeep.review.backlog import fold_backlog
    from upkeep.review.evidence_pass import read_evidence

    evidence = read_evidence(EvidenceStore(config.evidence_dir))
    return fold_backlog(
        evidence.events, config.maintenance_review, config.quarterly_review.plan_owner
    )


def change_item(
    config: Config,
    item_id: str,
    *,
    state: str | None,
    owner: str | None,
    due: str | None,
    author: str,
    reason: str,
) -> int:
    """Record one `backlog-change` decision; UpkeepError (nothing recorded) for bad input."""
    from upkeep.evidence import EvidenceStore
    from upkeep.records import Decision
    from upkeep.review.backlog import BACKLOG_CHANGE

    details: dict[str, str] = {}
    if state is not None:
        details["state"] = state
    if owner is not None:
        details["owner"] = person_name(owner, "--owner")
    if due is not None:
        details["due"] = _due_date(due).isoformat()
    if not details:
        raise UpkeepError("nothing to change: give --state, --owner or --due")
    author = person_name(author, "--by")
    if not reason.strip():
        raise UpkeepError("--reason: expected a non-empty value, got nothing")
    items = current_backlog(config)
    if item_id not in items:
        known = ", ".join(sorted(items)) or "(the backlog is empty)"
        raise UpkeepError(f"no backlog item {item_id!r}; expected one of {known}")
    decision = Decision(BACKLOG_CHANGE, item_id, author, datetime.now(UTC), reason.strip(), details)
    entry = EvidenceStore(config.evidence_dir).record_decision(decision)
    changes = ", ".join(f"{k} {v}" for k, v in details.items())
    print_out(f"{item_id}: {changes}, by {author}; ledger line {entry.seq}")
    return 0


def _due_date(due: str) -> date:
    """--due as a date in the years `--at` takes: a due date of 1900 or 9999 is a typo, and the
    site and the reviews count days from it."""
    try:
        day = date.fromisoformat(due)
    except ValueError:
        raise UpkeepError(f"--due: expected a date YYYY-MM-DD, got {due!r}") from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise UpkeepError(
            f"--due: expected a date in the years {FIRST_YEAR} to {LAST_YEAR}, got {due!r}"
        )
    return day


def _item_json(item: BacklogItem, today: date, tz: tzinfo) -> dict[str, object]:
    """An item for scripts, its times in the configured zone as `list --json` gives them."""
    return {
        "id": item.id,
        "runbook": item.runbook,
        "key": item.key,
        "message": item.message,
        "state": item.state.value,
        "owner": item.owner,
        "due": item.due.isoformat(),
        "overdue": item.overdue(today),
        "reopened": item.reopened,
        "opened_at": item.opened_at.astimezone(tz).isoformat(),
        "first_seen": item.first_seen.astimezone(tz).isoformat(),
        "last_seen": item.last_seen.astimezone(tz).isoformat(),
        "runs": [o.run_id for o in item.occurrences],
    }
