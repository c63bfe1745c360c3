"""Responsible for `upkeep incident open|update|ack|pause|resume|resolve|list`: people's
incident events kept as `incident` decisions in the evidence ledger, and the incidents' SLA
clocks computed from them under upkeep.yml's `support:` targets."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import click

from upkeep.cli.console import print_out
from upkeep.cli.options import AUTHOR_ENV, GlobalOptions, author_or_login, reason_text
from upkeep.errors import ConfigError, UpkeepError
from upkeep.plain_text import one_line

author_option = click.option(
    "--author", metavar="NAME", help=f"Who [default: ${AUTHOR_ENV}, else the login name]."
)


@click.group("incident")
def incident_group() -> None:
    """Support incidents and their SLA clocks (upkeep.yml's `support:` section)."""


@incident_group.command("open")
@click.argument("title", required=False)
@click.option("--severity", required=True, help="P1-P4, as upkeep.yml's support.severities.")
@click.option("--from-run", "run_id", metavar="RUN_ID", help="Open it for a failing run.")
@author_option
@click.pass_obj
def open_command(
    options: GlobalOptions, title: str | None, severity: str, run_id: str | None, author: str | None
) -> int:
    """Open an incident (TITLE, or the failing run's runbook and status with --from-run).

    \b
    Example:
      upkeep incident open "checkout returns 502" --severity P1
      upkeep incident open --from-run 20261204T031500Z-backup-7f3a --severity P2
    """
    from upkeep.evidence import EvidenceStore
    from upkeep.records import Status

    config = options.load_config()
    who = author_or_login(author)
    _support(config).severity(severity)
    store = EvidenceStore(config.evidence_dir)
    if run_id is not None:
        entry = next((e for e in store.entries() if e.run_id == run_id), None)
        if entry is None:
            raise UpkeepError(f"--from-run: no run {run_id!r} in the evidence; see `upkeep log`")
        if entry.status.rank < Status.WARN.rank:
            raise UpkeepError(
                f"--from-run: run {run_id} ended {entry.status.word}; expected a failing run"
            )
        title = title or f"{entry.runbook} {entry.status.word} (run {run_id})"
    if not title or not title.strip():
        raise UpkeepError("TITLE: expected what is wrong, got nothing (or give --from-run)")
    title = reason_text(title, "TITLE")  # put on record as a reason is, and held to its rule
    if "\n" in title:
        raise UpkeepError("TITLE: expected one line; keep the details for `incident update`")
    now = datetime.now(UTC)
    incident_id = f"INC-{now:%Y%m%d}-{secrets.token_hex(2)}"
    details = {"event": "open", "severity": severity, "title": title.strip(), "run_id": run_id}
    _record(config, incident_id, who, now, title.strip(), details)
    print_out(f"opened {incident_id} ({severity}): {one_line(title)}")
    _show_clocks(config, incident_id)
    return 0


def _event_command(name: str, help_text: str, with_severity: bool = False):
    @click.argument("incident_id", metavar="INCIDENT")
    @click.option("--reason", "-m", required=True, help="What happened (kept on record).")
    @author_option
    @click.pass_obj
    def command(options: GlobalOptions, incident_id: str, reason: str, author: str | None, **kw):
        config = options.load_config()
        who = author_or_login(author)
        reason = reason_text(reason)
        incident = _find(config, incident_id)
        if not incident.open:
            raise UpkeepError(f"{incident_id} is resolved; expected an open incident")
        if name == "pause" and incident.paused:
            raise UpkeepError(f"{incident_id} is paused already")
        if name == "resume" and not incident.paused:
            raise UpkeepError(f"{incident_id} is not paused; expected a paused incident")
        if not reason.strip():
            raise UpkeepError("--reason: expected what happened, got nothing")
        details: dict[str, str] = {"event": name}
        severity = kw.get("severity")
        if severity:
            _support(config).severity(severity)
            details["severity"] = severity
        _record(config, incident_id, who, datetime.now(UTC), reason.strip(), details)
        print_out(f"{incident_id}: {name} recorded")
        _show_clocks(config, incident_id)
        return 0

    command.__doc__ = help_text
    if with_severity:
        command = click.option("--severity", help="A new severity (P1-P4).")(command)
    incident_group.command(name)(command)


_event_command("update", "Add a note to INCIDENT, or change its severity.", with_severity=True)
_event_command("ack", "Acknowledge INCIDENT: the first response (stops the response clock).")
_event_command("pause", "Pause INCIDENT's SLA clocks (waiting on the customer).")
_event_command("resume", "Resume INCIDENT's SLA clocks.")
_event_command("resolve", "Resolve INCIDENT (stops its clocks).")


@incident_group.command("list")
@click.option("--all", "show_all", is_flag=True, help="Resolved incidents too.")
@click.pass_obj
def list_command(options: GlobalOptions, show_all: bool) -> int:
    """The open incidents (with --all every one) and their SLA clocks."""
    config = options.load_config()
    _support(config)
    incidents = _incidents(config)
    shown = [i for i in incidents.values() if show_all or i.open]
    if not shown:
        print_out("no open incidents")
    for incident in shown:
        _show_clocks(config, incident.id)
    return 0


def _show_clocks(config, incident_id: str) -> None:
    from upkeep.sla.incidents import clocks

    incident = _find(config, incident_id)
    now = datetime.now(UTC)
    state = "resolved" if not incident.open else ("paused" if incident.paused else "open")
    print_out(f"{incident.id} {incident.severity} {state}: {one_line(incident.title)}")
    try:
        incident_clocks = clocks(incident, config.support, now)
    except ConfigError as exc:  # its severity was taken out of support: since it opened
        print_out(f"  clocks not evaluated: {exc}")
        return
    for clock in incident_clocks:
        due = f"{clock.due.astimezone(config.tz):%Y-%m-%d %H:%M %Z}" if clock.due else "none"
        print_out(f"  {clock.target:<10} {clock.state:<8} due {due}  ({clock.used:.0%} used)")


def _support(config):
    if not config.support.configured:
        raise UpkeepError("support: not configured; expected a support: section in upkeep.yml")
    return config.support


def _decisions(config):
    from upkeep.evidence import EvidenceStore

    return [entry.decision for entry in EvidenceStore(config.evidence_dir).decisions()]


def _incidents(config):
    """Every incident by id; UpkeepError when the ledger's incident events do not fit."""
    from upkeep.sla.incidents import follow, incident_events

    try:
        return follow(incident_events(_decisions(config)))
    except ValueError as exc:
        raise UpkeepError(f"incidents: the evidence's incident events do not fit: {exc}") from None


def _find(config, incident_id: str):
    _support(config)
    incidents = _incidents(config)
    if incident_id not in incidents:
        known = ", ".join(i for i, inc in incidents.items() if inc.open) or "none open"
        raise UpkeepError(f"no incident {incident_id!r}; expected one of: {known}")
    return incidents[incident_id]


def _record(config, incident_id, author, at, reason, details) -> None:
    from upkeep.evidence import EvidenceStore
    from upkeep.records import Decision
    from upkeep.sla.incidents import INCIDENT

    EvidenceStore(config.evidence_dir).record_decision(
        Decision(INCIDENT, incident_id, author, at, reason, details)
    )
