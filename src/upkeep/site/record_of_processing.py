"""Responsible for the record of processing page, `record-of-processing.md`: the record of
processing activities (GDPR article 30) as `record-of-processing.yml` holds it: the controller,
each activity with its article-30 fields, the data categories, and per database the tables with
their personal columns and retention rules."""

from __future__ import annotations

from upkeep.config.record_of_processing import Activity, RecordOfProcessing, TableRecord
from upkeep.site.markup import frontmatter, table_cell
from upkeep.site.model import SiteModel

PAGE = "record-of-processing.md"
_NONE = "none"


def record_of_processing_page(model: SiteModel) -> str:
    compliance = model.config.compliance
    record = compliance.record
    lines = [
        frontmatter("Record of processing"),
        "# Record of processing activities\n",
        "The record GDPR article 30 asks for, as `record-of-processing.yml` holds it (policy, "
        "reviewed in git). The yearly *compliance audit* checks it against the data: every "
        "column classified, nothing personal undeclared, nothing kept past its retention.\n",
    ]
    if record.path is None:
        return "\n".join(
            [*lines, f"No record of processing: `{compliance.record_path}` does not exist.\n"]
        )
    lines += [
        f"**Controller:** {table_cell(record.controller)} ({table_cell(record.contact)})  ",
        f"**Data protection officer:** {table_cell(record.dpo or 'not named')}\n",
        "## Processing activities\n",
    ]
    for activity in record.activities:
        lines += _activity_lines(activity, record)
    lines += [
        "## Categories of personal data\n",
        "| Category | Description | Article 9 (special) |",
        "|---|---|---|",
        *(
            f"| {table_cell(c.name)} | {table_cell(c.description)} | {'yes' if c.special else 'no'}"
            " |"
            for c in record.categories
        ),
        "",
        "## Where the data is\n",
    ]
    for database in dict.fromkeys(table.database for table in record.tables):
        lines += _database_lines(database, record.tables_of(database))
    return "\n".join(lines) + "\n"


def _activity_lines(activity: Activity, record: RecordOfProcessing) -> list[str]:
    tables = [t.table for t in record.tables if t.activity == activity.name]
    fields = (
        ("Purposes", activity.purposes),
        ("Lawful basis (art. 6)", (activity.lawful_basis,)),
        ("Data subjects", activity.data_subjects),
        ("Categories of data", activity.categories),
        ("Recipients", activity.recipients),
        ("Transfers to third countries", activity.transfers),
        ("Retention", (activity.retention,)),
        ("Security measures", activity.security_measures),
        ("Tables", tables),
    )
    return [
        f"### {table_cell(activity.title)}\n",
        "| Field | Value |",
        "|---|---|",
        *(f"| {name} | {table_cell(', '.join(values) or _NONE)} |" for name, values in fields),
        "",
    ]


def _database_lines(database: str, tables: tuple[TableRecord, ...]) -> list[str]:
    lines = [
        f"### Database `{database}`\n",
        "| Table | Activity | Personal columns (category) | Retention |",
        "|---|---|---|---|",
    ]
    for table in tables:
        personal = ", ".join(f"{column} ({kind})" for column, kind in table.personal_columns)
        rule = table.retention
        retention = f"{rule.days} days after {rule.column}" if rule else "as the activity says"
        lines.append(
            f"| {table_cell(table.table)} | {table_cell(table.activity)} | "
            f"{table_cell(personal or _NONE)} | {table_cell(retention)} |"
        )
    return [*lines, ""]
