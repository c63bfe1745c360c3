"""upkeep.site.drill: the recovery targets from upkeep.yml, and the RPO and RTO each drill
measured, read from real evidence (published through the evidence store), newest first, with a
missed target marked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from helpers.files import make_config

from upkeep.evidence import EvidenceStore
from upkeep.records import RunbookRef, RunRecord, Status
from upkeep.records.results import Metric
from upkeep.registry import discover
from upkeep.site import drill
from upkeep.site.model import load_model

CONFIG = """
evidence_dir: evidence
runbooks_dir: upkeep:shipped
services:
  - {name: web, kind: http, url: "http://127.0.0.1:9/health"}
  - {name: port, kind: tcp, host: 127.0.0.1, port: 9}
databases:
  - {name: app, engine: sqlite, path: app.db}
  - {name: shop, engine: sqlite, path: shop.db}
disaster_drill:
  databases:
    app: {rpo_s: 60, rto_s: 120, canary: table}
    shop: {canary_query: "SELECT max(at) FROM sales"}
  services: {web: {rto_s: 30}}
"""


def _publish(store: EvidenceStore, started: datetime, rpo: float, rto: float) -> None:
    run_id = f"{started:%Y%m%dT%H%M%SZ}-disaster-drill-0001"
    metrics = (
        Metric("drill_rpo_seconds", rpo, "s", {"database": "app"}),
        Metric("drill_rto_seconds", rto, "s", {"service": "web"}),
        Metric("drill_rto_seconds", 1.0, "s", {"database": "app"}),
    )
    record = RunRecord(
        run_id,
        RunbookRef("disaster-drill"),
        Status.OK if rto <= 30 else Status.FAIL,
        started,
        started + timedelta(seconds=9),
        started,
        metrics=metrics,
    )
    store.publish(store.new_staging(run_id), record)


def test_the_targets_table_shows_every_database_and_service_as_configured(
    tmp_path: Path,
) -> None:
    table = drill.recovery_targets(make_config(tmp_path, CONFIG))
    rows = table.splitlines()
    assert rows[2] == (
        "| database <code>app</code> | 60 s | 120 s | heartbeat row in `upkeep_canary` (upkeep"
        " writes it: opted in) |"
    )
    assert rows[3] == (
        "| database <code>shop</code> | - | - | read-only query"
        " <code>SELECT max(at) FROM sales</code> |"
    )
    assert rows[4] == "| service <code>web</code> | - | 30 s | the largest RPO of the databases |"
    assert rows[5].startswith("| service <code>port</code> | - | - |")


def test_the_trend_lists_each_drill_newest_first_and_marks_a_missed_target(
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path, CONFIG)
    assert "No disaster drill has run yet" in drill.drill_trend(
        load_model(config, discover(config.runbooks_dir, config.root)), "reference/x/"
    )
    store = EvidenceStore(config.evidence_dir)
    _publish(store, datetime(2025, 12, 1, 2, 0, tzinfo=UTC), rpo=12.5, rto=45.0)
    _publish(store, datetime(2026, 12, 1, 2, 0, tzinfo=UTC), rpo=0.25, rto=3.5)
    model = load_model(config, discover(config.runbooks_dir, config.root))

    rows = drill.drill_trend(model, "reference/recovery-strategy/").splitlines()

    assert rows[0] == "| drill | status | RPO app | RTO web |"
    assert rows[2].startswith(
        '| <a href="../../runs/2026/12/20261201T020000Z-disaster-drill-0001/">'
    )
    assert rows[2].endswith("| ok | 0.25 s | 3.50 s |")
    assert rows[3].endswith("| fail | 12.50 s | **45.00 s (missed)** |")


def test_a_query_with_stars_is_shown_as_written_not_as_emphasis() -> None:
    # `count(*) ... a*2` inside <code> rendered as count(<em>) FROM t WHERE a</em>2.
    import markdown

    from upkeep.site.markup import table_cell

    query = "SELECT count(*) FROM t WHERE a*2 > 1"
    html = markdown.markdown(
        f"| q |\n|---|\n| <code>{table_cell(query)}</code> |", extensions=["tables"]
    )
    assert "<em>" not in html and "count(&#42;) FROM t WHERE a&#42;2" in html
