"""A value of the config named by where upkeep.yml holds it, and runbook Markdown filled with
this system's values (`{{ logs.app.path }}`) for its page."""

from __future__ import annotations

from pathlib import Path

import pytest

from upkeep.config import load_config
from upkeep.config.lookup import NotConfigured, UnknownKey, check_key, config_value
from upkeep.site.runbook_pages import fill_placeholders, placeholders

CONFIG = """\
version: 1
defaults: {timeout_s: 60}
services:
  - {name: web, kind: http, url: "http://127.0.0.1:8080/health"}
  - {name: worker, kind: process, process: worker.py, user: www-data}
logs:
  - {name: app, path: logs/app.log}
mounts:
  - {path: /}
databases:
  - {name: orders, engine: postgresql, dbname: orders, password: "env:PGPASSWORD"}
cleanup:
  temp_roots: [{path: /tmp/acme, max_age_days: 3}]
  protect: ["*.keep", ".gitkeep"]
extra:
  disk-report: {top: 5, token: "ghp_0123456789abcdefghijklmnopqrstuvwxyz"}
"""


@pytest.fixture
def config(tmp_path: Path):
    (tmp_path / "upkeep.yml").write_text(CONFIG)
    return load_config(tmp_path / "upkeep.yml")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("logs.app.path", "{root}/logs/app.log"),
        ("logs.0.path", "{root}/logs/app.log"),
        ("services.web.url", "http://127.0.0.1:8080/health"),
        ("services.worker.user", "www-data"),
        ("databases.orders.password", "env:PGPASSWORD"),
        ("cleanup.temp_roots.0.path", "/tmp/acme"),
        ("cleanup.temp_roots.0.max_age_days", "3"),
        ("cleanup.protect", "*.keep .gitkeep"),
        ("thresholds.disk_percent.warn", "80"),
        ("defaults.timeout_s", "60"),
        ("config_file", "{root}/upkeep.yml"),
        ("extra.disk-report.top", "5"),
        ("mounts.0.path", "/"),
    ],
)
def test_a_value_is_named_as_upkeep_yml_holds_it(config, key: str, value: str) -> None:
    assert config_value(config, key) == value.format(root=config.root)


@pytest.mark.parametrize(
    "key",
    ["databases.app.path", "logs.3.path", "services.worker.pid_file", "backup.dir", "extra.x.y"],
)
def test_a_value_this_config_does_not_set_is_not_configured(config, key: str) -> None:
    check_key(key)  # upkeep.yml could hold it
    with pytest.raises(NotConfigured):
        config_value(config, key)


@pytest.mark.parametrize(
    "key",
    [
        "nope",
        "logs.app.colour",
        "mounts.root.path",
        "thresholds.disk_percent",
        "defaults.x",
        "a..b",
    ],
)
def test_a_key_naming_nothing_upkeep_yml_can_hold_is_unknown(config, key: str) -> None:
    with pytest.raises(UnknownKey):
        check_key(key)
    with pytest.raises(UnknownKey):
        config_value(config, key)


def test_runbook_markdown_shows_this_systems_values(config) -> None:
    text = (
        "```sh\ntail -n 50 {{ logs.app.path }}\npsql -d {{databases.orders.dbname}}\n"
        "find {{ cleanup.temp_roots.0.path }} -mtime +{{ cleanup.temp_roots.0.max_age_days }}\n"
        "sqlite3 {{ databases.app.path }}\ndocker ps --format '{{.Names}}' {{ shell_thing }}\n```"
    )
    assert fill_placeholders(text, config) == (
        f"```sh\ntail -n 50 {config.root}/logs/app.log\npsql -d orders\n"
        "find /tmp/acme -mtime +3\n"
        "sqlite3 «not configured: databases.app.path»\n"
        "docker ps --format '{{.Names}}' {{ shell_thing }}\n```"
    )


def test_a_filled_value_is_masked_as_evidence_is(config) -> None:
    filled = fill_placeholders("token: {{ extra.disk-report.token }}", config)
    assert "ghp_0123456789" not in filled and "«" in filled


def test_the_placeholders_of_a_notebook_are_listed() -> None:
    nb = {
        "cells": [
            {"cell_type": "markdown", "source": ["a {{ logs.app.path }}\n", "b {{ x.y }}"]},
            {"cell_type": "code", "source": "print('{{ not.markdown }}')"},
        ]
    }
    assert placeholders(nb) == ["logs.app.path", "x.y"]
