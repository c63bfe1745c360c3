"""Responsible for the `compliance:` section of `upkeep.yml` (the yearly compliance audit): where
the record of processing is (`record_of_processing`, default `record-of-processing.yml` beside
`upkeep.yml`, read and checked at load), how many values of a column the audit samples, its
statement timeout, and the synthetic data subject whose planted rows the audit's data-subject
lookup must find (`test_subject`: an identifier and the rows expected per `database.table`)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from upkeep.config.reader import Section
from upkeep.config.record_of_processing import RecordOfProcessing, read_record_of_processing
from upkeep.errors import ConfigError

__all__ = ["Compliance", "TestSubject", "read_compliance"]

DEFAULT_RECORD = "record-of-processing.yml"


@dataclass(frozen=True)
class TestSubject:
    """A synthetic data subject planted in the databases: `identifier` (an e-mail address, say)
    and how many rows hold it in each `database.table`."""

    __test__ = False  # not a pytest test class, whatever its name says

    identifier: str
    rows: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Compliance:
    """The compliance audit's settings and the record of processing they name."""

    record: RecordOfProcessing = field(default_factory=RecordOfProcessing)
    record_path: Path | None = None
    sample_rows: int = 200
    statement_timeout_s: float = 30.0
    test_subject: TestSubject | None = None


def read_compliance(s: Section | None, config_file: Path, databases: Collection[str]) -> Compliance:
    """The section (defaults when absent) and the record it names, read and checked."""
    base = config_file.parent
    if s is None:
        s = Section({}, "compliance", config_file)
    required = "record_of_processing" in s.data
    path = s.path("record_of_processing", base, base / DEFAULT_RECORD)
    sample_rows = s.int("sample_rows", 200, minimum=1)
    timeout_s = s.number("statement_timeout_s", 30.0)
    test_subject = _test_subject(s.section("test_subject"), databases)
    s.done()
    if timeout_s <= 0:
        s.fail("statement_timeout_s", "a number of seconds > 0", timeout_s)
    record = read_record_of_processing(path, databases, required=required)
    return Compliance(record, path, sample_rows, timeout_s, test_subject)


def _test_subject(s: Section | None, databases: Collection[str]) -> TestSubject | None:
    if s is None:
        return None
    identifier = s.str("identifier")
    rows_section = s.section("rows")
    if rows_section is None or not rows_section.data:
        raise ConfigError(
            f"{s.file}: {s.where}.rows: required; expected the rows planted per table, such as "
            "{app.customers: 1}"
        )
    rows = []
    for key in sorted(rows_section.data, key=str):
        database, _, table = str(key).partition(".")
        if not table or database not in databases:
            rows_section.fail(str(key), "database.table naming a configured database", key)
        rows.append((str(key), rows_section.int(str(key), minimum=1)))
    s.done()
    if len(identifier) < 6:
        s.fail(
            "identifier", "an identifier of 6 characters or more (found by substring)", identifier
        )
    return TestSubject(identifier, tuple(rows))
