"""Responsible for the SQL that upkeep runs: files under the project's `scripts/` folder (shipped
inside the package as `upkeep/scripts`), one query per file, opened by a `--` comment header
that says what it checks and its limits.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib.resources import files
from pathlib import PurePosixPath


@dataclass(frozen=True)
class SqlScript:
    """One query file: where it lives, what its header says, and the query itself."""

    name: str  # relative to scripts/, e.g. "db-health/sqlite/orphaned-orders.sql"
    header: str  # the leading `--` comment lines, without the dashes
    text: str  # the whole file, header included: SQL ignores the comment

    @property
    def query(self) -> str:
        """The query without the header comment."""
        lines = self.text.splitlines()
        start = next((i for i, line in enumerate(lines) if not line.startswith("--")), len(lines))
        return "\n".join(lines[start:]).strip()


@functools.cache
def load_sql(name: str) -> SqlScript:
    """The script `scripts/<name>`; ValueError for a name outside scripts/ or not a .sql file,
    FileNotFoundError when there is none."""
    pure = PurePosixPath(name)
    if pure.is_absolute() or ".." in pure.parts or pure.suffix != ".sql":
        raise ValueError(f"{name!r} is not the name of a .sql file under scripts/")
    text = files("upkeep").joinpath("scripts", *pure.parts).read_text(encoding="utf-8")
    header = []
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        header.append(line[2:].strip())
    return SqlScript(name, "\n".join(header).strip(), text)
