"""Responsible for the canary of a SQLite database: the heartbeat table in the database file,
or the configured query, read from the live file or from a restored copy. Reads open the file
read-only and may only read: no ATTACH or VACUUM INTO, which would write other files."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

from upkeep.config.disaster_drill import CANARY_TABLE
from upkeep.drill.canary.interface import KEEP_ROWS, Canary, CanaryError, parse_moment

__all__ = ["SQLiteCanary"]

BUSY_TIMEOUT_S = 30
# What a read may do (sqlite3's authorizer actions); anything else is refused as it is prepared.
_READING = frozenset(
    {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
)
_CREATE = (
    f"CREATE TABLE IF NOT EXISTS {CANARY_TABLE} ("
    "id INTEGER PRIMARY KEY, written_at TEXT NOT NULL, written_by TEXT NOT NULL)"
)


class SQLiteCanary(Canary):
    engine = "sqlite"

    def _path(self, target: str | None) -> Path:
        if target is not None:
            return Path(target)
        assert self.database.path is not None  # the config refuses a sqlite database without one
        return self.database.path

    def _connect(self, target: str | None, *, readonly: bool) -> sqlite3.Connection:
        path = self._path(target)
        if not path.is_file():
            raise CanaryError(f"database {self.database.name!r}: {path} is not a SQLite file")
        uri = f"{path.resolve().as_uri()}?mode={'ro' if readonly else 'rw'}"
        return sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S)

    def _write(self, moment: datetime, by: str) -> None:
        try:
            connection = self._connect(None, readonly=False)
            try:
                with connection:
                    connection.execute(_CREATE)
                    connection.execute(
                        f"INSERT INTO {CANARY_TABLE} (written_at, written_by) VALUES (?, ?)",
                        (moment.isoformat(timespec="microseconds"), by),
                    )
                    connection.execute(
                        f"DELETE FROM {CANARY_TABLE} WHERE id <= "
                        f"(SELECT max(id) FROM {CANARY_TABLE}) - {KEEP_ROWS}"
                    )
            finally:
                connection.close()
        except sqlite3.Error as exc:
            raise CanaryError(
                f"database {self.database.name!r}: cannot write the canary: {exc}"
            ) from None

    def _newest_row(self, target: str | None) -> datetime | None:
        found = self._read(
            f"SELECT max(written_at) FROM {CANARY_TABLE}",
            target,
            table_may_be_missing=True,
        )
        return parse_moment(found, f"database {self.database.name!r}")

    def _query(self, query: str, target: str | None) -> datetime | None:
        return parse_moment(self._read(query, target), f"database {self.database.name!r}")

    def _read(
        self, query: str, target: str | None, *, table_may_be_missing: bool = False
    ) -> object:
        denied: list[int] = []

        def only_reading(action: int, *_: object) -> int:
            if action in _READING:
                return sqlite3.SQLITE_OK
            denied.append(action)
            return sqlite3.SQLITE_DENY

        try:
            connection = self._connect(target, readonly=True)
            connection.set_authorizer(only_reading)
            try:
                if (
                    table_may_be_missing
                    and not connection.execute(
                        "SELECT 1 FROM sqlite_schema WHERE name = ?", (CANARY_TABLE,)
                    ).fetchone()
                ):
                    return None
                row = connection.execute(query).fetchone()
            finally:
                connection.close()
        except sqlite3.Error as exc:
            where = "the restored copy" if target else "the live database"
            why = (
                "canary_query must only read (one SELECT); upkeep opens the database read-only"
                if denied
                else str(exc)
            )
            raise CanaryError(
                f"database {self.database.name!r}: cannot read the canary in {where}: {why}"
            ) from None
        return row[0] if row else None
