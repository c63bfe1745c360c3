"""Responsible for the record of processing activities (GDPR article 30), `record-of-processing.yml`
beside `upkeep.yml`: the controller, the data categories, each processing activity with its
article-30 fields, and per configured database, table and column the category it holds (or
`not personal`) and the table's retention rule (a timestamp column and a number of days); read
and checked for form and consistency at load. Whether the real data agrees is for the compliance
audit to say (`upkeep.compliance`)."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, replace
from pathlib import Path

from upkeep.config.reader import Section, parse_document
from upkeep.errors import ConfigError
from upkeep.regular_file import read_regular

__all__ = [
    "LAWFUL_BASES",
    "NOT_PERSONAL",
    "Activity",
    "Category",
    "RecordOfProcessing",
    "RetentionRule",
    "TableRecord",
    "read_record_of_processing",
]

NOT_PERSONAL = "not personal"
# Article 6(1) (a) to (f), as the record spells them.
LAWFUL_BASES = (
    "consent",
    "contract",
    "legal-obligation",
    "vital-interests",
    "public-task",
    "legitimate-interests",
)
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_TABLE = re.compile(r"^(?:[^.]+\.)?[^.]+$")


@dataclass(frozen=True)
class Category:
    """A category of personal data (`contact`, `online-identifiers`); `special` marks the
    article-9 categories (health, beliefs, ...)."""

    name: str
    description: str
    special: bool = False


@dataclass(frozen=True)
class Activity:
    """One processing activity with the fields article 30(1) asks for."""

    name: str
    title: str
    purposes: tuple[str, ...]
    lawful_basis: str
    data_subjects: tuple[str, ...]
    categories: tuple[str, ...]
    recipients: tuple[str, ...]
    transfers: tuple[str, ...]
    retention: str
    security_measures: tuple[str, ...]


@dataclass(frozen=True)
class RetentionRule:
    """Rows whose `column` (a timestamp) is older than `days` are past retention."""

    column: str
    days: int


@dataclass(frozen=True)
class TableRecord:
    """One table of one database: the activity it serves, each column's category (or
    `not personal`) and its retention rule (None: kept as long as the activity needs it)."""

    database: str
    table: str  # `table`, or `schema.table` outside PostgreSQL's public schema
    activity: str
    columns: tuple[tuple[str, str], ...]
    retention: RetentionRule | None = None

    @property
    def personal_columns(self) -> tuple[tuple[str, str], ...]:
        return tuple((column, kind) for column, kind in self.columns if kind != NOT_PERSONAL)


@dataclass(frozen=True)
class RecordOfProcessing:
    """The record as the file holds it (`path` None: there is no record file)."""

    path: Path | None = None
    controller: str = ""
    contact: str = ""
    dpo: str | None = None
    categories: tuple[Category, ...] = ()
    activities: tuple[Activity, ...] = ()
    tables: tuple[TableRecord, ...] = ()

    def tables_of(self, database: str) -> tuple[TableRecord, ...]:
        return tuple(table for table in self.tables if table.database == database)

    def activity(self, name: str) -> Activity:
        return next(activity for activity in self.activities if activity.name == name)


def read_record_of_processing(
    path: Path | None, databases: Collection[str], *, required: bool
) -> RecordOfProcessing:
    """The record in `path`; an empty one (path None) when there is no such file and it is not
    `required`. ConfigError naming the file and the entry for anything malformed or
    inconsistent (a category or activity that is not declared, a database not configured)."""
    if path is None or not path.exists():
        if required:
            raise ConfigError(
                f"{path}: compliance.record_of_processing: no such file; expected the record of "
                "processing (see the shipped record-of-processing.yml)"
            )
        return RecordOfProcessing()
    try:
        raw = read_regular(path)  # a FIFO is refused, not waited on
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the record of processing: {exc.strerror}") from None
    top = Section(parse_document(raw, path), "", path)
    controller = top.section("controller") or Section({}, "controller", path)
    record = RecordOfProcessing(
        path=path,
        controller=controller.name("name"),
        contact=controller.str("contact"),
        dpo=controller.str("dpo", None),
        categories=top.items("categories", _category),
        activities=top.items("activities", _activity),
    )
    controller.done()
    tables = _tables(top.section("databases"), databases)
    top.done()
    _check_consistent(path, record, tables)
    return replace(record, tables=tables)


def _category(s: Section) -> Category:
    category = Category(
        name=_name(s, "name"),
        description=s.str("description"),
        special=s.bool("special", False),
    )
    s.done()
    return category


def _activity(s: Section) -> Activity:
    activity = Activity(
        name=_name(s, "name"),
        title=s.str("title"),
        purposes=_non_empty(s, "purposes"),
        lawful_basis=s.choice("lawful_basis", LAWFUL_BASES),
        data_subjects=_non_empty(s, "data_subjects"),
        categories=_non_empty(s, "categories"),
        recipients=s.strings("recipients", ()),
        transfers=s.strings("transfers", ()),
        retention=s.str("retention"),
        security_measures=_non_empty(s, "security_measures"),
    )
    s.done()
    return activity


def _tables(s: Section | None, databases: Collection[str]) -> tuple[TableRecord, ...]:
    """`databases: {<database>: {<table>: {activity, retention, columns}}}`."""
    if s is None:
        return ()
    tables = []
    for database in list(s.data):
        if database not in databases:
            known = ", ".join(databases) or "(none configured)"
            raise ConfigError(
                f"{s.file}: databases.{database}: no database of that name in upkeep.yml; "
                f"expected one of {known}"
            )
        per_database = s.section(database) or Section({}, f"databases.{database}", s.file)
        for table in list(per_database.data):
            if not isinstance(table, str) or not _TABLE.match(table):
                per_database.fail(str(table), "a table name (or schema.table)", table)
            entry = per_database.section(table) or Section(
                {}, f"databases.{database}.{table}", s.file
            )
            tables.append(_table(entry, database, table))
        per_database.done()
    return tuple(tables)


def _table(s: Section, database: str, table: str) -> TableRecord:
    activity = _name(s, "activity")
    columns_section = s.section("columns")
    if columns_section is None or not columns_section.data:
        raise ConfigError(
            f"{s.file}: {s.where}.columns: required; expected every column of the table with "
            f"its data category or `{NOT_PERSONAL}`"
        )
    columns = []
    for column in list(columns_section.data):
        columns.append((str(column), columns_section.str(str(column))))
    retention = None
    rule = s.section("retention")
    if rule is not None:
        retention = RetentionRule(column=rule.str("column"), days=rule.int("days", minimum=1))
        rule.done()
        if retention.column not in dict(columns):
            rule.fail("column", "one of the table's columns listed under columns", retention.column)
    s.done()
    return TableRecord(database, table, activity, tuple(columns), retention)


def _check_consistent(
    path: Path, record: RecordOfProcessing, tables: tuple[TableRecord, ...]
) -> None:
    categories = {category.name for category in record.categories}
    activities = {activity.name: activity for activity in record.activities}
    for what, names in (
        ("categories", [c.name for c in record.categories]),
        ("activities", list(activities)),
    ):
        if len(set(names)) != len(names):
            raise ConfigError(f"{path}: {what}: a name is used twice; expected unique names")
    for activity in record.activities:
        for category in activity.categories:
            if category not in categories:
                raise ConfigError(
                    f"{path}: activities: {activity.name}: category {category!r} is not declared "
                    f"under categories; expected one of {', '.join(sorted(categories))}"
                )
    for table in tables:
        where = f"{path}: databases.{table.database}.{table.table}"
        if table.activity not in activities:
            raise ConfigError(
                f"{where}.activity: {table.activity!r} is not an activity; expected one of "
                f"{', '.join(activities) or '(none declared)'}"
            )
        allowed = set(activities[table.activity].categories)
        for column, category in table.personal_columns:
            if category not in categories:
                raise ConfigError(
                    f"{where}.columns.{column}: {category!r} is not a declared category; "
                    f"expected one of {', '.join(sorted(categories))} or `{NOT_PERSONAL}`"
                )
            if category not in allowed:
                raise ConfigError(
                    f"{where}.columns.{column}: category {category!r} is not among the "
                    f"categories of activity {table.activity!r} ({', '.join(sorted(allowed))}); "
                    "expected the activity to declare every category its tables hold"
                )


def _name(s: Section, key: str) -> str:
    value = s.str(key)
    if not _NAME.fullmatch(value):
        s.fail(key, "a lower-case name of letters, digits, - and _", value)
    return value


def _non_empty(s: Section, key: str) -> tuple[str, ...]:
    value = s.strings(key)
    if not value:
        s.fail(key, "a non-empty list of strings", value)
    return value
