"""upkeep.sql: the SQL kept under the top-level scripts/ folder, read through the package."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.project import REPO

from upkeep.sql import SqlScript, load_sql

ROW_COUNTS = "db-health/postgresql/row-counts.sql"


def test_a_script_is_read_with_its_header_and_its_query() -> None:
    script = load_sql(ROW_COUNTS)
    on_disk = (REPO / "scripts" / ROW_COUNTS).read_text(encoding="utf-8")
    assert isinstance(script, SqlScript) and script.name == ROW_COUNTS
    assert script.text == on_disk  # the wheel's link reaches the top-level folder
    assert script.header.startswith("Exact row counts of every table")
    assert "Limits:" in script.header
    assert not any(line.startswith("--") for line in script.header.splitlines())
    assert script.query.startswith("SELECT coalesce(json_object_agg(")
    assert script.query.endswith(") AS t;")
    assert "--" not in script.query and "Exact row counts" not in script.query
    assert script.text.startswith("-- Exact row counts") and script.query in script.text


def test_the_query_keeps_its_backslashes_as_written() -> None:
    # `pg\_toast%`: a Python string would have needed them doubled; the file holds them once.
    assert r"NOT LIKE 'pg\_toast%'" in load_sql(ROW_COUNTS).query


@pytest.mark.parametrize(
    "name",
    [
        "../pyproject.toml",
        "../scripts/db-health/postgresql/row-counts.sql",
        "db-health/../../README.sql",
        "/etc/passwd.sql",
        str(REPO / "scripts" / ROW_COUNTS),
        "db-health/postgresql/row-counts.txt",
        "db-health/postgresql/row-counts",
        "db-health/postgresql/",
    ],
)
def test_names_outside_scripts_or_not_sql_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="is not the name of a .sql file under scripts/"):
        load_sql(name)


def test_a_missing_script_raises() -> None:
    with pytest.raises(FileNotFoundError):
        load_sql("db-health/postgresql/no-such-check.sql")


def _scripts() -> list[str]:
    root = REPO / "scripts"
    return sorted(str(path.relative_to(root)) for path in root.rglob("*.sql"))


@pytest.mark.parametrize("name", _scripts())
def test_every_script_opens_with_a_header_then_one_query(name: str) -> None:
    script = load_sql(name)
    assert script.header, f"{name}: no `--` header saying what it checks and its limits"
    assert script.query, f"{name}: no query after its header"
    statements = [part for part in script.query.split(";") if part.strip()]
    assert len(statements) == 1, f"{name}: one query per file"


def test_the_scripts_folder_is_reached_through_the_package() -> None:
    link = REPO / "src" / "upkeep" / "scripts"
    assert link.is_symlink() and link.resolve() == (REPO / "scripts").resolve()
    assert Path(ROW_COUNTS) in [Path(name) for name in _scripts()]
