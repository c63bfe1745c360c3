"""upkeep.config.disaster_drill: the `disaster_drill:` section, read and refused at load (and
`upkeep list` refusing such a config with exit 2, nothing run)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from helpers.project import Project

from upkeep.config import load_config
from upkeep.config.disaster_drill import DisasterDrill, DrillFailover, FailoverProbe
from upkeep.errors import ConfigError

BASE = """\
version: 1
databases:
  - {name: app, engine: sqlite, path: app.db}
  - {name: orders, engine: postgresql, dbname: orders}
services:
  - {name: web, kind: http, url: "http://127.0.0.1:8000/health"}
"""


def load(tmp_path: Path, section: str):
    path = tmp_path / "upkeep.yml"
    path.write_text(BASE + textwrap.dedent(section))
    return load_config(path)


def test_without_the_section_there_are_no_targets_and_no_canary(tmp_path: Path) -> None:
    drill = load(tmp_path, "").disaster_drill
    assert drill == DisasterDrill()
    assert drill.database("app").rpo_s is None and drill.database("app").canary == "none"


def test_targets_canaries_and_a_command_failover_are_read(tmp_path: Path) -> None:
    drill = load(
        tmp_path,
        """\
        disaster_drill:
          databases:
            app: {rto_s: 600, rpo_s: 3600, canary: table}
            orders: {rpo_s: 90, canary_query: "SELECT max(updated_at) FROM orders"}
          services:
            web: {rto_s: 300.5}
          failover:
            kind: command
            database: orders
            command: [/srv/app/serve, --db, "{target}", --port, "{port}"]
            probes: [{name: web, url: "http://127.0.0.1:{port}/health"}]
          healthy_timeout_s: 15
        """,
    ).disaster_drill
    assert drill.database("app").rto_s == 600 and drill.database("app").canary == "table"
    assert drill.database("orders").canary_query == "SELECT max(updated_at) FROM orders"
    assert drill.database("orders").rto_s is None
    assert drill.service("web").rto_s == 300.5
    assert drill.failover == DrillFailover(
        "command",
        "orders",
        ("/srv/app/serve", "--db", "{target}", "--port", "{port}"),
        (FailoverProbe("web", "http://127.0.0.1:{port}/health"),),
    )
    assert drill.healthy_timeout_s == 15


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            "databases: {shop: {rpo_s: 1}}",
            "disaster_drill.databases.shop: no database of that name",
        ),
        ("services: {api: {rto_s: 1}}", "disaster_drill.services.api: no service of that name"),
        (
            "databases: {app: {rpo_s: 0}}",
            "disaster_drill.databases.app.rpo_s: expected a number of seconds above 0",
        ),
        (
            "databases: {app: {rpo_s: soon}}",
            "disaster_drill.databases.app.rpo_s: expected a number",
        ),
        (
            "databases: {app: {canary: always}}",
            "disaster_drill.databases.app.canary: expected one of none, table",
        ),
        (
            "databases: {app: {canary: table, canary_query: 'SELECT 1'}}",
            "give canary: table (upkeep writes its heartbeat row) or canary_query",
        ),
        ("services: {web: {canary: table}}", "disaster_drill.services.web.canary: unknown key"),
        (
            "failover: {kind: demo, database: nope}",
            "disaster_drill.failover.database: expected the name of a database",
        ),
        (
            "failover: {kind: command, database: app}",
            "disaster_drill.failover.command: required for kind command",
        ),
        (
            "failover: {kind: command, database: app, command: [serve]}",
            "disaster_drill.failover.probes: required for kind command",
        ),
        (
            "failover: {kind: demo, database: app, command: [serve]}",
            "kind demo starts the demo's health service itself",
        ),
        (
            "failover: {kind: command, database: app, command: [x], probes: [{name: db, url: 'http://x'}]}",
            "disaster_drill.failover.probes[0].name: expected the name of a service",
        ),
        (
            "failover: {kind: command, database: app, command: [x], probes: [{name: web, url: 'ftp://x'}]}",
            "disaster_drill.failover.probes[0].url: expected an http:// or https:// URL",
        ),
        ("healthy_timeout_s: -1", "disaster_drill.healthy_timeout_s: expected a number >= 0"),
        ("rto_s: 5", "disaster_drill.rto_s: unknown key"),
    ],
)
def test_bad_settings_are_refused_naming_the_key(
    tmp_path: Path, section: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, "disaster_drill:\n" + textwrap.indent(section, "  ") + "\n")
    assert message in str(caught.value)


def test_the_command_line_refuses_a_bad_section_with_exit_2(make_project) -> None:
    project: Project = make_project(BASE + "disaster_drill:\n  databases: {shop: {rpo_s: 60}}\n")
    result = project.upkeep_in_process("list")
    assert result.code == 2
    assert "disaster_drill.databases.shop: no database of that name" in result.text
    assert not project.evidence.exists()
