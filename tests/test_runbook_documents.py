"""The daily runbooks as documents: each opens with a triage table (check, what it means, first
action, escalate to) whose roles the plan defines with a contact, and which covers every check the
runbook's procedure records; limits come from the config, printed by a one-line cell, never
copied into the prose; no runbook sends the reader to upkeep's private state; committed clean."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from helpers.files import append, make_config
from helpers.project import REPO
from helpers.recorder import Recorder
from helpers.runbook_docs import (
    covers,
    load_notebook,
    markdown_cells,
    on_call_roles,
    triage_rows,
)

from upkeep import demo
from upkeep.config import Cleanup, CleanupRoot, LogRotation, LogSource
from upkeep.procedures import backup, cleaning, health, logrotate

DAILY = ("health-check", "cleaning", "backup")
PLAN = REPO / "docs" / "plan.md"


def _notebook(name: str) -> dict:
    return load_notebook(REPO / "runbooks" / "daily" / f"{name}.ipynb")


@pytest.mark.parametrize("name", DAILY)
def test_a_runbook_opens_with_its_triage_table(name: str) -> None:
    nb = _notebook(name)
    first = nb["cells"][0]
    assert first["cell_type"] == "markdown" and first["source"].startswith("# ")
    headings = re.findall(r"^## (.+)$", first["source"], flags=re.MULTILINE)
    assert headings[:1] == ["Triage"], headings  # before anything else the runbook says
    rows = triage_rows(nb)
    assert len(rows) >= 4
    for row in rows:
        assert all((row.check, row.means, row.action, row.escalate)), row
        assert row.check_patterns, f"names no check: {row.check}"
        assert row.roles, f"escalates to no role: {row}"


def test_every_role_a_runbook_escalates_to_is_an_on_call_role_of_the_plan_with_a_contact() -> None:
    roles = on_call_roles(PLAN.read_text(encoding="utf-8"))
    assert len(roles) >= 5
    for role, contact in roles.items():
        assert "pager" in contact and "@" in contact, (role, contact)
    named = {role for name in DAILY for row in triage_rows(_notebook(name)) for role in row.roles}
    assert named - set(roles) == set(), "roles the plan does not define"
    assert {"ops on-call", "service owner", "platform on-call", "database owner"} <= named


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder()
    for module in (health, cleaning, logrotate, backup):
        monkeypatch.setattr(module, "report", recorder)
    return recorder


def test_the_triage_tables_cover_every_check_the_procedures_record(
    tmp_path: Path, recorded: Recorder
) -> None:
    """The procedures run for real on a small system with things wrong (a service down, a log
    missing, a root missing, a log to rotate, no database), and every check they record has
    its row in its runbook's triage table."""
    config = make_config(
        tmp_path,
        f"""
        services:
          - {{name: down, kind: tcp, host: 127.0.0.1, port: {demo.free_port()}}}
        logs:
          - {{name: app, path: app.log}}
          - {{name: gone, path: gone.log}}
        mounts:
          - {{path: .}}
        databases:
          - {{name: app, engine: sqlite, path: app.db}}
        backup: {{dir: store, mode: incremental}}
        """,
    )
    append(tmp_path / "app.log", "2026-11-16 02:15:00,123 ERROR boom")
    health.record_services(config)
    health.record_logs(config)
    health.record_disks(config)
    health.record_system(config, interval_s=0.05)
    names = {"health-check": set(recorded.checks())}

    recorded.records.clear()
    (tmp_path / "t").mkdir()
    cleanup = Cleanup(
        temp_roots=(CleanupRoot(tmp_path / "t"), CleanupRoot(tmp_path / "missing")),
        cache_roots=(CleanupRoot(tmp_path / "t", max_bytes=1),),
    )
    results = cleaning.clean(cleanup, dry_run=True)
    cleaning.record_cleaning(results)
    cleaning.record_totals(results)
    cleaning.record_totals([])
    rotation = LogRotation(max_bytes=1, method="copytruncate")
    logrotate.record_rotations(
        logrotate.rotate_logs(
            [LogSource("app", tmp_path / "app.log", rotate=rotation)],
            state_dir=config.state_dir,
            dry_run=True,
        )
    )
    names["cleaning"] = set(recorded.checks())

    recorded.records.clear()
    with sqlite3.connect(tmp_path / "app.db") as connection:
        connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    for _ in range(2):
        backup.record_backups(backup.back_up_all(config), config.backup)
    backup.record_backups(backup.BackupRun("store", ()), config.backup)
    names["backup"] = set(recorded.checks())

    for name, checks in names.items():
        rows = triage_rows(_notebook(name))
        assert len(checks) >= 4, (name, checks)
        assert {check for check in checks if not covers(rows, check)} == set(), name


@pytest.mark.parametrize("name", DAILY)
def test_limits_come_from_the_config_not_from_numbers_in_the_prose(name: str) -> None:
    nb = _notebook(name)
    code = [cell["source"] for cell in nb["cells"] if cell["cell_type"] == "code"]
    shown = [
        source for source in code if re.fullmatch(r"print\(limits\.\w+\(config\)\)[^\n]*", source)
    ]
    assert len(shown) == 1, "one one-line cell prints the limits in force"
    prose = "\n".join(markdown_cells(nb))
    assert "shipped:" not in prose
    assert not re.search(r"\d\s*/\s*\d+(\.\d+)?\s*%", prose)  # `85/95 %`
    assert not re.search(r"\b(warn|fail) from \d", prose)


@pytest.mark.parametrize("name", DAILY)
def test_no_runbook_sends_the_reader_to_upkeeps_private_state(name: str) -> None:
    prose = "\n".join(markdown_cells(_notebook(name)))
    for private in ("state_dir", "var/state", "logscan", ".offset"):
        assert private not in prose, private


@pytest.mark.parametrize("name", DAILY)
def test_a_runbook_is_committed_clean(name: str) -> None:
    code = [cell for cell in _notebook(name)["cells"] if cell["cell_type"] == "code"]
    assert all(cell["outputs"] == [] and cell["execution_count"] is None for cell in code)
