"""Responsible for the disaster drill on the site: the recovery targets of every database and
service as `upkeep.yml` sets them (`recovery_targets()` on the recovery strategy page), and the
RPO and RTO each drill measured, newest first, read from the evidence (`drill_trend()`)."""

from __future__ import annotations

from upkeep.config import Config
from upkeep.site.markup import escape_html, html_root_for, run_href, table_cell, when
from upkeep.site.model import RunView, SiteModel

__all__ = ["DRILL_RUNBOOK", "drill_trend", "recovery_targets"]

DRILL_RUNBOOK = "disaster-drill"
RPO_METRIC = "drill_rpo_seconds"
RTO_METRIC = "drill_rto_seconds"
TREND_RUNS = 20


def recovery_targets(config: Config) -> str:
    """One row per configured database and service: its RPO and RTO targets, and the canary."""
    drill = config.disaster_drill
    rows = ["| what | RPO target | RTO target | how the RPO is measured |", "|---|---:|---:|---|"]
    for database in config.databases:
        target = drill.database(database.name)
        if target.canary == "table":
            canary = "heartbeat row in `upkeep_canary` (upkeep writes it: opted in)"
        elif target.canary_query:
            canary = f"read-only query <code>{table_cell(target.canary_query)}</code>"
        else:
            canary = "the restored backup's time (no canary)"
        rows.append(
            f"| database <code>{table_cell(database.name)}</code> | {_seconds(target.rpo_s)} | "
            f"{_seconds(target.rto_s)} | {canary} |"
        )
    for service in config.services:
        target = drill.service(service.name)
        rows.append(
            f"| service <code>{table_cell(service.name)}</code> | {_seconds(target.rpo_s)} | "
            f"{_seconds(target.rto_s)} | the largest RPO of the databases |"
        )
    if len(rows) == 2:
        return "*No database or service is configured.*\n"
    return "\n".join(rows) + "\n"


def drill_trend(model: SiteModel, page_url: str) -> str:
    """The measured RPO and RTO of the latest drills, newest first, one column per database
    (RPO) and service (RTO), each cell red when it missed its target."""
    runs = [run for run in model.by_runbook.get(DRILL_RUNBOOK, ()) if run.record is not None]
    runs = runs[:TREND_RUNS]
    if not runs:
        return "*No disaster drill has run yet: `upkeep run disaster-drill`.*\n"
    databases = _labels(runs, RPO_METRIC, "database")
    services = _labels(runs, RTO_METRIC, "service")
    config = model.config.disaster_drill
    head = ["drill", "status"]
    head += [f"RPO {escape_html(name)}" for name in databases]
    head += [f"RTO {escape_html(name)}" for name in services]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * 2 + "---:|" * (len(head) - 2)]
    root = html_root_for(page_url)
    for run in runs:
        # An HTML link: run report pages are written after the build, MkDocs does not know them.
        link = f'<a href="{escape_html(run_href(run, root))}">{when(run.started_at, model)}</a>'
        cells = [link, run.status.value]
        cells += [
            _cell(_value(run, RPO_METRIC, "database", name), config.database(name).rpo_s)
            for name in databases
        ]
        cells += [
            _cell(_value(run, RTO_METRIC, "service", name), config.service(name).rto_s)
            for name in services
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def _labels(runs: list[RunView], metric: str, label: str) -> list[str]:
    found: set[str] = set()
    for run in runs:
        assert run.record is not None
        found |= {
            m.labels[label] for m in run.record.metrics if m.name == metric and label in m.labels
        }
    return sorted(found)


def _value(run: RunView, metric: str, label: str, name: str) -> float | None:
    assert run.record is not None
    return next(
        (m.value for m in run.record.metrics if m.name == metric and m.labels.get(label) == name),
        None,
    )


def _cell(value: float | None, target: float | None) -> str:
    if value is None:
        return "-"
    text = f"{value:.2f} s"
    return f"**{text} (missed)**" if target is not None and value > target else text


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:g} s"
