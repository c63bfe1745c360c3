"""Responsible for `upkeep ack`: a person acknowledges open findings (with a reason), or an
alert that pages, by a run id of its failing streak or its fingerprint (`alert:RUNBOOK`), which
stops its escalation; each decision is kept in the evidence ledger (who, when, why), where
`upkeep verify` covers it and the site shows it. An acknowledged finding is closed until a run
reports it again; an acknowledged alert pages again only once its runbook recovered and fails anew.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from upkeep.cli.console import print_out
from upkeep.cli.options import AUTHOR_ENV, GlobalOptions, author_or_login, reason_text
from upkeep.errors import UpkeepError

if TYPE_CHECKING:
    from upkeep.config import Config


@click.command("ack")
@click.argument("keys", nargs=-1, required=True, metavar="KEY...")
@click.option(
    "--reason",
    default="",
    help="Why it needs nothing more (kept on record; required for findings).",
)
@click.option(
    "--author",
    "--by",
    metavar="NAME",
    help=f"Who decides [default: ${AUTHOR_ENV}, else the login name].",
)
@click.pass_obj
def ack_command(
    options: GlobalOptions, keys: tuple[str, ...], reason: str, author: str | None
) -> int:
    """Acknowledge open findings by KEY (see `upkeep findings`), with a reason on record, or a
    paging alert by a RUN_ID of its failing streak or its FINGERPRINT (alert:RUNBOOK), which
    stops its escalation.

    \b
    Examples:
      upkeep ack log:app:1a2b3c4d --reason "timeouts during the 02:00 upstream deploy"
      upkeep ack 20261204T021500Z-backup-7f3a --by ana
    """
    who = author_or_login(author, "--by")
    reason = reason_text(reason)
    config = options.load_config()
    from upkeep.alerts.ack import acknowledge_alerts, split_alert_keys

    alert_keys, finding_keys = split_alert_keys(config, keys)
    if finding_keys and not reason.strip():
        raise UpkeepError("--reason: expected why the finding needs nothing more, got nothing")
    if finding_keys:  # checked whole before anything is recorded; alert keys were already
        acknowledge(config, finding_keys, reason=reason, author=who)
    for line in acknowledge_alerts(config, alert_keys, reason=reason, author=who):
        print_out(line)
    return 0


def acknowledge(config: Config, keys: tuple[str, ...], *, reason: str, author: str) -> int:
    """Record one acknowledgement per key; UpkeepError (nothing recorded) when a key is not an
    open finding or the reason is empty."""
    from upkeep.evidence import EvidenceStore
    from upkeep.findings import ACKNOWLEDGE, events_in, follow
    from upkeep.records import Decision

    if not reason.strip():
        raise UpkeepError("--reason: expected why the finding needs nothing more, got nothing")
    store = EvidenceStore(config.evidence_dir)
    open_keys = {state.key: state for state in follow(events_in(store)) if state.open}
    unknown = [key for key in dict.fromkeys(keys) if key not in open_keys]
    if unknown:
        raise UpkeepError(
            f"no open finding with key {', '.join(map(repr, unknown))}; "
            "`upkeep findings` lists the open ones"
        )
    for key in dict.fromkeys(keys):
        decision = Decision(ACKNOWLEDGE, key, author, datetime.now(UTC), reason.strip())
        entry = store.record_decision(decision)
        state = open_keys[key]
        print_out(
            f"acknowledged {key} ({state.runbook}, open since "
            f"{state.first_seen.astimezone(config.tz):%Y-%m-%d %H:%M %Z}) as {author}; "
            f"ledger line {entry.seq}"
        )
    return 0
