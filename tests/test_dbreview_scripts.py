"""upkeep.dbreview.scripts: the header parser and the shipped health scripts' headers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers.fifo import without_waiting_on
from helpers.project import REPO

from upkeep.dbreview.scripts import HeaderError, ScriptHeader, health_scripts, parse_header
from upkeep.records import Status


def header(text: str) -> ScriptHeader | None:
    return parse_header([line.strip() for line in text.strip().splitlines()], "x.sql")


def test_a_header_names_the_check_its_limits_unit_and_value() -> None:
    parsed = header("""
        Dead-row share of each table.
        Check: dead-row share of the worst table
        Warn: 20 %
        fail: 50
        Unit: %
        Value: value (the highest share)
        Limits: estimates.
    """)
    assert parsed == ScriptHeader("dead-row share of the worst table", 20, 50, "%", "value")
    assert [parsed.grade(v) for v in (0, 19.9, 20, 49, 50, 99)] == [
        Status.OK,
        Status.OK,
        Status.WARN,
        Status.WARN,
        Status.FAIL,
        Status.FAIL,
    ]
    assert parsed.limit == 20


def test_defaults_count_rows_and_a_fail_limit_alone_grades_too() -> None:
    parsed = header("Check: damaged pages\nFail: 1 problem")
    assert parsed == ScriptHeader("damaged pages", None, 1, "", "rows")
    assert parsed.grade(0) is Status.OK and parsed.grade(1) is Status.FAIL
    assert parsed.limit == 1


def test_not_a_check_is_skipped() -> None:
    assert header("Row counts.\nNot a check: the backups run it.") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Why: nothing", "has no `-- Check: <what it checks>` line"),
        ("Check:", "has no `-- Check:"),
        ("Check: a\nWarn: many", "Warn: expected a number (then any words), got 'many'"),
        ("Check: a\nWarn: 5\nFail: 2", "expected Fail (2) >= Warn (5)"),
        ("Check: a\nValue: median", "Value: expected one of rows, value, growth, got 'median'"),
        ("Check: a\nWarn: 1\nWARN: 2", "header line 3: 'warn' is given twice"),
    ],
)
def test_a_header_that_cannot_be_graded_is_refused_naming_the_file(text: str, message: str) -> None:
    with pytest.raises(HeaderError, match="^x.sql: ") as raised:
        header(text)
    assert message in str(raised.value)


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_every_shipped_script_is_a_check_with_a_why_and_limits_or_says_it_is_not(
    engine: str,
) -> None:
    scripts = health_scripts(engine, "any", None)
    on_disk = sorted(path.stem for path in (REPO / "scripts" / "db-health" / engine).glob("*.sql"))
    assert [script.name for script in scripts] == on_disk
    checks = 0
    for script in scripts:
        parsed = parse_header(script.header_lines, script.name)
        if parsed is None:
            continue
        checks += 1
        assert parsed.warn is not None or parsed.fail is not None, script.name
        text = "\n".join(script.header_lines)
        assert "Why" in text and "Limits:" in text, script.name
        assert not script.query.endswith(";") and ";" not in script.query, script.name
    assert checks == {"sqlite": 4, "postgresql": 13}[engine]


def test_a_users_script_replaces_the_shipped_one_of_the_same_name(tmp_path: Path) -> None:
    (tmp_path / "sqlite").mkdir()
    (tmp_path / "app").mkdir()
    (tmp_path / "sqlite" / "freelist-ratio.sql").write_text("-- Check: mine\n-- Warn: 5\nSELECT 1")
    (tmp_path / "app" / "app-only.sql").write_text("-- Check: app\n-- Warn: 1\nSELECT 1")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "other-only.sql").write_text("-- Check: other\nSELECT 1")
    scripts = {s.name: s for s in health_scripts("sqlite", "app", tmp_path)}
    assert scripts["freelist-ratio"].path == tmp_path / "sqlite" / "freelist-ratio.sql"
    assert "app-only" in scripts and "other-only" not in scripts
    assert "integrity-check" in scripts


def test_a_fifo_among_the_users_scripts_is_refused_without_waiting(tmp_path: Path) -> None:
    """A FIFO named *.sql made the database review wait for a writer for good."""
    (tmp_path / "sqlite").mkdir()
    fifo = tmp_path / "sqlite" / "stuck.sql"
    os.mkfifo(fifo)
    with pytest.raises(OSError) as raised:
        without_waiting_on(fifo, lambda: health_scripts("sqlite", "app", tmp_path))
    assert raised.value.strerror == "not a regular file"
