"""Tests for the `compliance:` section of upkeep.yml and the record of processing it names
(upkeep.config.compliance, upkeep.config.record_of_processing): the shipped pair loads; each
mistake stops the load with one message naming the file, the entry and what was expected, and
the CLI exits 2 with nothing run."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from helpers.project import REPO, Project

from upkeep.config import load_config
from upkeep.config.record_of_processing import NOT_PERSONAL
from upkeep.errors import ConfigError

CONFIG = """\
version: 1
state_dir: state
databases:
  - {name: app, engine: sqlite, path: app.db}
"""
RECORD = """\
controller: {name: Shop Ltd, contact: privacy@shop.example}
categories:
  - {name: contact, description: e-mail addresses}
activities:
  - name: orders
    title: Orders
    purposes: [selling]
    lawful_basis: contract
    data_subjects: [customers]
    categories: [contact]
    retention: 10 years
    security_measures: [access by role]
databases:
  app:
    customers:
      activity: orders
      retention: {column: created_at, days: 365}
      columns: {id: not personal, email: contact, created_at: not personal}
"""


def write(tmp_path: Path, record: str | None = RECORD, compliance: str = "") -> Path:
    (tmp_path / "upkeep.yml").write_text(CONFIG + textwrap.dedent(compliance))
    if record is not None:
        (tmp_path / "record-of-processing.yml").write_text(record)
    return tmp_path / "upkeep.yml"


def test_the_shipped_record_and_section_load_and_map_every_demo_table() -> None:
    config = load_config(REPO / "upkeep.yml")
    compliance = config.compliance
    assert compliance.record.path == REPO / "record-of-processing.yml"
    assert {t.table for t in compliance.record.tables_of("app")} >= {
        "customers",
        "support_tickets",
        "newsletter_signups",
        "refunds",
    }
    assert compliance.test_subject is not None
    assert dict(compliance.test_subject.rows) == {
        "app.newsletter_signups": 1,
        "app.support_tickets": 3,
    }


def test_a_record_beside_the_config_is_read_with_its_fields(tmp_path: Path) -> None:
    record = load_config(write(tmp_path)).compliance.record
    [table] = record.tables
    assert (table.database, table.table, table.activity) == ("app", "customers", "orders")
    assert table.personal_columns == (("email", "contact"),)
    assert dict(table.columns)["id"] == NOT_PERSONAL
    assert (table.retention.column, table.retention.days) == ("created_at", 365)
    assert record.activity("orders").lawful_basis == "contract"


def test_no_record_file_is_an_empty_record_for_the_audit_to_report(tmp_path: Path) -> None:
    compliance = load_config(write(tmp_path, record=None)).compliance
    assert compliance.record.path is None
    assert compliance.record_path == tmp_path / "record-of-processing.yml"


def test_a_record_named_in_the_config_must_exist(tmp_path: Path) -> None:
    path = write(tmp_path, compliance="compliance: {record_of_processing: policy/ropa.yml}\n")
    with pytest.raises(ConfigError, match=r"ropa\.yml: compliance\.record_of_processing: no such"):
        load_config(path)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "lawful_basis: contract",
            "lawful_basis: because",
            r"lawful_basis: expected one of consent",
        ),
        (
            "email: contact",
            "email: contakt",
            r"columns\.email: 'contakt' is not a declared category",
        ),
        ("activity: orders", "activity: billing", r"activity: 'billing' is not an activity"),
        # `$` also matches before a final line break: a name that ends in one is no name
        ("  - name: orders\n", '  - name: "orders\\n"\n', r"name: expected a lower-case name"),
        ("  app:\n", "  shop:\n", r"databases\.shop: no database of that name in upkeep\.yml"),
        ("days: 365", "days: 0", r"days: expected an integer >= 1"),
        ("column: created_at", "column: updated_at", r"retention\.column: expected one of the"),
        ("categories: [contact]", "categories: [contact, health]", r"'health' is not declared"),
        ("    security_measures: [access by role]\n", "", r"security_measures: required key"),
        ("controller: {name: Shop Ltd, ", "controller: {", r"controller\.name: required key"),
    ],
)
def test_a_malformed_record_names_the_entry_and_what_was_expected(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    assert old in RECORD
    with pytest.raises(ConfigError, match=message) as raised:
        load_config(write(tmp_path, RECORD.replace(old, new)))
    assert "record-of-processing.yml" in str(raised.value)


def test_a_column_category_outside_its_activity_is_refused(tmp_path: Path) -> None:
    record = RECORD.replace(
        "  - {name: contact, description: e-mail addresses}\n",
        "  - {name: contact, description: e-mail addresses}\n"
        "  - {name: financial, description: IBANs}\n",
    ).replace("email: contact", "email: financial")
    with pytest.raises(ConfigError, match=r"category 'financial' is not among the categories"):
        load_config(write(tmp_path, record))


@pytest.mark.parametrize(
    ("compliance", "message"),
    [
        ("compliance: {sample_rows: 0}\n", r"compliance\.sample_rows: expected an integer >= 1"),
        ("compliance: {statement_timeout_s: 0}\n", r"statement_timeout_s: expected a number"),
        ("compliance: {colour: red}\n", r"compliance\.colour: unknown key"),
        (
            "compliance: {test_subject: {identifier: someone@x.example, rows: {shop.t: 1}}}\n",
            r"test_subject\.rows\.shop\.t: expected database\.table naming a configured database",
        ),
        (
            "compliance: {test_subject: {identifier: someone@x.example}}\n",
            r"test_subject\.rows: required",
        ),
        (
            "compliance: {test_subject: {identifier: ab, rows: {app.t: 1}}}\n",
            r"identifier: expected an identifier of 6 characters or more",
        ),
    ],
)
def test_a_malformed_section_names_the_key(tmp_path: Path, compliance: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, compliance=compliance))


def test_the_cli_exits_2_naming_the_record_entry_and_runs_nothing(tmp_path: Path) -> None:
    write(tmp_path, RECORD.replace("lawful_basis: contract", "lawful_basis: whim"))
    (tmp_path / "runbooks").mkdir()
    result = Project(tmp_path).upkeep("run", "--due")
    assert result.code == 2
    assert "record-of-processing.yml: activities[0].lawful_basis: expected one of" in result.err
    assert not (tmp_path / "evidence").exists()
