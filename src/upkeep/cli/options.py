"""Responsible for what several commands read from the command line the same way: the
`upkeep` group's own options, which every command receives, and a time given with `--at`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from upkeep.config import Config


@dataclass(frozen=True)
class GlobalOptions:
    """The `upkeep` group's own options: where the config is (`--config`, $UPKEEP_CONFIG)."""

    config_path: str | None

    def load_config(self) -> Config:
        # Loaded by the command that needs it, so that `--help` reads no file.
        from upkeep.config import load_config

        return load_config(self.config_path)


FIRST_YEAR, LAST_YEAR = 1970, 9998


def parse_at(at: str | None, config: Config, option: str = "--at") -> datetime:
    """The moment `--at` (or `option`) names, in the config's time zone when it names none; now
    without it. A moment outside the years 1970-9998, in UTC or in the config's time zone, is
    refused: schedules reckoned from it overflow."""
    from upkeep import schedule

    if at is None:
        return datetime.now(config.tz)
    try:
        moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"expected an ISO time such as 2026-12-01T03:00, got {at!r}", param_hint=option
        ) from None
    try:
        # Checked after the conversion: 9998-12-31T23:59-12:00 is already 9999 in UTC.
        local = schedule.localize(moment, config.tz)
        years = (local.year, local.astimezone(UTC).year)
    except OverflowError:  # the conversion itself left the years datetime can hold
        years = (0,)
    if not all(FIRST_YEAR <= year <= LAST_YEAR for year in years):
        raise click.BadParameter(
            f"expected a time in the years {FIRST_YEAR} to {LAST_YEAR}, got {at!r} (the year "
            f"is checked in UTC and in the configured time zone, {config.tz})",
            param_hint=option,
        )
    return local
