"""The weekly database review runbook: as a document (triage rows for every check it can
record, the plan's category, committed clean) and end to end through the real CLI, on the demo's
SQLite database and on a real PostgreSQL database."""

# ruff: noqa: F811  (the session fixture is imported, then named by the tests that use it)

from __future__ import annotations

import hashlib
import shutil
import textwrap
from pathlib import Path

import pytest
import yaml
from helpers.pg_cluster import PostgresServer
from helpers.project import REPO, Project
from helpers.recorder import Recorder
from helpers.runbook_docs import covers, load_notebook, on_call_roles, triage_rows

from upkeep.config import load_config
from upkeep.dbreview.scripts import health_scripts, parse_header
from upkeep.procedures import database_review

NOTEBOOK = REPO / "runbooks" / "weekly" / "database-review.ipynb"


def test_the_triage_table_has_a_row_for_every_check_the_review_can_record() -> None:
    rows = triage_rows(load_notebook(NOTEBOOK))
    generic = rows[-1]
    assert generic.check.startswith("`db-health:<database>:<script>`")
    names = ["review:databases", "review:app:connect", "referential:app:coverage"]
    names.append("referential:app:orphans")
    for engine in ("sqlite", "postgresql"):
        for script in health_scripts(engine, "app", None):
            if parse_header(script.header_lines, script.name) is not None:
                names.append(f"db-health:app:{script.name}")
    assert len(names) == 4 + 4 + 13
    # Each shipped script has a row of its own, not only the row for any script that errors.
    assert [name for name in names if not covers(rows[:-1], name)] == []
    roles = on_call_roles((REPO / "docs" / "plan.md").read_text())
    assert {role for row in rows for role in row.roles} <= set(roles)


def test_with_no_database_configured_one_check_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = Recorder()
    monkeypatch.setattr(database_review, "report", recorder)
    (tmp_path / "upkeep.yml").write_text("version: 1\n")
    config = load_config(tmp_path / "upkeep.yml")
    results = database_review.review_databases(config)
    database_review.record_audits(results, config.database_review)
    database_review.record_health(results)
    assert list(recorder.checks()) == ["review:databases"]
    assert recorder.summaries() == [database_review.NOTHING_TO_REVIEW]


def test_it_is_the_plans_weekly_database_review_committed_clean() -> None:
    nb = load_notebook(NOTEBOOK)
    meta = nb["metadata"]["upkeep"]
    tasks = yaml.safe_load((REPO / "docs" / "plan-tasks.yml").read_text())["tasks"]
    task = next(t for t in tasks if "orphaned records" in t["description"])
    assert (meta["cadence"], meta["category"]) == (task["frequency"], task["category"])
    assert meta["destructive"] is False
    code = [cell for cell in nb["cells"] if cell["cell_type"] == "code"]
    assert all(cell["outputs"] == [] and cell["execution_count"] is None for cell in code)


def _project(root: Path, databases: str, extra: str = "") -> Project:
    (root / "runbooks" / "weekly").mkdir(parents=True)
    shutil.copy(NOTEBOOK, root / "runbooks" / "weekly")
    (root / "upkeep.yml").write_text(
        textwrap.dedent("""\
        version: 1
        evidence_dir: evidence
        state_dir: var/state
        demo: {root: var/demo, http_port: 1}
        """)
        + databases
        + extra
    )
    return Project(root)


def _checks(record: dict) -> dict[str, dict]:
    return {c["name"]: c for c in record["checks"]}


@pytest.mark.slow
def test_the_runbook_on_the_demo_finds_its_orphans_and_changes_nothing(tmp_path: Path) -> None:
    project = _project(
        tmp_path, "databases:\n  - {name: app, engine: sqlite, path: var/demo/app.db}\n"
    )
    assert project.upkeep("demo").code == 0
    app_db = tmp_path / "var" / "demo" / "app.db"
    before = hashlib.sha256(app_db.read_bytes()).hexdigest()
    result = project.upkeep("run", "database-review", "--no-demo-service")
    assert result.code == 0, result.text
    (record,) = project.records()
    assert record["status"] == "warn"
    checks = _checks(record)
    assert checks["referential:app:coverage"]["message"] == (
        "5/5 relations checked (5 declared, 0 logical)"
    )
    assert checks["referential:app:orphans"]["value"] == 15
    assert checks["db-health:app:foreign-key-check"]["value"] == 15
    assert checks["db-health:app:integrity-check"]["status"] == "ok"
    findings = {f["key"]: f["message"] for f in record["findings"]}
    assert findings["orphans:app:orders.customer_id"].startswith(
        "12 rows of orders.customer_id name no customers.id"
    )
    assert findings["orphans:app:user_roles.user_id"].startswith("3 rows of user_roles.user_id")
    assert (
        'proposed cleanup (not run): DELETE FROM "orders"'
        in findings["orphans:app:orders.customer_id"]
    )
    assert hashlib.sha256(app_db.read_bytes()).hexdigest() == before
    assert "app: 5/5 relations checked, 15 orphaned rows" in result.text


@pytest.mark.slow
def test_the_runbook_on_real_postgresql(postgres_server: PostgresServer, tmp_path: Path) -> None:
    from test_dbreview_postgresql import new_database

    dbname = new_database(postgres_server)
    server = postgres_server
    project = _project(
        tmp_path,
        textwrap.dedent(f"""\
        databases:
          - name: shop
            engine: postgresql
            host: {server.host}
            port: {server.port}
            dbname: {dbname}
            user: {server.role}
            password: file:{server.password_file}
        """),
        textwrap.dedent("""\
        database_review:
          relations:
            - {database: shop, from: orders.coupon, to: coupons.code, on_delete: set null}
        """),
    )
    result = project.upkeep("run", "database-review", "-p", "databases=shop")
    assert result.code == 1, result.text  # the sequence near its limit fails
    (record,) = project.records()
    checks = _checks(record)
    assert checks["referential:shop:coverage"]["message"] == (
        "3/3 relations checked (2 declared, 1 logical)"
    )
    assert checks["referential:shop:orphans"]["value"] == 8
    assert checks["db-health:shop:sequences-near-max"]["status"] == "fail"
    assert checks["db-health:shop:invalid-indexes"]["status"] == "warn"
    assert checks["db-health:shop:tables-without-primary-key"]["status"] == "warn"
    findings = {f["key"]: f["message"] for f in record["findings"]}
    assert "NOT VALID" in findings["orphans:shop:invoices.order_id"]
    assert findings["orphans:shop:orders.coupon"].startswith("2 rows of orders.coupon")
    for path in project.evidence_files():
        assert server.password.encode() not in path.read_bytes(), path
