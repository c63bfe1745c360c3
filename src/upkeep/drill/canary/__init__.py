"""Responsible for the canaries by engine: `canary_for` builds the one a database's engine needs,
each following `interface.Canary` (one module per engine, as the backup engines are)."""

from __future__ import annotations

from upkeep.config import Config, Database
from upkeep.drill.canary.interface import Canary, CanaryError, parse_moment
from upkeep.drill.canary.postgresql import PostgreSQLCanary
from upkeep.drill.canary.sqlite import SQLiteCanary

__all__ = ["Canary", "CanaryError", "canary_for", "parse_moment", "write_canaries"]

CANARIES: dict[str, type[Canary]] = {kind.engine: kind for kind in (SQLiteCanary, PostgreSQLCanary)}


def canary_for(config: Config, database: Database) -> Canary:
    """The canary of `database`, as `disaster_drill.databases` configures it."""
    return CANARIES[database.engine](database, config.disaster_drill.database(database.name))


def write_canaries(config: Config, by: str) -> dict[str, str]:
    """Write a heartbeat into every database that opts in; per database, what happened (the time
    written, or why not). Never raises: a canary that cannot be written must not stop a backup."""
    written: dict[str, str] = {}
    for database in config.databases:
        canary = canary_for(config, database)
        if not canary.writes:
            continue
        try:
            moment = canary.write(by)
        except CanaryError as exc:
            written[database.name] = f"not written: {exc}"
        else:
            local = moment.astimezone(config.tz)
            written[database.name] = f"written at {local:%Y-%m-%d %H:%M:%S %Z}"
    return written
