"""upkeep.config.database_review: the `database_review:` section, read and refused at load."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from upkeep.config import load_config
from upkeep.config.database_review import DatabaseReview, LogicalRelation
from upkeep.errors import ConfigError

BASE = """\
version: 1
databases:
  - {name: app, engine: sqlite, path: app.db}
"""


def load(tmp_path: Path, section: str):
    path = tmp_path / "upkeep.yml"
    path.write_text(BASE + textwrap.dedent(section))
    return load_config(path)


def test_without_the_section_the_defaults_apply(tmp_path: Path) -> None:
    assert load(tmp_path, "").database_review == DatabaseReview()


def test_the_section_is_read_with_its_logical_relations(tmp_path: Path) -> None:
    (tmp_path / "checks").mkdir()
    config = load(
        tmp_path,
        """\
        database_review:
          statement_timeout_s: 5
          sample_keys: 3
          orphans: {warn: 10, fail: 100}
          scripts_dir: checks
          relations:
            - {database: app, from: audit_log.target_id, to: orders.id, on_delete: set null}
            - {database: app, from: sales.orders.coupon, to: sales.coupons.code}
        """,
    )
    review = config.database_review
    assert (review.statement_timeout_s, review.sample_keys) == (5.0, 3)
    assert (review.orphans_warn, review.orphans_fail) == (10, 100)
    assert review.scripts_dir == (tmp_path / "checks").resolve()
    assert review.relations == (
        LogicalRelation("app", None, "audit_log", "target_id", None, "orders", "id", "set null"),
        LogicalRelation("app", "sales", "orders", "coupon", "sales", "coupons", "code"),
    )


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            "relations: [{database: crm, from: a.b, to: c.d}]",
            "database_review.relations[0].database: expected the name of a database under "
            "databases: (app), got 'crm'",
        ),
        (
            "relations: [{database: app, from: orders, to: c.d}]",
            "database_review.relations[0].from: expected table.column or schema.table.column",
        ),
        (
            "relations: [{database: app, from: a.b, to: c.d, on_delete: drop}]",
            "database_review.relations[0].on_delete: expected one of no action, restrict",
        ),
        ("statement_timeout_s: 0", "statement_timeout_s: expected a number of seconds > 0"),
        ("orphans: {warn: 5, fail: 1}", "database_review.orphans: expected fail (1.0) >= warn"),
        ("scripts_dir: nowhere", "database_review.scripts_dir: "),
        ("sample: 3", "database_review.sample: unknown key"),
    ],
)
def test_a_wrong_setting_is_refused_naming_it(tmp_path: Path, section: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, "database_review:\n  " + section + "\n")
    assert message in str(raised.value)
