"""Responsible for the `database_review:` section of `upkeep.yml`: the statement timeout of every
review query, how many sample keys an orphan finding quotes, the warn/fail limits of the orphan
count, a folder of the user's own health scripts, and the logical relations the schema does not
declare (`from: [schema.]table.column`, `to: [schema.]table.column`, an `on_delete` rule for the
proposed cleanup), each naming a configured database."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from upkeep.config.reader import Section
from upkeep.errors import ConfigError
from upkeep.records import Status

__all__ = ["DatabaseReview", "LogicalRelation", "read_database_review"]

ON_DELETE_RULES = ("no action", "restrict", "cascade", "set null", "set default")
_COLUMN = re.compile(r"^(?:(?P<schema>[^.\s]+)\.)?(?P<table>[^.\s]+)\.(?P<column>[^.\s]+)$")


@dataclass(frozen=True)
class LogicalRelation:
    """A relation the schema does not declare: `child_column` of `child_table` holds keys of
    `parent_column` of `parent_table`, in the database called `database`."""

    database: str
    child_schema: str | None
    child_table: str
    child_column: str
    parent_schema: str | None
    parent_table: str
    parent_column: str
    on_delete: str = "no action"


@dataclass(frozen=True)
class DatabaseReview:
    """The weekly database review's settings."""

    statement_timeout_s: float = 30.0
    sample_keys: int = 5
    orphans_warn: float = 1
    orphans_fail: float = 1000
    scripts_dir: Path | None = None
    relations: tuple[LogicalRelation, ...] = ()

    def grade_orphans(self, orphans: int) -> Status:
        if orphans >= self.orphans_fail:
            return Status.FAIL
        return Status.WARN if orphans >= self.orphans_warn else Status.OK


def read_database_review(
    s: Section | None, base: Path, databases: Collection[str]
) -> DatabaseReview:
    if s is None:
        return DatabaseReview()
    timeout_s = s.number("statement_timeout_s", 30.0)
    if timeout_s <= 0:
        s.fail("statement_timeout_s", "a number of seconds > 0", timeout_s)
    orphans = s.section("orphans")
    warn, fail = 1.0, 1000.0
    if orphans is not None:
        warn, fail = orphans.number("warn", warn), orphans.number("fail", fail)
        orphans.done()
        if fail < warn:
            raise ConfigError(f"{s.file}: {orphans.where}: expected fail ({fail}) >= warn ({warn})")
    review = DatabaseReview(
        statement_timeout_s=timeout_s,
        sample_keys=s.int("sample_keys", 5),
        orphans_warn=warn,
        orphans_fail=fail,
        scripts_dir=s.path("scripts_dir", base, None),
        relations=s.items("relations", lambda r: _relation(r, databases)),
    )
    s.done()
    if review.scripts_dir is not None and not review.scripts_dir.is_dir():
        raise ConfigError(
            f"{s.file}: database_review.scripts_dir: {review.scripts_dir} is not a directory; "
            "expected a folder holding <engine>/*.sql or <database name>/*.sql health scripts"
        )
    return review


def _relation(s: Section, databases: Collection[str]) -> LogicalRelation:
    database = s.str("database")
    child = _column(s, "from")
    parent = _column(s, "to")
    on_delete = s.choice("on_delete", ON_DELETE_RULES, "no action")
    s.done()
    if database not in databases:
        names = ", ".join(sorted(databases)) or "(none configured)"
        s.fail("database", f"the name of a database under databases: ({names})", database)
    return LogicalRelation(database, *child, *parent, on_delete=on_delete)


def _column(s: Section, key: str) -> tuple[str | None, str, str]:
    written = s.str(key)
    match = _COLUMN.match(written)
    if match is None:
        s.fail(key, "table.column or schema.table.column", written)
        raise AssertionError  # s.fail raised
    return match["schema"], match["table"], match["column"]
