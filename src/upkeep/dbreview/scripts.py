"""Responsible for finding the health scripts of a database and reading their headers: the
shipped `scripts/db-health/<engine>/*.sql` and, from the `database_review.scripts_dir` folder of
the config, `<engine>/*.sql` (every database of that engine) and `<database>/*.sql` (that one
only), a user's script replacing a shipped one of the same file name. A header is the leading
`--` lines; its `Check:`, `Warn:`, `Fail:`, `Unit:` and `Value:` lines say what the script
checks and how its result is graded (`docs/reference/data-schema.md`, "The database review"); a
script whose header says `Not a check:` is a query other code runs, not a check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from upkeep.errors import UpkeepError
from upkeep.records import Status
from upkeep.regular_file import read_regular

__all__ = [
    "VALUE_KINDS",
    "HeaderError",
    "HealthScript",
    "ScriptHeader",
    "health_scripts",
    "parse_header",
]

SHIPPED_FOLDER = "db-health"
# How a script's result becomes the check's value: the number of rows it returned, the largest
# of its `value` column, or the growth in percent of its `value` since the previous review.
VALUE_KINDS = ("rows", "value", "growth")
_FIELD = re.compile(r"^(?P<key>check|warn|fail|unit|value|not a check)\s*:\s*(?P<text>.*)$", re.I)


class HeaderError(UpkeepError):
    """A script's header cannot be read as a check: the message names the line and what is
    expected."""


@dataclass(frozen=True)
class ScriptHeader:
    """What a health script's header says: what it checks and how its value is graded (a value
    at or above `warn` warns, at or above `fail` fails; None is no such limit)."""

    check: str
    warn: float | None = None
    fail: float | None = None
    unit: str = ""
    value: str = "rows"

    def grade(self, value: float) -> Status:
        if self.fail is not None and value >= self.fail:
            return Status.FAIL
        if self.warn is not None and value >= self.warn:
            return Status.WARN
        return Status.OK

    @property
    def limit(self) -> float | None:
        """The limit the value is shown against: the warn limit, else the fail one."""
        return self.warn if self.warn is not None else self.fail


@dataclass(frozen=True)
class HealthScript:
    """One health script file: its check name (the file's stem), where it is, its text, and
    whether upkeep shipped it (else it is a user's own, from `scripts_dir`)."""

    name: str
    path: Path
    text: str
    shipped: bool

    @property
    def header_lines(self) -> list[str]:
        lines = []
        for line in self.text.splitlines():
            if not line.startswith("--"):
                break
            lines.append(line[2:].strip())
        return lines

    @property
    def query(self) -> str:
        """The query without its header comment and its final semicolon."""
        lines = self.text.splitlines()
        start = next((i for i, line in enumerate(lines) if not line.startswith("--")), len(lines))
        return "\n".join(lines[start:]).strip().rstrip(";").strip()


def parse_header(lines: list[str], where: str) -> ScriptHeader | None:
    """The header of a health script (its `--` lines without the dashes), None when it says
    `Not a check:`; HeaderError naming `where` and the line when it cannot be graded."""
    fields: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        match = _FIELD.match(line)
        if match is None:
            continue
        key = match["key"].lower()
        if key in fields:
            raise HeaderError(f"{where}: header line {number}: {key!r} is given twice")
        fields[key] = match["text"].strip()
    if "not a check" in fields:
        return None
    if not fields.get("check"):
        raise HeaderError(
            f"{where}: the header has no `-- Check: <what it checks>` line; expected one, with "
            "`-- Warn: <number>` and/or `-- Fail: <number>` limits"
        )
    warn = _number(fields, "warn", where)
    fail = _number(fields, "fail", where)
    if warn is not None and fail is not None and fail < warn:
        raise HeaderError(f"{where}: header: expected Fail ({fail:g}) >= Warn ({warn:g})")
    value = (fields.get("value", "").split() or ["rows"])[0].lower()
    if value not in VALUE_KINDS:
        raise HeaderError(
            f"{where}: header: Value: expected one of {', '.join(VALUE_KINDS)}, got {value!r}"
        )
    return ScriptHeader(fields["check"], warn, fail, fields.get("unit", ""), value)


def _number(fields: dict[str, str], key: str, where: str) -> float | None:
    text = fields.get(key)
    if text is None:
        return None
    first = text.split()[0] if text.split() else ""
    try:
        return float(first)
    except ValueError:
        raise HeaderError(
            f"{where}: header: {key.capitalize()}: expected a number (then any words), got {text!r}"
        ) from None


def health_scripts(engine: str, database: str, scripts_dir: Path | None) -> list[HealthScript]:
    """The health scripts to run on the database `database` of `engine`, by check name."""
    found: dict[str, HealthScript] = {}
    shipped = files("upkeep").joinpath("scripts", SHIPPED_FOLDER, engine)
    if shipped.is_dir():
        for entry in shipped.iterdir():
            if entry.name.endswith(".sql"):
                path = Path(str(entry))
                found[path.stem] = HealthScript(
                    path.stem, path, entry.read_text("utf-8"), shipped=True
                )
    if scripts_dir is not None:
        for folder in (scripts_dir / engine, scripts_dir / database):
            for path in sorted(folder.glob("*.sql")) if folder.is_dir() else ():
                # read_regular: a FIFO named *.sql would make the review wait for a writer, for good
                text = read_regular(path).decode("utf-8")
                found[path.stem] = HealthScript(path.stem, path, text, shipped=False)
    return [found[name] for name in sorted(found)]
