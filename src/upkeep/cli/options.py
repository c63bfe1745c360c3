"""Responsible for what several commands read from the command line the same way: the
`upkeep` group's own options, which every command receives, and a time given with `--at`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
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


def parse_at(at: str | None, config: Config) -> datetime:
    """The moment `--at` names, in the config's time zone when it names none; now without it."""
    from upkeep import schedule

    if at is None:
        return datetime.now(config.tz)
    try:
        moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"expected an ISO time such as 2026-12-01T03:00, got {at!r}", param_hint="--at"
        ) from None
    return schedule.localize(moment, config.tz)
